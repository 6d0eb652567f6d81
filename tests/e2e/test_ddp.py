"""torchrun: two CPU processes (gloo) train one model; only rank 0 writes outputs and the MLflow run."""

from __future__ import annotations

import copy
import csv
import subprocess
import sys
from pathlib import Path

import yaml
from mlflow.tracking import MlflowClient

from textile_defects.models.checkpoint import load_checkpoint

from tests.helpers.repo import REPO_ROOT, tool_env
from tests.helpers.training_data import IMAGE_SIZE, write_train_val


def test_two_processes_train_together_and_write_outputs_once(tmp_path: Path) -> None:
    train_manifest, val_manifest = write_train_val(tmp_path / "data")
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params.update(encoder="squeezenet1", weights="none")
    section = copy.deepcopy(params["train_post_baseline"])
    section.update(image_size=list(IMAGE_SIZE), input_size=32, batch_size=4, epochs=2, unfreeze_epoch=1, tracking=True)
    params["train_post_baseline"] = section
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        str(REPO_ROOT / "stages" / "train.py"), "--params", str(tmp_path / "params.yaml"),
        "--variant", "train_post_baseline", "--train", str(train_manifest), "--val", str(val_manifest),
        "--model", str(out / "model.pt"), "--history", str(out / "history.csv"),
    ]
    result = subprocess.run(
        cmd, cwd=tmp_path, env=tool_env({"MLFLOW_TRACKING_URI": uri, "OMP_NUM_THREADS": "1"}),
        capture_output=True, text=True, timeout=300,
    )
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
