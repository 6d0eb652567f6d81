"""The gate's threshold: from held-out scores of good photos only, for a target specificity.

A threshold set on the photos that built the memory bank would be far too
low (their own patches are in it, at distance zero). So the good training
originals are split into folds; each fold is scored by a bank built without
it (nor any copy of it), and the threshold is the smallest held-out score
that keeps at least the target share of good photos at or below it. No defect
photo is looked at.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from textile_defects.errors import ConfigError, DataError


def threshold_for_specificity(good_scores: Sequence[float] | np.ndarray, target: float) -> float:
    """The smallest good score ``t`` with share(good scores <= t) >= ``target``.

    A photo scoring above ``t`` is called defective, so on these scores the
    specificity is at least ``target``. With n scores this is the
    ceil(target * n)-th smallest; 0 < target <= 1.
    """
    if not 0.0 < target <= 1.0:
        raise ConfigError(f"gate.target_specificity: got {target}; expected a number in (0, 1].")
    scores = np.sort(np.asarray(good_scores, dtype=np.float64))
    if scores.size == 0:
        raise DataError("no good photo was scored: the threshold needs held-out good training photos.")
    rank = max(1, math.ceil(target * scores.size - 1e-9))
    return float(scores[rank - 1])


def leave_out_folds(originals: Sequence[str], folds: int) -> list[list[str]]:
    """Split good originals (sorted, dealt in turn) into ``folds`` non-empty groups.

    Sorted and dealt round-robin rather than shuffled: the split is the same on
    every run and for any order of the manifest.
    """
    unique = sorted(set(originals))
    if folds < 2:
        raise ConfigError(f"gate.threshold_folds: got {folds}; expected an integer >= 2.")
    if len(unique) < folds:
        raise DataError(
            f"the gate's threshold needs at least gate.threshold_folds = {folds} good training originals, "
            f"found {len(unique)}: add good photos or lower gate.threshold_folds."
        )
    return [unique[start::folds] for start in range(folds)]
