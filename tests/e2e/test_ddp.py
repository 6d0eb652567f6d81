"""torchrun: two CPU processes (gloo) train one model; only rank 0 writes outputs, the MLflow run and the
training state, and both resume from it after a kill."""

from __future__ import annotations

import copy
import csv
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from textile_defects.models.checkpoint import load_checkpoint

from tests.helpers.repo import REPO_ROOT, tool_env
from tests.helpers.training_data import IMAGE_SIZE, write_train_val


def torchrun(folder: Path, out: Path, uri: str, *fault: str) -> subprocess.CompletedProcess[str]:
    """The post-baseline stage on two CPU processes, on the data and params in ``folder``."""
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *fault,
        str(REPO_ROOT / "stages" / "train.py"), "--params", str(folder / "params.yaml"),
        "--variant", "train_post_baseline", "--train", str(folder / "data" / "train" / "manifest.csv"),
        "--val", str(folder / "data" / "val" / "manifest.csv"),
        "--model", str(out / "model.pt"), "--history", str(out / "history.csv"),
    ]
    return subprocess.run(
        cmd, cwd=folder, env=tool_env({"MLFLOW_TRACKING_URI": uri, "OMP_NUM_THREADS": "1"}),
        capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str], str]:
    """One uninterrupted two-process training: (its folder, the torchrun result, its MLflow store)."""
    folder = tmp_path_factory.mktemp("ddp")
    write_train_val(folder / "data")
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params.update(encoder="squeezenet1", weights="none")
    section = copy.deepcopy(params["train_post_baseline"])
    section.update(image_size=list(IMAGE_SIZE), input_size=32, batch_size=4, epochs=2, unfreeze_epoch=1, tracking=True)
    params["train_post_baseline"] = section
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    return folder, torchrun(folder, folder / "out", uri), uri


def test_two_processes_train_together_and_write_outputs_once(ddp_run: tuple[Path, subprocess.CompletedProcess[str], str]) -> None:
    folder, result, uri = ddp_run
    out = folder / "out"
    assert result.returncode == 0, result.stderr[-4000:]

    assert sorted(path.name for path in out.iterdir()) == ["history.csv", "model.pt"], "no stray temporary files"
    with open(out / "history.csv", newline="") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["1", "2"]
    _, meta = load_checkpoint(out / "model.pt")
    assert meta["extra"]["epochs_run"] == 2
    assert result.stderr.count("epoch 2: train loss") == 1, "epochs are logged by rank 0 only"

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("post_baseline_squeezenet1")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.tags["world_size"] == "2"


def test_killed_processes_resume_from_rank_0s_state_to_the_same_bytes(
    ddp_run: tuple[Path, subprocess.CompletedProcess[str], str], tmp_path: Path
) -> None:
    folder, result, _ = ddp_run
    assert result.returncode == 0, result.stderr[-4000:]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = folder / "resumed"
    # Both ranks SIGKILLed one batch into epoch 2 (their script is the stage under tests/helpers/faults.py).
    fault = [str(REPO_ROOT / "tests" / "helpers" / "faults.py"), "--kill-at", "epoch 2 train"]
    killed = torchrun(folder, out, uri, *fault)
    assert killed.returncode != 0 and not (out / "model.pt").exists()

    resumed = torchrun(folder, out, uri)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert resumed.stderr.count("after epoch 1 of 2") >= 1 and "epoch 1: train loss" not in resumed.stderr
    for name in ("model.pt", "history.csv"):
        assert (out / name).read_bytes() == (folder / "out" / name).read_bytes(), name
    assert not (folder / ".training-state").exists()
