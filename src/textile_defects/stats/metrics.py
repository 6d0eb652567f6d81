"""Classification metrics, the one definition that training and evaluation share.

Pure functions over integer labels (indices into the classes); nothing here
reads files or models. F1 macro always averages over EVERY class
(scikit-learn's ``labels=range(C)``, ``zero_division=0``): a class missing
from a batch, a validation set or a fold counts as F1 0 instead of silently
leaving the average, so scores over sets with different class coverage
compare. With a handful of defect photos a point estimate alone misleads, so
the binary figures carry exact (Clopper-Pearson) confidence intervals, from
:mod:`textile_defects.stats.intervals`.

Everything is computed from the (C, C) confusion counts with scikit-learn's
arithmetic, operation for operation (the tests compare them bit for bit), but
without importing scikit-learn: it pulls SciPy and pandas, seconds of start-up
in every training and scoring process. :func:`f1_from_counts` is the lean
variant for the bootstraps that recompute F1 thousands of times.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from textile_defects.stats.intervals import proportion

EPOCH_METRICS: tuple[str, ...] = ("loss", "accuracy", "f1_macro", "f1_weighted")
"""What :func:`epoch_metrics` returns, in this order (the training history's columns)."""


def f1_macro_weighted(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> tuple[float, float]:
    """F1 macro and F1 weighted over all ``num_classes`` classes (absent classes count, as 0)."""
    _, _, f1, support = precision_recall_f1(confusion_counts(y_true, y_pred, num_classes))
    return _f1_averages(f1, support)


def _f1_averages(f1: np.ndarray, support: np.ndarray) -> tuple[float, float]:
    """F1 macro (every class) and F1 weighted by support, from per-class F1, as scikit-learn averages them."""
    weights = support.astype(float)
    return float(np.nanmean(f1)), float(np.sum(f1 * weights) / np.sum(weights))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The share of labels predicted right."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def epoch_metrics(targets: np.ndarray, predictions: np.ndarray, num_classes: int, loss: float) -> dict[str, float]:
    """The per-epoch figures of one pass over a set (:data:`EPOCH_METRICS`).

    ``targets`` and ``predictions`` are (N,) class indices in
    ``[0, num_classes)``; ``loss`` is the pass's loss, already reduced (the
    weighted mean over its images).
    """
    macro, weighted = f1_macro_weighted(targets, predictions, num_classes)
    return {"loss": float(loss), "accuracy": accuracy(targets, predictions), "f1_macro": macro, "f1_weighted": weighted}


def checked_labels(
    y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str], good_class: str
) -> tuple[np.ndarray, np.ndarray]:
    """``y_true`` and ``y_pred`` as (N,) int64 arrays; a ValueError unless both are non-empty, of one length, and ``good_class`` is a class."""
    if good_class not in classes:
        raise ValueError(f"good class {good_class!r} is not one of the classes {list(classes)}")
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or y_true.size == 0:
        raise ValueError(f"need two non-empty (N,) label arrays of equal length, got {y_true.shape} and {y_pred.shape}")
    return y_true, y_pred


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) counts, rows actual, columns predicted."""
    flat = np.bincount(np.asarray(y_true) * num_classes + np.asarray(y_pred), minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def _divide_or_zero(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` as floats, 0 where the denominator is 0 (``zero_division=0``)."""
    return np.divide(numerator.astype(float), denominator, out=np.zeros(numerator.shape), where=denominator > 0)


def precision_recall_f1(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support from (C, C) counts (rows actual, columns predicted).

    A class never predicted has precision 0, one absent from the set recall 0
    and, when also never predicted, F1 0: scikit-learn's
    ``precision_recall_fscore_support(labels=range(C), zero_division=0)``.
    """
    correct = np.diag(counts)
    support = counts.sum(axis=1)
    predicted = counts.sum(axis=0)
    f1 = _divide_or_zero(2.0 * correct, (support + predicted).astype(float))
    return _divide_or_zero(correct, predicted), _divide_or_zero(correct, support), f1, support


def f1_from_counts(counts: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Per-class F1, F1 macro over EVERY class and F1 weighted, from (C, C) counts.

    The bootstraps call it thousands of times; its weighted average is a dot
    product, equal to :func:`f1_macro_weighted`'s up to rounding.
    """
    _, _, per_class, support = precision_recall_f1(counts)
    weighted = float(per_class @ support / support.sum()) if support.sum() else 0.0
    return per_class, float(per_class.mean()), weighted


def binary_masks(y_true: np.ndarray, y_pred: np.ndarray, good_index: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per defect-vs-good figure, (success mask, trial mask) over the rows; defect = any class but the good one."""
    actual = np.asarray(y_true) != good_index
    called = np.asarray(y_pred) != good_index
    return {
        "defect_recall": (actual & called, actual),
        "specificity": (~actual & ~called, ~actual),
        "defect_precision": (actual & called, called),
    }


def defect_vs_good(
    y_true: np.ndarray, y_pred: np.ndarray, good_index: int, confidence: float = 0.95
) -> dict[str, Any]:
    """The factory's question, defective or good, from multi-class labels.

    ``y_true`` and ``y_pred`` are (N,) integer class indices; every class but
    ``good_index`` counts as "defective" (the positive class), so calling a
    hole a needle defect is still a correct rejection. Returns the counts
    (tp, fn, tn, fp) and defect recall (sensitivity), specificity and defect
    precision, each with its exact interval at ``confidence``.
    """
    masks = binary_masks(y_true, y_pred, good_index)
    found, defects = (int(mask.sum()) for mask in masks["defect_recall"])
    passed, goods = (int(mask.sum()) for mask in masks["specificity"])
    return {
        "confidence": confidence,
        "tp": found,
        "fn": defects - found,
        "tn": passed,
        "fp": goods - passed,
        **{name: proportion(int(hit.sum()), int(trial.sum()), confidence) for name, (hit, trial) in masks.items()},
    }


def classification_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: Sequence[str],
    good_class: str,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Every figure for one set of predictions; ``y_true``/``y_pred`` are (N,) indices into ``classes``.

    Per class: precision, recall, F1 and support (a class never predicted has
    precision 0; one absent from the set has support 0, recall 0 and F1 0).
    ``f1_macro`` averages over every class, absent ones included (see the
    module docstring); ``f1_weighted`` weights by support.
    """
    y_true, y_pred = checked_labels(y_true, y_pred, classes, good_class)
    precision, recall, f1, support = precision_recall_f1(confusion_counts(y_true, y_pred, len(classes)))
    per_class = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(classes)
    }
    f1_macro, f1_weighted = _f1_averages(f1, support)
    return {
        "n": int(y_true.size),
        "accuracy": accuracy(y_true, y_pred),
        "f1_macro": f1_macro,
        "f1_weighted": f1_weighted,
        "per_class": per_class,
        "defect_vs_good": defect_vs_good(y_true, y_pred, list(classes).index(good_class), confidence),
    }
