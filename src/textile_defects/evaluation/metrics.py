"""Classification metrics: per class, macro, weighted, and defective-versus-good.

Pure functions over integer labels (indices into ``classes``); nothing here
reads files or models. With a validation set of a handful of defect photos a
point estimate alone misleads, so the binary figures carry exact
(Clopper-Pearson) confidence intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import beta
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial confidence interval for ``successes / trials``.

    The Clopper-Pearson interval inverts two one-sided binomial tests, so its
    coverage is at least ``confidence`` for every true proportion (it is
    conservative, never optimistic). ``trials == 0`` carries no information:
    the interval is the whole of [0, 1].
    """
    if not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if trials == 0:
        return 0.0, 1.0
    tail = (1.0 - confidence) / 2.0
    low = 0.0 if successes == 0 else float(beta.ppf(tail, successes, trials - successes + 1))
    high = 1.0 if successes == trials else float(beta.ppf(1.0 - tail, successes + 1, trials - successes))
    return low, high


def proportion(successes: int, trials: int, confidence: float = 0.95) -> dict[str, Any]:
    """``successes / trials`` with its exact interval; the value is None when ``trials == 0``."""
    low, high = clopper_pearson(successes, trials, confidence)
    return {"value": successes / trials if trials else None, "ci_low": low, "ci_high": high}


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
    actual_defect = np.asarray(y_true) != good_index
    predicted_defect = np.asarray(y_pred) != good_index
    tp = int(np.sum(actual_defect & predicted_defect))
    fn = int(np.sum(actual_defect & ~predicted_defect))
    tn = int(np.sum(~actual_defect & ~predicted_defect))
    fp = int(np.sum(~actual_defect & predicted_defect))
    return {
        "confidence": confidence,
        "tp": tp,
        "fn": fn,
        "tn": tn,
        "fp": fp,
        "defect_recall": proportion(tp, tp + fn, confidence),
        "specificity": proportion(tn, tn + fp, confidence),
        "defect_precision": proportion(tp, tp + fp, confidence),
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
    precision 0; one absent from the set has support 0 and recall 0).
    ``f1_macro`` averages over the classes that occur in the truth or the
    predictions (scikit-learn's default), so a class missing from a small set
    does not count as a failure; ``f1_weighted`` weights by support.
    """
    if good_class not in classes:
        raise ValueError(f"good class {good_class!r} is not one of the classes {list(classes)}")
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or y_true.size == 0:
        raise ValueError(f"need two non-empty (N,) label arrays of equal length, got {y_true.shape} and {y_pred.shape}")
    all_labels = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=all_labels, zero_division=0
    )
    per_class = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(classes)
    }
    return {
        "n": int(y_true.size),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "f1_weighted": float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "per_class": per_class,
        "defect_vs_good": defect_vs_good(y_true, y_pred, list(classes).index(good_class), confidence),
    }
