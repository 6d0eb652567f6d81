"""Gate-then-classifier: the rule, and predict with an anomaly gate and heatmaps."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from textile_defects.decision.two_stage import two_stage_labels
from textile_defects.predict import main, predict

from tests.helpers.evaluation import tiny_checkpoint
from tests.helpers.gate import tiny_gate_and_photos
from tests.helpers.repo import TINY_PARAMS

# The tiny configuration's frames are below ingest's default minimum (224x224), which predict applies;
# its own minimum (params ingest.min_width x min_height of the tiny repository) is passed, as its export records it.
TINY_MIN_SIZE = ["--min-size", "{min_width}x{min_height}".format(**TINY_PARAMS["ingest"])]

CLASSES = ("non_defect", "hole", "needle")
WIDTH, HEIGHT = 160, 96


def test_the_gate_decides_and_the_classifier_names_the_defect() -> None:
    probabilities = np.array([[0.90, 0.06, 0.04], [0.90, 0.04, 0.06], [0.10, 0.80, 0.10], [0.2, 0.5, 0.3]])
    verdict = np.array([False, True, False, True])
    labels = two_stage_labels(probabilities, verdict, CLASSES, "non_defect")
    # Row 1: the classifier says good, the gate says defective -> its best defect class (needle).
    # Row 2: the classifier says hole, the gate passes it -> good.
    assert labels.tolist() == [0, 2, 0, 1]


def test_the_rule_refuses_mismatched_shapes_and_unknown_good_class() -> None:
    with pytest.raises(ValueError, match="probabilities"):
        two_stage_labels(np.ones((2, 2)), np.array([True, False]), CLASSES, "non_defect")
    with pytest.raises(ValueError, match="good class"):
        two_stage_labels(np.ones((1, 3)) / 3, np.array([True]), CLASSES, "good")


@pytest.fixture(scope="module")
def gate_and_photos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny gate built on good textures, and a folder with one good and one spotted photo."""
    return tiny_gate_and_photos(tmp_path_factory.mktemp("two_stage"), WIDTH, HEIGHT)


def test_predict_with_a_gate_writes_two_stage_rows_and_heatmaps(
    gate_and_photos: tuple[Path, Path], tmp_path: Path
) -> None:
    gate_path, photos = gate_and_photos
    model = tiny_checkpoint(tmp_path / "model.pt")
    out, heatmaps = tmp_path / "predictions.csv", tmp_path / "heatmaps"
    predict([str(photos), "--model", str(model), *TINY_MIN_SIZE, "--out", str(out), "--gate", str(gate_path), "--heatmaps", str(heatmaps),
             "--rule", "gate"])
    rows = {row["path"]: row for row in csv.DictReader(out.open())}
    assert set(rows) == {"good.png", "spotted.png"}
    assert float(rows["spotted.png"]["anomaly_score"]) > float(rows["good.png"]["anomaly_score"])
    for row in rows.values():
        flagged = float(row["anomaly_score"]) > float(row["gate_threshold"])
        # The gate alone decides defective; a flagged frame is named by its best defect class.
        assert (row["defective"] == "yes") == flagged
        assert (row["predicted"] != "non_defect") == flagged
        assert row["classifier_predicted"] in {"non_defect", "hole", "lycra_cut", "needle", "twoply"}
    for name in ("good", "spotted"):
        with Image.open(heatmaps / f"{name}.png") as picture:
            assert picture.size == (WIDTH, HEIGHT)


def test_predict_without_a_gate_keeps_the_classifier_columns(gate_and_photos: tuple[Path, Path], tmp_path: Path) -> None:
    _, photos = gate_and_photos
    model = tiny_checkpoint(tmp_path / "model.pt")
    out = tmp_path / "predictions.csv"
    predict([str(photos), "--model", str(model), *TINY_MIN_SIZE, "--out", str(out), "--gate", "none"])
    header = out.read_text().splitlines()[0].split(",")
    assert "anomaly_score" not in header and header[:4] == ["path", "predicted", "confidence", "defective"]


def test_heatmaps_without_a_gate_is_a_clear_error(gate_and_photos: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    _, photos = gate_and_photos
    model = tiny_checkpoint(tmp_path / "model.pt")
    with pytest.raises(SystemExit) as exited:
        main([str(photos), "--model", str(model), *TINY_MIN_SIZE, "--out", str(tmp_path / "p.csv"), "--gate", "none", "--heatmaps", str(tmp_path / "h")])
    assert exited.value.code == 2
    assert "--heatmaps needs the anomaly gate" in capsys.readouterr().err


def test_the_gate_beside_the_model_is_used_by_default(gate_and_photos: tuple[Path, Path], tmp_path: Path) -> None:
    gate_path, photos = gate_and_photos
    model = tiny_checkpoint(tmp_path / "model.pt")
    (tmp_path / "gate.pt").write_bytes(gate_path.read_bytes())
    out = tmp_path / "predictions.csv"
    predict([str(photos), "--model", str(model), *TINY_MIN_SIZE, "--out", str(out)])
    assert "anomaly_score" in out.read_text().splitlines()[0].split(",")
