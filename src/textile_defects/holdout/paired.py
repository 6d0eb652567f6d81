"""Two detectors on the same photos at the same specificity: which defects each finds, and is the difference real?

Separate intervals on two recalls overlap long before the difference between
them is noise, because both detectors score the same defect photos. The paired
test looks only at the photos where they disagree: exact McNemar, a two-sided
binomial test of the discordant counts against an even split.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from textile_defects.gate.threshold import threshold_for_specificity
from textile_defects.stats.intervals import cluster_bootstrap
from textile_defects.stats.metrics import f1_macro_weighted


def mcnemar_exact(first_only: int, second_only: int) -> float:
    """Two-sided exact McNemar p-value: how surprising this split of discordant photos is if neither is better."""
    discordant = first_only + second_only
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, k) for k in range(min(first_only, second_only) + 1)) / 2.0**discordant
    return min(1.0, 2.0 * tail)


def paired_at_specificity(
    defective: np.ndarray, first_scores: np.ndarray, second_scores: np.ndarray, specificity: float
) -> dict[str, Any]:
    """Each detector thresholded where it first reaches ``specificity`` on the good photos; the defects each finds.

    Returns the counts of defect photos found by both, by the first only, by the
    second only, and the exact McNemar p-value of the two "only" counts.
    """
    defective = np.asarray(defective, dtype=bool)
    found = []
    for scores in (np.asarray(first_scores, dtype=np.float64), np.asarray(second_scores, dtype=np.float64)):
        threshold = threshold_for_specificity(scores[~defective], specificity)
        found.append(scores[defective] > threshold)
    first, second = found
    first_only, second_only = int((first & ~second).sum()), int((second & ~first).sum())
    return {
        "defect_photos": int(defective.sum()),
        "both": int((first & second).sum()),
        "first_only": first_only,
        "second_only": second_only,
        # Stored unrounded: a p of 1e-7 must not read as 0.
        "p_value": mcnemar_exact(first_only, second_only),
    }


def paired_naming(
    y_true: np.ndarray,
    first_pred: np.ndarray,
    second_pred: np.ndarray,
    original_ids: Sequence[str],
    classes: Sequence[str],
    *,
    resamples: int,
    seed: int,
    confidence: float,
) -> dict[str, Any]:
    """Two classifiers naming the same photos: F1 macro difference (first - second) and, per class, who names which right.

    The F1 difference's interval is a bootstrap over photos that draws the
    same photos for both (stratified by class), so it is paired; per class,
    the photos of that class only the first names right, only the second,
    and the exact McNemar p-value of that split.
    """
    y_true, first_pred, second_pred = (np.asarray(a) for a in (y_true, first_pred, second_pred))

    def difference(rows: np.ndarray) -> float:
        first, _ = f1_macro_weighted(y_true[rows], first_pred[rows], len(classes))
        second, _ = f1_macro_weighted(y_true[rows], second_pred[rows], len(classes))
        return first - second

    everything = np.arange(len(y_true))
    (interval,) = cluster_bootstrap(difference, original_ids, resamples=resamples, seed=seed, confidence=confidence, strata=y_true)
    per_class = {}
    for index, name in enumerate(classes):
        rows = y_true == index
        first, second = first_pred[rows] == index, second_pred[rows] == index
        first_only, second_only = int((first & ~second).sum()), int((second & ~first).sum())
        per_class[name] = {
            "photos": int(rows.sum()), "both": int((first & second).sum()), "first_only": first_only,
            "second_only": second_only, "p_value": mcnemar_exact(first_only, second_only),
        }  # fmt: skip
    return {
        "f1_macro_difference": {
            "value": difference(everything), "ci_low": None if interval is None else interval[0],
            "ci_high": None if interval is None else interval[1], "confidence": confidence,
        },  # fmt: skip
        "per_class": per_class,
    }


def label_figures(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str], good_class: str) -> dict[str, Any]:
    """F1 macro, photos named right per class, defects found (called anything but good) and named right."""
    good = list(classes).index(good_class)
    defect = y_true != good
    f1, _ = f1_macro_weighted(y_true, y_pred, len(classes))
    return {
        "f1_macro": f1,
        "named_right": {name: [int(((y_true == k) & (y_pred == k)).sum()), int((y_true == k).sum())] for k, name in enumerate(classes)},
        "defects_found": [int((defect & (y_pred != good)).sum()), int(defect.sum())],
        "defects_found_and_named_right": [int((defect & (y_pred == y_true)).sum()), int(defect.sum())],
    }


def paired_labels(
    y_true: np.ndarray,
    first_pred: np.ndarray,
    second_pred: np.ndarray,
    original_ids: Sequence[str],
    classes: Sequence[str],
    good_class: str,
    *,
    resamples: int,
    seed: int,
    confidence: float,
) -> dict[str, Any]:
    """Two final labels of the same photos (e.g. predict's, from two gates): each one's figures and the paired comparison.

    ``first``/``second``: :func:`label_figures` of each; ``first_vs_second``:
    :func:`paired_naming`; ``defects_found``: the defect photos only one calls
    defective (anything but good), with the exact McNemar p-value; ``good_kept``
    the same for good photos called good.
    """
    y_true, first_pred, second_pred = (np.asarray(a) for a in (y_true, first_pred, second_pred))
    good = list(classes).index(good_class)

    def only(rows: np.ndarray, first: np.ndarray, second: np.ndarray) -> dict[str, Any]:
        first_only, second_only = int((rows & first & ~second).sum()), int((rows & second & ~first).sum())
        return {"first_only": first_only, "second_only": second_only, "p_value": mcnemar_exact(first_only, second_only)}

    defect = y_true != good
    return {
        "first": label_figures(y_true, first_pred, classes, good_class),
        "second": label_figures(y_true, second_pred, classes, good_class),
        "first_vs_second": paired_naming(
            y_true, first_pred, second_pred, original_ids, classes, resamples=resamples, seed=seed, confidence=confidence
        ),
        "defects_found": only(defect, first_pred != good, second_pred != good),
        "good_kept": only(~defect, first_pred == good, second_pred == good),
    }
