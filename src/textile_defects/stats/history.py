"""The training history: one row per epoch, written by training, read by evaluation and ``dvc plots``.

Columns: ``epoch``, ``train_<metric>`` for each of
:data:`~textile_defects.stats.metrics.EPOCH_METRICS`, the same ``val_<metric>``
when the run had a validation set, and ``lr`` (the head's learning rate at
the start of the epoch). The file holds numbers only, no wall-clock times, so
two runs of the same stage write the same bytes and ``dvc.lock`` stays stable.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from textile_defects.errors import DataError
from textile_defects.stats.metrics import EPOCH_METRICS
from textile_defects.utils.atomic import atomic_write_text

log = logging.getLogger(__name__)

TRAIN_COLUMNS: tuple[str, ...] = ("epoch", *(f"train_{name}" for name in EPOCH_METRICS), "lr")
"""The columns of a run without a validation set (``selection: last``)."""
HISTORY_COLUMNS: tuple[str, ...] = (
    "epoch",
    *(f"train_{name}" for name in EPOCH_METRICS),
    *(f"val_{name}" for name in EPOCH_METRICS),
    "lr",
)
"""The columns of a run with a validation set."""


def history_row(
    epoch: int, train: Mapping[str, float], val: Mapping[str, float] | None, lr: float
) -> dict[str, float]:
    """One epoch's row: ``epoch``, ``train_*``, ``val_*`` (when ``val`` is given) and ``lr``."""
    return {
        "epoch": epoch,
        **{f"train_{name}": value for name, value in train.items()},
        **{f"val_{name}": value for name, value in (val or {}).items()},
        "lr": lr,
    }


def write_history(path: str | Path, rows: Sequence[Mapping[str, float]]) -> Path:
    """Write the per-epoch rows as CSV, atomically (:data:`HISTORY_COLUMNS`, or :data:`TRAIN_COLUMNS` without val).

    Floats keep 6 significant digits: enough for plots and small learning
    rates, and it keeps last-bit arithmetic noise out of diffs.
    """
    columns = HISTORY_COLUMNS if rows and "val_loss" in rows[0] else TRAIN_COLUMNS
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        if set(row) != set(columns):
            raise ValueError(f"history row of epoch {row.get('epoch')}: keys {sorted(row)}, expected {list(columns)}")
        writer.writerow([int(row["epoch"])] + [f"{float(row[column]):.6g}" for column in columns[1:]])
    return atomic_write_text(path, buffer.getvalue())


def read_history(path: Path) -> dict[str, np.ndarray]:
    """A training history CSV as ``{column: (E,) float array}``; it must have an ``epoch`` column."""
    if not path.is_file():
        raise DataError(f"{path}: training history not found; run the training stages first (dvc repro).")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "epoch" not in rows[0]:
        raise DataError(f"{path}: expected a CSV with an 'epoch' column and one row per epoch.")
    columns: dict[str, np.ndarray] = {}
    for column in rows[0]:
        try:
            columns[column] = np.array([float(row[column]) for row in rows])
        except ValueError:
            log.debug("%s: column %s is not numeric; not plotted", path, column)
    return columns
