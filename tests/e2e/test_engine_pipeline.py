"""The engine on the tiny configuration: `dvc repro` writes the engine files, predict runs them and agrees with PyTorch."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from textile_defects.engine.files import PROBABILITY_TOLERANCE, SCORE_TOLERANCE

from tests.helpers.repo import run

ENGINE_FILES = ("models/baseline.onnx", "models/post_baseline.onnx", "models/gate.onnx")


def predict_rows(repo: Path, out: str, *options: str) -> tuple[dict[str, dict[str, str]], str]:
    result = run([sys.executable, "-m", "textile_defects.predict", "data/sample/images", "--out", out, *options], repo)
    with (repo / out).open(newline="") as handle:
        return {row["path"]: row for row in csv.DictReader(handle)}, result.stderr


@pytest.fixture(scope="module")
def both_engines(reproduced_tiny_repo: Path) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]], str]:
    """predict on every sample photo of the reproduced tiny repository: by default, and with --engine torch."""
    engine, log = predict_rows(reproduced_tiny_repo, "../engine_default.csv")
    torch_rows, _ = predict_rows(reproduced_tiny_repo, "../engine_torch.csv", "--engine", "torch", "--min-size", "64x36")
    return engine, torch_rows, log


def test_repro_writes_the_engine_files_with_their_sources(reproduced_tiny_repo: Path) -> None:
    for name in ENGINE_FILES:
        assert (reproduced_tiny_repo / name).is_file(), name
    lock = (reproduced_tiny_repo / "dvc.lock").read_text()
    assert "export_engine:" in lock and "models/gate.onnx" in lock


def test_predict_runs_the_engine_by_default_and_says_so(both_engines: tuple) -> None:
    engine, _, log = both_engines
    assert "engine: ONNX Runtime" in log and "models/post_baseline.onnx + models/gate.onnx" in log
    # The default naming (auto): both namers, the pre-registered winner (docs/naming.md), as models/type.npz is there.
    assert "mixed with the classifier's at type weight 0.7" in log
    assert all(row["error"] == "" for row in engine.values())


def test_engine_and_pytorch_agree_on_every_frame_of_the_tiny_configuration(both_engines: tuple) -> None:
    engine, torch_rows, _ = both_engines
    assert engine.keys() == torch_rows.keys() and len(engine) == 15
    classes = [column[2:] for column in next(iter(engine.values())) if column.startswith("p_")]
    worst = {"probability": 0.0, "score": 0.0}
    for name, row in engine.items():
        other = torch_rows[name]
        difference = np.abs(np.array([float(row[f"p_{c}"]) - float(other[f"p_{c}"]) for c in classes])).max()
        worst["probability"] = max(worst["probability"], float(difference))
        threshold = float(row["gate_threshold"])
        worst["score"] = max(worst["score"], abs(float(row["anomaly_score"]) - float(other["anomaly_score"])) / threshold)
        assert [row[c] for c in ("predicted", "defective", "classifier_predicted")] == [
            other[c] for c in ("predicted", "defective", "classifier_predicted")
        ], name
    # CSV cells keep 6 decimals: a difference below 1e-6 reads as at most one unit of the last place.
    assert worst["probability"] <= PROBABILITY_TOLERANCE + 1e-6, json.dumps(worst)
    assert worst["score"] <= SCORE_TOLERANCE + 1e-5, json.dumps(worst)
