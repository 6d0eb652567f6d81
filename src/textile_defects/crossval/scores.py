"""Out-of-fold score CSVs: one per (model, seed, fold), the contract between the CV stages.

``data/crossval/scores/<variant>_seed<seed>_fold<k>.csv`` for the fine-tuned
models and ``probe_fold<k>.csv`` for the linear probe (no seed: it is
deterministic). Columns: ``original_id,label,fold,predicted,p_<class>`` for
every class in params ``classes`` order, probabilities with 6 decimals, one
row per original the fold scores, sorted by ``original_id``. The report reads
and checks them (:func:`textile_defects.evaluation.crossval_report.load_scores`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textile_defects.utils.atomic import atomic_write_text

PROBE = "probe"
"""Model name of the frozen-feature reference."""

_NAME = re.compile(r"^(?P<model>[a-z][a-z0-9_]*?)(?:_seed(?P<seed>\d+))?_fold(?P<fold>\d+)\.csv$")


def score_file_name(model: str, fold: int, seed: int | None = None) -> str:
    """``<model>_seed<seed>_fold<k>.csv``, or ``<model>_fold<k>.csv`` for a model without seeds."""
    return f"{model}_fold{fold}.csv" if seed is None else f"{model}_seed{seed}_fold{fold}.csv"


def parse_score_file_name(name: str) -> tuple[str, int | None, int] | None:
    """``(model, seed or None, fold)`` from a score file name; None for any other file."""
    match = _NAME.match(name)
    if match is None:
        return None
    seed = match.group("seed")
    return match.group("model"), None if seed is None else int(seed), int(match.group("fold"))


def columns(classes: Sequence[str]) -> list[str]:
    """The header of a classifier score file."""
    return ["original_id", "label", "fold", "predicted", *(f"p_{name}" for name in classes)]


def scores_csv(
    fold: int, original_ids: Sequence[str], labels: Sequence[str], probabilities: np.ndarray, classes: Sequence[str]
) -> str:
    """The text of one score file (rows sorted by ``original_id``)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (len(original_ids), len(classes)) or len(labels) != len(original_ids):
        raise ValueError(
            f"{len(original_ids)} ids, {len(labels)} labels and probabilities of shape {probabilities.shape} "
            f"for {len(classes)} classes do not match"
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns(classes))
    for index in sorted(range(len(original_ids)), key=lambda i: original_ids[i]):
        row = probabilities[index]
        writer.writerow(
            [original_ids[index], labels[index], fold, classes[int(row.argmax())], *(f"{value:.6f}" for value in row)]
        )
    return buffer.getvalue()


def write_scores(
    path: Path,
    fold: int,
    original_ids: Sequence[str],
    labels: Sequence[str],
    probabilities: np.ndarray,
    classes: Sequence[str],
) -> Path:
    """Write one score file atomically."""
    return atomic_write_text(path, scores_csv(fold, original_ids, labels, probabilities, classes))
