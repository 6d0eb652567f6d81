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
