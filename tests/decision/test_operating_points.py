"""The gate's operating point read on the CV: per-fold thresholds from held-out scores, the stored one checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from textile_defects.crossval.scores import OutOfFold
from textile_defects.decision.detectors import GateScores
from textile_defects.decision.operating_points import at_fold_thresholds, check_stored, operating_points, operating_points_table
from textile_defects.errors import DataError
from textile_defects.gate.held_out import read_held_out_scores, thresholds_for_targets

from tests.helpers.repo import REPO_ROOT

CLASSES = ("non_defect", "hole", "needle")
# Two folds, each with its own stored threshold (target 0.5 of its held-out good scores below).
HELD_OUT = {0: {"a": 1.0, "b": 2.0, "c": 3.0, "e": 4.0}, 1: {"f": 10.0, "g": 20.0, "h": 30.0, "i": 40.0}}
SCORES = {"g1": (0, 2.5), "g2": (0, 3.5), "d1": (0, 3.8), "g3": (1, 25.0), "g4": (1, 45.0), "d2": (1, 35.0)}


def _gate(target: float = 0.5) -> tuple[GateScores, np.ndarray]:
    stored = {fold: thresholds_for_targets(scores, (target,))[target] for fold, scores in HELD_OUT.items()}
    rows = {
        o: {"label": "non_defect" if o.startswith("g") else "hole", "fold": fold, "score": score,
            "threshold": stored[fold], "defective": score > stored[fold]}
        for o, (fold, score) in SCORES.items()
    }  # fmt: skip
    gate = GateScores.from_rows(rows, "non_defect")
    return gate, np.array([SCORES[o][0] for o in gate.order])


def _run(gate: GateScores, defective_by_classifier: set[str]) -> OutOfFold:
    p = np.array([[0.1, 0.8, 0.1] if o in defective_by_classifier else [0.9, 0.05, 0.05] for o in gate.order])
    n = len(gate.order)
    return OutOfFold(model="post_baseline", seed=None, original_ids=gate.order, folds=np.zeros(n, dtype=np.int64),
                     y_true=np.zeros(n, dtype=np.int64), y_pred=p.argmax(axis=1), probabilities=p)


def test_each_target_re_decides_every_fold_at_its_own_threshold() -> None:
    gate, folds = _gate()
    targets = (0.5, 0.75, 1.0)
    per_target = {t: {fold: thresholds_for_targets(scores, targets)[t] for fold, scores in HELD_OUT.items()} for t in targets}
    assert per_target[0.75] == {0: 3.0, 1: 30.0} and per_target[1.0] == {0: 4.0, 1: 40.0}
    decided = at_fold_thresholds(gate, folds, per_target[0.75])
    # Fold 0 at 3.0: g2 (3.5) and d1 (3.8) flagged; fold 1 at 30: g4 (45) and d2 (35) flagged.
    assert dict(zip(decided.order, decided.verdict.tolist(), strict=True)) == {
        "d1": True, "d2": True, "g1": False, "g2": True, "g3": False, "g4": True}  # fmt: skip
    points = operating_points(gate, folds, per_target, {"post_baseline": _run(gate, {"g3"})}, CLASSES, "non_defect", 0.95)
    assert list(points) == ["0.5", "0.75", "1"]
    # A higher target never keeps fewer good photos nor finds more defects, for the gate alone.
    kept = [points[t]["gate"]["specificity"]["successes"] for t in points]
    found = [points[t]["gate"]["defect_recall"]["successes"] for t in points]
    assert kept == [0, 2, 3] and found == [2, 2, 0]
    # The classifier's own false alarm (g3) stays in the rule at every target.
    rule = [points[t]["gate_or_post_baseline"]["specificity"]["successes"] for t in points]
    assert rule == [0, 1, 2] and "defect_found_and_named_right" in points["1"]["gate_or_post_baseline"]
    table = operating_points_table(points)
    assert "| 0.75 | 2/2 / 2/4 |" in table and "gate_or_post_baseline" in table


def test_checkpoints_that_do_not_give_the_stored_thresholds_are_refused() -> None:
    gate, folds = _gate(target=0.5)
    check_stored(gate, folds, {0: 2.0, 1: 20.0}, 0.5)
    with pytest.raises(DataError, match="fold 1: its gate checkpoint gives threshold 30.000000 at target 0.5"):
        check_stored(gate, folds, {0: 2.0, 1: 30.0}, 0.5)


def test_held_out_scores_are_read_from_a_checkpoint_or_refused_with_the_file(tmp_path: Path) -> None:
    good = tmp_path / "gate_fold0.pt"
    torch.save({"description": {"held_out_scores": {"a": 1.5, "b": 2.5}}, "memory_bank": torch.zeros(2, 3)}, good)
    assert read_held_out_scores(good) == {"a": 1.5, "b": 2.5}
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    for path in (tmp_path / "broken.pt", tmp_path / "missing.pt"):
        with pytest.raises(DataError, match=path.name):
            read_held_out_scores(path)


@pytest.mark.parametrize(("targets", "message"), [([0.95, 1.5], "got [0.95, 1.5]; expected a non-empty list"), (None, "targets: missing")])
def test_gate_report_names_bad_targets_before_reading_anything(tmp_path: Path, targets: list[float] | None, message: str) -> None:
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    if targets is None:
        del params["gate"]["report"]["targets"]
    else:
        params["gate"]["report"]["targets"] = targets
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    missing = str(tmp_path / "absent")
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "stages/gate_report.py"), "--params", str(tmp_path / "params.yaml"), "--ingested", missing,
         "--crossval", missing, "--masks", missing, "--metrics", str(tmp_path / "m.json"), "--plots", str(tmp_path / "plots"),
         "--reports", str(tmp_path / "reports"), "--gate-models", missing],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2 and "gate.report" in result.stderr and message in result.stderr, result.stderr
    assert not (tmp_path / "m.json").exists()
