"""The gate's CV score files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from textile_defects.errors import DataError
from textile_defects.gate.report import gate_scores_csv, read_gate_scores


def test_gate_scores_round_trip_and_are_checked_against_the_plan(tmp_path: Path) -> None:
    rows = [{"original_id": "b", "label": "hole"}, {"original_id": "a", "label": "non_defect"}]
    text = gate_scores_csv(1, rows, np.array([3.0, 1.0]), threshold=2.0)
    assert text.splitlines() == [
        "original_id,label,fold,anomaly_score,threshold,defective",
        "a,non_defect,1,1.000000,2.000000,no",
        "b,hole,1,3.000000,2.000000,yes",
    ]
    path = tmp_path / "gate_fold1.csv"
    path.write_text(text)
    scores = read_gate_scores([path], {"a": ("non_defect", 1), "b": ("hole", 1)})
    assert scores["b"]["defective"] and not scores["a"]["defective"] and scores["a"]["score"] == 1.0
    with pytest.raises(DataError, match="fold plan"):
        read_gate_scores([path], {"a": ("non_defect", 0), "b": ("hole", 1), "c": ("hole", 1)})

