"""The type classifier's score files, and the detector's score file with its naming handed over.

``type_fold<k>.csv``: ``original_id,label,fold,named,p_<defect class>`` for
every defect class in params ``classes`` order (good fabric is not one of the
type classifier's classes), one row per scored original, sorted.

``naming[_seed<s>]_fold<k>.csv`` is an ordinary classifier score file
(:mod:`textile_defects.crossval.scores`): the detector's own, its defect
probabilities reordered by the type classifier (:func:`~textile_defects.naming.classify.reorder_defects`),
so the CV and hold-out reports score it as they score every classifier.

The type classifier names the defect; the whole-frame classifier (by default
the post-baseline) keeps deciding defective or good. :func:`reorder_defects`
joins the two into one row of class probabilities: the classifier's own
p(good) and its own defect probabilities, reassigned so that their order
follows the type classifier. So every detection figure (p(good), the largest
p(defect), hence the argmax's good-or-defect, every ROC and the
gate-or-classifier rule) is the classifier's, exactly, and only the defect
named changes: a comparison of naming alone, with detection held fixed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textile_defects.crossval.scores import NAMING
from textile_defects.errors import DataError
from textile_defects.utils.atomic import atomic_write_text

__all__ = ["NAMING", "read_probabilities", "reorder_defects", "write_type_scores"]


def write_type_scores(
    path: Path, fold: int, original_ids: Sequence[str], labels: Sequence[str], probabilities: np.ndarray, defect_classes: Sequence[str]
) -> Path:
    """Write one type score file atomically (rows sorted by ``original_id``)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (len(original_ids), len(defect_classes)):
        raise ValueError(f"{len(original_ids)} ids but type probabilities of shape {probabilities.shape}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["original_id", "label", "fold", "named", *(f"p_{name}" for name in defect_classes)])
    for i in sorted(range(len(original_ids)), key=lambda i: original_ids[i]):
        row = probabilities[i]
        writer.writerow([original_ids[i], labels[i], fold, defect_classes[int(row.argmax())], *(f"{p:.6f}" for p in row)])
    return atomic_write_text(path, buffer.getvalue())


def read_probabilities(path: Path, names: Sequence[str]) -> tuple[list[str], list[str], int, np.ndarray]:
    """(original ids, labels, fold, (N, len(names)) probabilities) of a score file with ``p_<name>`` columns."""
    if not path.is_file():
        raise DataError(f"{path}: score file not found; run the stage that writes it (dvc repro).")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [f"p_{name}" for name in names if f"p_{name}" not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing column(s) {missing}; re-run the stage that writes it.")
        rows = list(reader)
    folds = {row["fold"] for row in rows}
    if len(folds) > 1:
        raise DataError(f"{path}: rows of several folds {sorted(folds)}; one score file holds one fold.")
    ids = [row["original_id"] for row in rows]
    labels = [row["label"] for row in rows]
    values = np.array([[float(row[f"p_{name}"]) for name in names] for row in rows], dtype=np.float64).reshape(len(rows), len(names))
    return ids, labels, int(folds.pop()) if folds else 0, values


def reorder_defects(
    probabilities: np.ndarray, classes: Sequence[str], good_class: str, type_probabilities: np.ndarray, defect_classes: Sequence[str]
) -> np.ndarray:
    """(N, C): each row's defect probabilities permuted so that their ranking is the type classifier's.

    p(good) and the multiset of defect probabilities are unchanged (so the
    argmax is a defect exactly when it was, and every detection score is the
    same); the largest goes to the type classifier's first choice, and so on.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    type_probabilities = np.asarray(type_probabilities, dtype=np.float64)
    columns = [list(classes).index(name) for name in defect_classes]
    if good_class in defect_classes or len(columns) != len(classes) - 1:
        raise ValueError(f"defect classes {list(defect_classes)} must be every class of {list(classes)} but {good_class!r}")
    if type_probabilities.shape != (len(probabilities), len(columns)):
        raise ValueError(f"type probabilities {type_probabilities.shape} do not match {len(probabilities)} rows of {len(columns)} defect classes")
    out = probabilities.copy()
    for row in range(len(out)):
        values = np.sort(probabilities[row, columns])[::-1]
        # Stable on ties: the type classifier's order, then the defect classes' own order.
        ranking = np.argsort(-type_probabilities[row], kind="stable")
        for rank, k in enumerate(ranking):
            out[row, columns[k]] = values[rank]
    return out
