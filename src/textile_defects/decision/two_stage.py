"""Gate-then-classifier: the anomaly gate says defective or good, the classifier names the defect.

The gate (:mod:`textile_defects.gate`) learned good fabric only, from plentiful
photos; the classifier learned a handful of photos per defect. So the gate
alone decides whether a frame is defective, and the classifier is asked only
which defect it is: the most probable class among the defect classes. The
same rule scores the cross-validated gate report, so predict and the report
mean the same thing by "gate-then-classifier".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def two_stage_labels(
    probabilities: np.ndarray, gate_defective: np.ndarray, classes: Sequence[str], good_class: str
) -> np.ndarray:
    """(N,) class indices: ``good_class`` where the gate passed the frame, else the most probable defect class.

    ``probabilities`` is the classifier's (N, C) output in ``classes`` order;
    ``gate_defective`` is the gate's (N,) verdict.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    verdict = np.asarray(gate_defective, dtype=bool)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(classes) or len(verdict) != len(probabilities):
        raise ValueError(f"expected (N, {len(classes)}) probabilities and (N,) verdicts, got {probabilities.shape} and {verdict.shape}")
    if good_class not in classes:
        raise ValueError(f"good class {good_class!r} is not among {list(classes)}")
    good = list(classes).index(good_class)
    if len(classes) == 1:
        return np.full(len(verdict), good, dtype=np.int64)
    defect_only = probabilities.copy()
    defect_only[:, good] = -np.inf
    return np.where(verdict, defect_only.argmax(axis=1), good).astype(np.int64)
