"""The type classifier's answer handed to the detector, its file, and the paired naming comparison."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from textile_defects.crossval.scores import scores_csv
from textile_defects.errors import ConfigError
from textile_defects.holdout.paired import paired_naming
from textile_defects.naming.checkpoint import load_type_model, save_type_model
from textile_defects.naming.model import fit_type_model
from textile_defects.naming.scores import read_probabilities, reorder_defects, write_type_scores

CLASSES = ("non_defect", "hole", "lycra_cut", "needle", "twoply")
DEFECTS = CLASSES[1:]


def test_reordering_names_the_defect_by_type_and_leaves_every_detection_figure_as_it_was() -> None:
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(5), size=200)
    types = rng.dirichlet(np.ones(4), size=200)
    out = reorder_defects(probabilities, CLASSES, "non_defect", types, DEFECTS)
    assert np.allclose(out.sum(1), 1.0)
    assert np.array_equal(out[:, 0], probabilities[:, 0])  # p(good): every ROC is the same
    assert np.array_equal(np.sort(out[:, 1:], 1), np.sort(probabilities[:, 1:], 1))  # the largest p(defect) too
    assert np.array_equal(out.argmax(1) == 0, probabilities.argmax(1) == 0)  # defective exactly when it was
    assert np.array_equal(out[:, 1:].argmax(1), types.argmax(1))  # and the defect named is the type's first choice
    with pytest.raises(ValueError, match="defect classes"):
        reorder_defects(probabilities, CLASSES, "non_defect", types, ("hole", "needle", "twoply", "non_defect"))


def test_type_scores_and_handover_files_round_trip(tmp_path: Path) -> None:
    ids, labels = ["b", "a"], ["hole", "non_defect"]
    types = np.array([[0.1, 0.2, 0.6, 0.1], [0.7, 0.1, 0.1, 0.1]])
    write_type_scores(tmp_path / "type_fold3.csv", 3, ids, labels, types, DEFECTS)
    read_ids, read_labels, fold, values = read_probabilities(tmp_path / "type_fold3.csv", DEFECTS)
    assert (read_ids, read_labels, fold) == (["a", "b"], ["non_defect", "hole"], 3)
    assert np.allclose(values, types[[1, 0]])
    (tmp_path / "detector.csv").write_text(scores_csv(3, ids, labels, np.full((2, 5), 0.2) + np.eye(5)[[2, 0]] * 0.1, CLASSES))
    _, _, _, detector = read_probabilities(tmp_path / "detector.csv", CLASSES)
    assert detector.shape == (2, 5)


def test_a_type_model_file_needs_no_torch_and_refuses_another_gate(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    labels = [name for name in DEFECTS for _ in range(4)]
    features = rng.normal(size=(16, 3)) + np.repeat(np.eye(4, 3) * 3, 4, axis=0)
    model = fit_type_model(features, labels, DEFECTS, ("shape",), c=1.0, seed=0, level=0.4)
    gate, other = tmp_path / "gate.pt", tmp_path / "other.pt"
    gate.write_bytes(b"gate one")
    other.write_bytes(b"gate two")
    save_type_model(model, gate, tmp_path / "type.npz")
    loaded = load_type_model(tmp_path / "type.npz", gate)
    assert loaded.classes == DEFECTS and loaded.parts == ("shape",) and loaded.level == 0.4
    assert np.allclose(loaded.probabilities(features), model.probabilities(features))
    with pytest.raises(ConfigError, match="another gate"):
        load_type_model(tmp_path / "type.npz", other)
    with pytest.raises(ConfigError, match="not found"):
        load_type_model(tmp_path / "missing.npz")


def test_paired_naming_counts_who_names_which_class_right() -> None:
    y_true = np.array([1, 1, 1, 2, 2, 2, 0, 0])
    first = np.array([1, 1, 1, 2, 2, 0, 0, 0])
    second = np.array([1, 3, 3, 2, 3, 3, 0, 0])
    paired = paired_naming(y_true, first, second, [f"p{i}" for i in range(8)], CLASSES[:4], resamples=200, seed=0, confidence=0.9)
    assert paired["per_class"]["hole"] == {"photos": 3, "both": 1, "first_only": 2, "second_only": 0, "p_value": 0.5}
    assert paired["per_class"]["lycra_cut"]["first_only"] == 1 and paired["per_class"]["lycra_cut"]["both"] == 1
    difference = paired["f1_macro_difference"]
    assert difference["value"] > 0 and difference["ci_low"] <= difference["value"] <= difference["ci_high"]
