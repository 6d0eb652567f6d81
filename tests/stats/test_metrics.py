"""The shared metrics (training and evaluation) and the training history file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from textile_defects.errors import DataError
from textile_defects.stats.history import HISTORY_COLUMNS, TRAIN_COLUMNS, history_row, read_history, write_history
from textile_defects.stats.metrics import (
    EPOCH_METRICS,
    classification_metrics,
    confusion_counts,
    epoch_metrics,
    f1_from_counts,
    f1_macro_weighted,
)

CLASSES = ("non_defect", "hole", "lycra_cut", "needle", "twoply")


def test_f1_macro_counts_every_class_in_training_and_evaluation_alike() -> None:
    # Classes 2 and 4 (lycra_cut, twoply) are absent from this set and never predicted: each counts as F1 0.
    y_true = np.array([0, 0, 0, 1, 3])
    y_pred = np.array([0, 0, 0, 1, 3])
    training = epoch_metrics(y_true, y_pred, num_classes=5, loss=0.5)
    evaluation = classification_metrics(y_true, y_pred, CLASSES, "non_defect")
    assert training["f1_macro"] == pytest.approx(3 / 5)
    assert evaluation["f1_macro"] == pytest.approx(3 / 5)
    assert training["f1_macro"] == pytest.approx(f1_score(y_true, y_pred, labels=range(5), average="macro", zero_division=0))
    assert training["f1_weighted"] == evaluation["f1_weighted"] == pytest.approx(1.0)


def test_a_class_absent_from_a_set_counts_as_zero_not_as_missing() -> None:
    # Perfect on the four classes present; twoply has no image and no prediction: 4/5, not 1.
    perfect_on_four = epoch_metrics(np.arange(4), np.arange(4), 5, 0.0)["f1_macro"]
    assert perfect_on_four == pytest.approx(4 / 5)
    assert epoch_metrics(np.arange(5), np.arange(5), 5, 0.0)["f1_macro"] == 1.0


def test_epoch_metrics_keys_and_loss_passed_through() -> None:
    result = epoch_metrics(np.array([0, 1]), np.array([0, 0]), 2, loss=1.25)
    assert tuple(result) == EPOCH_METRICS
    assert result["loss"] == 1.25 and result["accuracy"] == 0.5


def test_history_round_trip_with_and_without_validation(tmp_path: Path) -> None:
    train = {"loss": 1.0, "accuracy": 0.5, "f1_macro": 0.25, "f1_weighted": 0.4}
    rows = [history_row(epoch, train, {**train, "loss": 2.0}, 1e-3) for epoch in (1, 2)]
    path = write_history(tmp_path / "h.csv", rows)
    assert path.read_text().splitlines()[0] == ",".join(HISTORY_COLUMNS)
    columns = read_history(path)
    assert list(columns["epoch"]) == [1, 2] and list(columns["val_loss"]) == [2.0, 2.0]
    only_train = write_history(tmp_path / "t.csv", [history_row(1, train, None, 5e-4)])
    assert only_train.read_text().splitlines() == [",".join(TRAIN_COLUMNS), "1,1,0.5,0.25,0.4,0.0005"]
    assert "val_f1_macro" not in read_history(only_train)


def test_history_refuses_rows_that_do_not_match_and_files_without_epochs(tmp_path: Path) -> None:
    train = {"loss": 1.0, "accuracy": 0.5, "f1_macro": 0.25, "f1_weighted": 0.4}
    with pytest.raises(ValueError, match="epoch 2"):
        write_history(tmp_path / "h.csv", [history_row(1, train, train, 1e-3), history_row(2, train, None, 1e-3)])
    assert not (tmp_path / "h.csv").exists()
    (tmp_path / "bad.csv").write_text("step,loss\n1,0.5\n")
    with pytest.raises(DataError, match="'epoch' column"):
        read_history(tmp_path / "bad.csv")
    with pytest.raises(DataError, match="not found"):
        read_history(tmp_path / "missing.csv")


@pytest.mark.parametrize("seed", range(5))
def test_f1_from_counts_is_sklearn_over_every_class(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 4, 40)  # class 4 never occurs: it must count as F1 0 in the macro average
    y_pred = rng.integers(0, 5, 40)
    per_class, macro, weighted = f1_from_counts(confusion_counts(y_true, y_pred, 5))
    labels = list(range(5))
    assert macro == pytest.approx(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))
    assert weighted == pytest.approx(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0))
    assert per_class == pytest.approx(precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)[2])


@pytest.mark.parametrize("seed", range(20))
def test_every_figure_is_sklearns_bit_for_bit(seed: int) -> None:
    """The metrics mirror scikit-learn's arithmetic without importing it: not approximately, exactly."""
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 60))
    y_true = rng.integers(0, 4 if seed % 2 else 5, size)  # odd seeds: class 4 absent from the set
    y_pred = rng.integers(0, 5, size)
    labels = list(range(5))
    figures = classification_metrics(y_true, y_pred, CLASSES, "non_defect")
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    assert [figures["per_class"][name]["precision"] for name in CLASSES] == precision.tolist()
    assert [figures["per_class"][name]["recall"] for name in CLASSES] == recall.tolist()
    assert [figures["per_class"][name]["f1"] for name in CLASSES] == f1.tolist()
    assert [figures["per_class"][name]["support"] for name in CLASSES] == support.tolist()
    macro = f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    weighted = f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)
    assert (figures["f1_macro"], figures["f1_weighted"], figures["accuracy"]) == (macro, weighted, accuracy_score(y_true, y_pred))
    assert f1_macro_weighted(y_true, y_pred, 5) == (macro, weighted)
    assert epoch_metrics(y_true, y_pred, 5, 0.5) == {"loss": 0.5, "accuracy": accuracy_score(y_true, y_pred), "f1_macro": macro, "f1_weighted": weighted}


def test_training_and_scoring_processes_do_not_import_sklearn() -> None:
    """scikit-learn pulls SciPy and pandas: seconds of start-up in every stage process that trains or scores."""
    probe = "import sys, textile_defects.stats.metrics, textile_defects.stats.intervals, textile_defects.gate.metrics, textile_defects.crossval.probe; print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy', 'pandas'}))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]", f"imported at module level: {loaded}"
