"""What the evaluate stage commits to git: metrics JSON and per-image confusion CSVs.

Both are byte-stable: the same predictions give the same bytes (sorted keys,
floats rounded, no timestamps), so ``dvc.lock`` and ``git diff`` change only
when a figure does.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from textile_defects.stats.intervals import proportion
from textile_defects.stats.metrics import binary_masks, classification_metrics

if TYPE_CHECKING:  # scoring pulls in torch; the CV report and scripts only need the pure parts
    from textile_defects.evaluation.scoring import SetPredictions

FLOAT_DIGITS = 6
"""Decimal places kept in metrics files: far below any real difference, above float noise."""


def roc_csv(points: Sequence[Mapping[str, float]]) -> str:
    """ROC points as the CSV ``dvc plots`` reads: ``fpr,tpr,threshold``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["fpr", "tpr", "threshold"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(points)
    return buffer.getvalue()


def round_floats(value: Any, digits: int = FLOAT_DIGITS) -> Any:
    """``value`` with every float inside (dicts, lists) rounded to ``digits`` places."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, Mapping):
        return {key: round_floats(item, digits) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [round_floats(item, digits) for item in value]
    return value


def set_metrics(predictions: SetPredictions, good_class: str, confidence: float) -> dict[str, Any]:
    """All figures for one model on one set (see :func:`classification_metrics`), intervals over photos.

    ``originals`` counts the distinct photos. On an augmented set (copies of
    fewer photos) the defect-vs-good intervals count each photo once, not
    each copy (:func:`textile_defects.stats.intervals.proportion` with
    ``originals``): 124 copies of 14 photos are 14 trials, not 124. On a
    set of one image per photo they are the plain exact intervals.
    """
    figures = classification_metrics(
        predictions.y_true, predictions.y_pred, predictions.classes, good_class, confidence
    )
    ids = np.asarray(predictions.original_ids, dtype=str)
    figures["originals"] = len(set(ids))
    masks = binary_masks(predictions.y_true, predictions.y_pred, predictions.classes.index(good_class))
    for name, (hit, trial) in masks.items():
        figures["defect_vs_good"][name] = proportion(int(hit.sum()), int(trial.sum()), confidence, originals=len(set(ids[trial])))
    return figures


def model_metrics(
    sets: Mapping[str, SetPredictions], good_class: str, confidence: float
) -> dict[str, Any]:
    """The metrics file of one model: ``{set name: figures}``, floats rounded.

    ``dvc metrics diff`` flattens this to keys such as
    ``val_originals.f1_macro`` or ``val_originals.defect_vs_good.defect_recall.value``.
    """
    return round_floats({name: set_metrics(predictions, good_class, confidence) for name, predictions in sets.items()})


def confusion_csv(predictions: SetPredictions) -> str:
    """One row per image, columns ``actual,predicted`` (class names): DVC's confusion template input."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["actual", "predicted"])
    for actual, predicted in zip(predictions.y_true, predictions.y_pred, strict=True):
        writer.writerow([predictions.classes[actual], predictions.classes[predicted]])
    return buffer.getvalue()
