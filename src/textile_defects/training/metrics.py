"""Per-epoch metrics and the history CSV that ``dvc plots`` draws.

The history holds numbers only, no wall-clock times, so two runs of the same
stage write the same bytes and ``dvc.lock`` stays stable.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from textile_defects.utils.atomic import atomic_write_text

METRICS: tuple[str, ...] = ("loss", "accuracy", "f1_macro", "f1_weighted")
HISTORY_COLUMNS: tuple[str, ...] = (
    "epoch",
    *(f"train_{name}" for name in METRICS),
    *(f"val_{name}" for name in METRICS),
    "lr",
)


def classification_metrics(targets: np.ndarray, predictions: np.ndarray, loss_sum: float) -> dict[str, float]:
    """Loss (mean per image), accuracy, F1 macro and F1 weighted of one pass over a set.

    ``targets`` and ``predictions`` are (N,) class indices; ``loss_sum`` is the
    sum over the N images of the per-batch mean loss times the batch size.
    F1 averages over the classes present in ``targets`` or ``predictions``
    (scikit-learn's default, as in the report); a class never predicted scores 0.
    """
    return {
        "loss": loss_sum / len(targets),
        "accuracy": float(accuracy_score(targets, predictions)),
        "f1_macro": float(f1_score(targets, predictions, average="macro", zero_division=0)),
        "f1_weighted": float(f1_score(targets, predictions, average="weighted", zero_division=0)),
    }


def write_history(path: str | Path, rows: Sequence[Mapping[str, float]]) -> Path:
    """Write the per-epoch rows (keys :data:`HISTORY_COLUMNS`) as CSV, atomically.

    Floats keep 6 significant digits: enough for plots and small learning
    rates, and it keeps last-bit arithmetic noise out of diffs.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for row in rows:
        writer.writerow([int(row["epoch"])] + [f"{float(row[column]):.6g}" for column in HISTORY_COLUMNS[1:]])
    return atomic_write_text(path, buffer.getvalue())
