"""MLflow: a training run is queryable through the MLflow client with its params, metrics and model."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from textile_defects.training import tracking
from textile_defects.training.config import TrainConfig
from textile_defects.training.trainer import TrainJob, train

from tests.helpers.repo import tool_env
from tests.helpers.training_data import CLASSES, section, write_train_val


def test_a_training_run_logs_params_per_epoch_metrics_tags_and_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # MLflow puts a custom store's artifacts under ./mlruns
    monkeypatch.setenv("DVC_EXP_NAME", "tidy-pony")
    train_manifest, val_manifest = write_train_val(tmp_path / "data")
    job = TrainJob(
        variant="train_baseline",
        config=TrainConfig.from_section(section("train_baseline", tracking=True), "train_baseline", "squeezenet1"),
        weights="none",
        classes=CLASSES,
        good_class="non_defect",
        train_manifest=train_manifest,
        val_manifest=val_manifest,
        model_path=tmp_path / "out" / "baseline.pt",
        history_path=tmp_path / "out" / "history.csv",
    )
    train(job)

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("baseline_squeezenet1")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["encoder"] == "squeezenet1" and params["weights"] == "none"
    assert params["train_baseline.loss"] == "ce" and params["train_baseline.epochs"] == "2"
    assert params["class_counts.non_defect"] == "6" and params["class_counts.hole"] == "1"
    assert run.data.tags["DVC_EXP_NAME"] == "tidy-pony" and run.info.run_name == "tidy-pony" and run.data.tags["variant"] == "train_baseline"
    assert run.data.tags["mlflow.source.git.commit"]
    for metric in ("val_f1_macro", "train_loss", "val_f1_weighted", "lr"):
        assert [m.step for m in client.get_metric_history(run.info.run_id, metric)] == [1, 2]
    logged = {item.path for item in client.list_artifacts(run.info.run_id, "model")}
    assert logged == {"model/baseline.pt"}


def test_default_store_is_the_repository_root_named_by_dvc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    root = tracking.repo_root()
    assert root == tmp_path.resolve()
    assert tracking.tracking_uri(root) == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert tracking.tracking_uri(root) == "http://mlflow.example:5000"


def test_git_commit_is_unknown_outside_a_repository(tmp_path: Path) -> None:
    assert tracking.git_commit(tmp_path) == "unknown"


def test_nested_params_flatten_to_dotted_names() -> None:
    assert tracking.flatten({"a": 1, "b": {"c": [2, 3], "d": {"e": None}}}) == {"a": "1", "b.c": "[2, 3]", "b.d.e": "None"}


def test_a_queued_experiment_copy_logs_into_the_main_repository(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    copy = tmp_path / "main" / ".dvc" / "tmp" / "exps" / "tmpab12cd"
    copy.mkdir(parents=True)
    monkeypatch.setenv("DVC_ROOT", str(copy))
    assert tracking.repo_root() == (tmp_path / "main").resolve()
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "main"))
    assert tracking.repo_root() == (tmp_path / "main").resolve()


RACER = """
import sys, time
from pathlib import Path
import mlflow.tracking  # imported before the start line, so that the racers reach the store together
from textile_defects.training.tracking import mlflow_run
go = Path(sys.argv[1])
Path(f"{go}.ready-{sys.argv[2]}").touch()
while not go.exists():
    time.sleep(0.005)
with mlflow_run("race", {"racer": sys.argv[2]}, {}, run_name=None, enabled=True) as tracker:
    tracker.log_metrics({"loss": 1.0}, step=1)
"""


def test_processes_opening_a_store_that_does_not_exist_yet_all_succeed(tmp_path: Path) -> None:
    """What ``dvc queue start -j 2`` does on a fresh clone: MLflow creates and migrates the store on first use."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    go = tmp_path / "go"
    env = tool_env({"MLFLOW_TRACKING_URI": uri})
    racers = [
        subprocess.Popen([sys.executable, "-c", RACER, str(go), str(index)], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
        for index in range(2)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.ready-*"))) < len(racers) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    failures = [racer.communicate(timeout=120)[1] for racer in racers if racer.wait(timeout=120) != 0]
    assert not failures, failures[0][-3000:]
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("race").experiment_id])
    assert sorted(run.data.params["racer"] for run in runs) == ["0", "1"]
