"""End to end: the real ``dvc repro`` on a tiny configuration, then the team's daily workflow.

One tiny repository is reproduced once per module (it is the slow part) and
committed; the tests then check what a teammate relies on: every output is
there, a second repro does nothing, metrics and params diffs work between
commits. Queued experiments logging to the main repository's MLflow are
tests/e2e/test_parallel_experiments.py's (two at once, on a fresh store).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.helpers.repo import copy_of_repo, run


EXPECTED_OUTPUTS = (
    "data/sample/images",
    "data/sample/masks",
    "reports/sample/contact_sheet.png",
    "data/ingested/manifest.csv",
    "data/ingested/report.json",
    "data/split/train/manifest.csv",
    "data/split/val/manifest.csv",
    "data/augmented/train/manifest.csv",
    "data/augmented/val/manifest.csv",
    "data/augmented/test/manifest.csv",
    "models/baseline.pt",
    "models/post_baseline.pt",
    "reports/train/baseline_history.csv",
    "reports/train/post_baseline_history.csv",
    "metrics/baseline.json",
    "metrics/post_baseline.json",
    "metrics/history/baseline.csv",
    "metrics/history/post_baseline.csv",
)


@pytest.fixture(scope="module")
def reproduced(reproduced_tiny_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny repository after ``dvc repro``, with dvc.lock and metrics committed (this module's copy)."""
    return copy_of_repo(reproduced_tiny_repo, tmp_path_factory.mktemp("e2e") / "repo")


def test_repro_writes_every_stage_output(reproduced: Path) -> None:
    missing = [name for name in EXPECTED_OUTPUTS if not (reproduced / name).exists()]
    assert not missing, f"dvc repro did not write {missing}"
    lock = yaml.safe_load((reproduced / "dvc.lock").read_text())
    assert set(lock["stages"]) >= {
        "sample", "ingest", "split", "augment_train", "augment_val", "augment_test",
        "train_baseline", "train_post_baseline", "evaluate",
    }
    metrics = json.loads((reproduced / "metrics/post_baseline.json").read_text())
    assert "val_originals" in json.dumps(metrics)


def test_second_repro_is_a_no_op_and_leaves_the_lock_unchanged(reproduced: Path) -> None:
    lock_before = (reproduced / "dvc.lock").read_bytes()
    result = run(["dvc", "repro"], reproduced)
    assert "Data and pipelines are up to date." in result.stdout
    assert (reproduced / "dvc.lock").read_bytes() == lock_before
    status = run(["dvc", "status"], reproduced)
    assert "up to date" in status.stdout.lower()


def test_python_bytecode_next_to_the_code_changes_no_stage(reproduced: Path) -> None:
    """Importing the package (pytest, a notebook) writes __pycache__; a clone has none. Neither may count."""
    stray = reproduced / "src" / "textile_defects" / "utils" / "__pycache__" / "stray.cpython-311.pyc"
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"bytecode")
    try:
        status = run(["dvc", "status"], reproduced)
        assert "Data and pipelines are up to date." in status.stdout, status.stdout
    finally:
        stray.unlink()


def test_metrics_and_params_diff_between_two_commits(reproduced: Path) -> None:
    params_path = reproduced / "params.yaml"
    original = params_path.read_text()
    try:
        params = yaml.safe_load(original)
        params["train_post_baseline"]["seed"] = int(params["train_post_baseline"]["seed"]) + 1
        params_path.write_text(yaml.safe_dump(params, sort_keys=False))
        # Only what the figures need: the post-baseline and evaluate (not its engine export, nor the naming it feeds).
        run(["dvc", "repro", "evaluate"], reproduced)
        run(["git", "commit", "-q", "-am", "another post-baseline seed"], reproduced)

        params_diff = json.loads(run(["dvc", "params", "diff", "HEAD~1", "--json"], reproduced).stdout)
        changed = params_diff["params.yaml"]
        assert "train_post_baseline.seed" in changed
        assert changed["train_post_baseline.seed"]["new"] == changed["train_post_baseline.seed"]["old"] + 1

        metrics_diff = json.loads(run(["dvc", "metrics", "diff", "HEAD~1", "--all", "--json"], reproduced).stdout)
        assert "metrics/post_baseline.json" in metrics_diff
        assert metrics_diff["metrics/post_baseline.json"], "metrics diff lists the post-baseline figures"
        # The baseline did not re-train: its metrics are the same in both commits.
        baseline = metrics_diff.get("metrics/baseline.json", {})
        assert all(entry.get("diff", 0) in (0, None) for entry in baseline.values())
    finally:
        run(["git", "reset", "-q", "--hard", "HEAD~1"], reproduced, check=False)
        run(["dvc", "checkout", "-q"], reproduced, check=False)
