"""Two detectors on the same photos at the same specificity: which defects each finds, and is the difference real?

Separate intervals on two recalls overlap long before the difference between
them is noise, because both detectors score the same defect photos. The paired
test looks only at the photos where they disagree: exact McNemar, a two-sided
binomial test of the discordant counts against an even split.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from textile_defects.gate.threshold import threshold_for_specificity


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
