"""Gate-or-classifier: a frame is defective when the anomaly gate or the classifier says so.

The gate learned good fabric only; the classifier learned a handful of photos
per defect. They fail on different defects: on the first hold-out draw the
gate's misses and near-misses were mostly thin needle lines, which the
classifiers name confidently, and the classifiers' misses mostly two-ply bands,
which the gate finds (docs/holdout.md). The rule has nothing to tune: each
detector keeps its own decision (the gate its stored threshold, the classifier
its argmax), and the classifier names the type of a defective frame exactly as
in gate-then-classifier (:func:`textile_defects.decision.two_stage.two_stage_labels`,
given this verdict).

:func:`combined_scores` turns the rule into one number per frame, for ROC
curves and comparisons at a fixed specificity: each detector's log-margin over
its own decision boundary, and the larger of the two. It is above 0 exactly
when the rule calls the frame defective (ties of class probabilities aside), and
a threshold t on it asks both detectors for the same factor e^t more evidence.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Keeps the logarithms finite (a zero distance or a probability rounded to 0); far below any real margin.
_FLOOR = 1e-12


def _good_index(probabilities: np.ndarray, classes: Sequence[str], good_class: str) -> int:
    if probabilities.ndim != 2 or probabilities.shape[1] != len(classes) or len(classes) < 2:
        raise ValueError(f"expected (N, {len(classes)}) probabilities over at least two classes, got {probabilities.shape}")
    if good_class not in classes:
        raise ValueError(f"good class {good_class!r} is not among {list(classes)}")
    return list(classes).index(good_class)


def gate_or_classifier(
    gate_defective: np.ndarray, probabilities: np.ndarray, classes: Sequence[str], good_class: str
) -> np.ndarray:
    """(N,) verdicts: the gate's, or the classifier's most probable class is not ``good_class``."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    good = _good_index(probabilities, classes, good_class)
    verdict = np.asarray(gate_defective, dtype=bool)
    if verdict.shape != (len(probabilities),):
        raise ValueError(f"expected {len(probabilities)} gate verdicts, got shape {verdict.shape}")
    return verdict | (probabilities.argmax(axis=1) != good)


def combined_scores(
    gate_scores: np.ndarray,
    gate_thresholds: np.ndarray | float,
    probabilities: np.ndarray,
    classes: Sequence[str],
    good_class: str,
) -> np.ndarray:
    """(N,) ``max(log(score / threshold), log(max p(defect) / p(good)))``: above 0 where :func:`gate_or_classifier` says defective.

    ``gate_thresholds`` is one threshold or one per frame (the CV's folds each
    have their gate and its threshold).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    good = _good_index(probabilities, classes, good_class)
    scores = np.asarray(gate_scores, dtype=np.float64)
    thresholds = np.broadcast_to(np.asarray(gate_thresholds, dtype=np.float64), scores.shape)
    if scores.shape != (len(probabilities),):
        raise ValueError(f"expected {len(probabilities)} anomaly scores, got shape {scores.shape}")
    if np.any(thresholds <= 0):
        raise ValueError("gate thresholds must be positive (anomaly scores are distances)")
    gate_margin = np.log(np.maximum(scores, _FLOOR) / thresholds)
    defects = np.delete(probabilities, good, axis=1).max(axis=1)
    classifier_margin = np.log(np.maximum(defects, _FLOOR)) - np.log(np.maximum(probabilities[:, good], _FLOOR))
    return np.maximum(gate_margin, classifier_margin)
