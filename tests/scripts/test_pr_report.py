"""scripts/pr_report.py: dvc metrics diff plus the CV tables, with DVC and git replaced by fixtures."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from textile_defects.crossval.figures import crossval_report
from textile_defects.crossval.scores import OutOfFold

from tests.helpers.repo import REPO_ROOT

_spec = importlib.util.spec_from_file_location("pr_report", REPO_ROOT / "scripts" / "pr_report.py")
assert _spec is not None and _spec.loader is not None
pr_report = importlib.util.module_from_spec(_spec)
sys.modules["pr_report"] = pr_report
_spec.loader.exec_module(pr_report)

CLASSES = ("non_defect", "hole", "lycra_cut", "needle", "twoply")
LABELS = np.array([0] * 30 + [1] * 8 + [2] * 8 + [3] * 8 + [4] * 8)
DIFF_MD = "| Path | Metric | HEAD | workspace | Change |\n|---|---|---|---|---|\n| metrics/crossval.json | post_baseline.f1_macro.mean | 0.70 | 0.72 | 0.02 |\n"


def _crossval(accuracies: dict[str, float], seed: int) -> dict[str, Any]:
    pooled = {}
    for offset, (model, accuracy) in enumerate(accuracies.items()):
        runs = []
        for run_seed in (0, 1):
            rng = np.random.default_rng([seed, offset, run_seed])
            predicted = np.where(rng.random(len(LABELS)) < accuracy, LABELS, rng.integers(0, 5, len(LABELS)))
            ids = tuple(f"o{i:02d}" for i in range(len(LABELS)))
            runs.append(OutOfFold(model, run_seed, ids, np.arange(len(LABELS)) % 5, LABELS, predicted, np.eye(5)[predicted]))
        pooled[model] = runs
    return json.loads(json.dumps(crossval_report(pooled, CLASSES, "non_defect", 0.95, 200, 0)))


BASE = _crossval({"baseline": 0.4, "post_baseline": 0.7}, seed=1)
CURRENT = _crossval({"baseline": 0.95, "post_baseline": 0.72}, seed=2)


def test_report_has_the_diff_the_cv_table_and_the_change_against_base() -> None:
    report = pr_report.render_report(DIFF_MD, CURRENT, BASE, "main")
    assert "## Metrics changed against `main`" in report and DIFF_MD.strip() in report
    assert "## Cross-validation (this branch)" in report and "| model | F1 macro [CI] |" in report
    rows = {tuple(cell.strip() for cell in line.strip("|").split("|")[:2]): line
            for line in report.splitlines() if line.startswith("| baseline |") or line.startswith("| post_baseline |")}
    # A big improvement is beyond noise; a small one (0.70 -> 0.72 accuracy) is within it.
    assert "higher" in rows[("baseline", "F1 macro")] and rows[("baseline", "F1 macro")].count("[") == 2
    assert rows[("post_baseline", "F1 macro")].endswith("within noise |")
    new, old = CURRENT["post_baseline"]["f1_macro"]["mean"], BASE["post_baseline"]["f1_macro"]["mean"]
    assert f"{new - old:+.3f}, within noise" in rows[("post_baseline", "F1 macro")]


def test_report_says_what_is_missing() -> None:
    assert "nothing to compare with" in pr_report.render_report("", CURRENT, None, "main")
    report = pr_report.render_report("", None, None, "main")
    assert "No metric changed." in report and "run `dvc repro crossval/dvc.yaml`" in report
    only_new = pr_report.change_table({**CURRENT, "probe": CURRENT["baseline"]}, BASE)
    assert "| probe | F1 macro | — |" in only_new and only_new.rstrip().endswith("| new |")


def test_cli_runs_dvc_and_git_and_writes_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        if command[:2] == ["git", "show"]:
            return subprocess.CompletedProcess(command, 0, json.dumps(BASE), "")
        return subprocess.CompletedProcess(command, 0, DIFF_MD, "")

    monkeypatch.setattr(pr_report.subprocess, "run", fake_run)
    current = tmp_path / "crossval.json"
    current.write_text(json.dumps(CURRENT))
    out = tmp_path / "pr.md"
    assert pr_report.main(["--base", "origin/main", "--crossval", str(current), "--out", str(out)]) == 0
    assert calls[0][1:] == ["-m", "dvc", "metrics", "diff", "--md", "origin/main"]
    assert calls[1] == ["git", "show", "origin/main:metrics/crossval.json"]
    text = out.read_text()
    assert "## Cross-validation against `origin/main`" in text and "within noise" in text


def test_cli_stops_with_dvcs_message_when_dvc_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)  # not a DVC repository: the real dvc fails
    assert pr_report.main([]) == 2
    assert "`dvc metrics diff --md main` failed" in caplog.text
    assert "Run this script at the root of the DVC repository" in caplog.text
