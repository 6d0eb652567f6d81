"""A training stage SIGKILLed mid-epoch, re-run, writes the bytes of a run never interrupted.

The kill is a real SIGKILL (no handler runs: an OOM kill, a preempted node)
inside epoch 3 of 4, injected by ``tests/helpers/faults.py`` into the stage
script DVC runs. The re-run resumes from the state after epoch 2, continues
the same MLflow run, and leaves no state behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml
from mlflow.tracking import MlflowClient

from tests.helpers.repo import REPO_ROOT, tiny_params, tool_env
from tests.helpers.training_data import IMAGE_SIZE, write_train_val

FAULTS = REPO_ROOT / "tests" / "helpers" / "faults.py"
STAGE = REPO_ROOT / "stages" / "train.py"


def stage_args(folder: Path, data: Path, params: Path) -> list[str]:
    return [
        "--params", str(params), "--variant", "train_post_baseline",
        "--train", str(data / "train" / "manifest.csv"), "--val", str(data / "val" / "manifest.csv"),
        "--model", str(folder / "model.pt"), "--history", str(folder / "history.csv"),
    ]


def test_a_sigkilled_training_resumes_from_its_last_epoch_to_the_same_bytes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_train_val(data)
    params = tiny_params(yaml.safe_load((REPO_ROOT / "params.yaml").read_text()))
    # The tiny post-baseline, two epochs longer: frozen for two, then fine-tuned for two.
    params["train_post_baseline"].update(image_size=list(IMAGE_SIZE), epochs=4, unfreeze_epoch=2)
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = tool_env({"MLFLOW_TRACKING_URI": uri, "OMP_NUM_THREADS": "1"})

    def stage(folder: str, *fault: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, *fault, str(STAGE), *stage_args(tmp_path / folder, data, params_file)]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    started = time.perf_counter()
    whole = stage("whole")
    whole_seconds = time.perf_counter() - started
    assert whole.returncode == 0, whole.stderr[-3000:]

    killed = stage("resumed", str(FAULTS), "--kill-at", "epoch 3 train", "--after-batches", "1")
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert not (tmp_path / "resumed" / "model.pt").exists()
    (described,) = (tmp_path / ".training-state").rglob("*.json")
    assert json.loads(described.read_text())["epoch"] == 2

    started = time.perf_counter()
    resumed = stage("resumed")
    resumed_seconds = time.perf_counter() - started
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "after epoch 2 of 4" in resumed.stderr and "epoch 1: train loss" not in resumed.stderr
    for name in ("model.pt", "history.csv"):
        assert (tmp_path / "resumed" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    assert not (tmp_path / ".training-state").exists(), "removed once the outputs are written"
    print(f"uninterrupted {whole_seconds:.1f} s, resumed after the kill {resumed_seconds:.1f} s")

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(f"post_baseline_{params['encoder']}")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2, "the re-run continues the killed run instead of starting a third"
    for run in runs:
        assert run.info.status == "FINISHED"
        assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "val_f1_macro")) == [1, 2, 3, 4]
