"""Two queued experiments trained side by side (``dvc queue start -j 2``) on a clone without ``mlflow.db``.

Both open the main repository's MLflow store at once, and the store does not
exist yet: MLflow creates and migrates it on first use, which fails when two
processes do it together, unless a lock serialises the first opening
(``training.tracking.store_lock``). Each experiment trains one model; their
training states differ (other seeds), so neither waits for the other.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.helpers.repo import copy_of_repo, run, tool_env


def wait_for_queue(repo: Path, env: dict[str, str], timeout_s: float = 600) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = run(["dvc", "queue", "status"], repo, env).stdout
        if "Queued" not in status and "Running" not in status:
            return status
        time.sleep(2)
    pytest.fail(f"queued experiments did not finish in time:\n{status}")


def test_two_experiments_train_at_once_on_a_fresh_tracking_store(reproduced_tiny_repo: Path, tmp_path: Path) -> None:
    repo = copy_of_repo(reproduced_tiny_repo, tmp_path / "repo")
    assert not (repo / "mlflow.db").exists()
    env = tool_env()
    names = ("seed-101", "seed-102")
    for name in names:
        seed = name.removeprefix("seed-")
        run(["dvc", "exp", "run", "--queue", "-n", name, "-S", f"train_baseline.seed={seed}", "train_baseline"], repo, env)
    started = time.perf_counter()
    run(["dvc", "queue", "start", "-j", "2"], repo, env)
    status = wait_for_queue(repo, env)
    print(f"two queued trainings, 2 workers: {time.perf_counter() - started:.0f} s")

    assert status.count("Success") == 2, status
    shown = json.dumps(json.loads(run(["dvc", "exp", "show", "--json"], repo, env).stdout))
    assert all(name in shown for name in names), shown[-2000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("baseline_mobilenet_v3")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(run.data.tags["DVC_EXP_NAME"] for run in runs) == list(names)
    assert all(run.info.status == "FINISHED" for run in runs)
    assert not (repo / ".training-state").exists(), "each run removed its state"
