"""Figures for a defective-or-good score: AUROC, recall at a specificity, per-class recall, localisation.

Pure functions over arrays, one row per ORIGINAL photo (never copies), so the
exact (Clopper-Pearson) intervals count independent photos. ``defective`` is a
boolean array (True = a defect photo), ``scores`` higher = more anomalous.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from textile_defects.gate.heatmap import upsample_map
from textile_defects.gate.threshold import threshold_for_specificity
from textile_defects.stats.proportions import counted


def image_auroc(defective: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve; None when only one kind of photo is present."""
    defective = np.asarray(defective, dtype=bool)
    if defective.all() or not defective.any():
        return None
    from sklearn.metrics import roc_auc_score  # scikit-learn pulls SciPy and pandas: imported where used

    return float(roc_auc_score(defective, scores))


def roc_points(defective: np.ndarray, scores: np.ndarray) -> list[dict[str, float]]:
    """The ROC curve as rows ``fpr, tpr, threshold`` (for a DVC plot), rounded to 6 decimals."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(np.asarray(defective, dtype=bool), scores, drop_intermediate=False)
    # roc_curve's first threshold is +inf (nobody called defective); a CSV needs a number.
    finite = np.where(np.isfinite(thresholds), thresholds, np.max(scores) + 1.0)
    return [
        {"fpr": round(float(f), 6), "tpr": round(float(t), 6), "threshold": round(float(h), 6)}
        for f, t, h in zip(fpr, tpr, finite, strict=True)
    ]


def operating_point(defective: np.ndarray, called_defective: np.ndarray, confidence: float) -> dict[str, Any]:
    """Defect recall and specificity of a verdict, each with its exact interval and counts."""
    defective = np.asarray(defective, dtype=bool)
    called = np.asarray(called_defective, dtype=bool)
    found, defects = int((called & defective).sum()), int(defective.sum())
    passed, goods = int((~called & ~defective).sum()), int((~defective).sum())
    return {
        "defect_recall": counted(found, defects, confidence),
        "specificity": counted(passed, goods, confidence),
    }


def recall_at_specificity(defective: np.ndarray, scores: np.ndarray, specificity: float, confidence: float) -> dict[str, Any]:
    """Defect recall at the threshold that first reaches ``specificity`` on these good photos.

    The threshold is read off the evaluated photos' own good scores (a point
    of the ROC curve), so this compares scores, not a deployable threshold;
    :func:`operating_point` scores the gate's own stored threshold.
    """
    defective = np.asarray(defective, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    threshold = threshold_for_specificity(scores[~defective], specificity)
    return {"threshold": round(threshold, 6), **operating_point(defective, scores > threshold, confidence)}


def per_class_recall(
    labels: Sequence[str], called_defective: np.ndarray, good_class: str, confidence: float
) -> dict[str, dict[str, Any]]:
    """For each defect class: how many of its photos were called defective, with the exact interval."""
    labels = np.asarray(labels)
    called = np.asarray(called_defective, dtype=bool)
    result = {}
    for name in sorted(set(labels.tolist()) - {good_class}):
        rows = labels == name
        found, total = int(called[rows].sum()), int(rows.sum())
        result[name] = counted(found, total, confidence)
    return result


def peak_in_mask(patch_map: np.ndarray, mask: np.ndarray, tolerance_px: int) -> bool:
    """Whether the frame position of the highest patch score lies in ``mask`` grown by ``tolerance_px``.

    The patch's position is the centre of its cell on the frame: row ``(i +
    0.5) * H / h``, column ``(j + 0.5) * W / w``.
    """
    height, width = mask.shape
    rows, columns = patch_map.shape
    i, j = np.unravel_index(int(np.argmax(patch_map)), patch_map.shape)
    y, x = (i + 0.5) * height / rows, (j + 0.5) * width / columns
    inside = np.argwhere(np.asarray(mask) > 0)
    if inside.size == 0:
        return False
    # Chebyshev distance to the nearest mask pixel, so the tolerance is a square window.
    return bool(np.min(np.maximum(np.abs(inside[:, 0] - y), np.abs(inside[:, 1] - x))) <= tolerance_px + 0.5)


def pixel_auroc(patch_maps: Sequence[np.ndarray], masks: Sequence[np.ndarray], *, downscale: int = 4) -> float | None:
    """Pixel-level AUROC over frames (maps upsampled bilinear, compared at 1/``downscale`` of the frame).

    ``masks`` are (H, W) arrays, all zero for good frames; None when no pixel is defective.
    """
    labels, values = [], []
    for patch_map, mask in zip(patch_maps, masks, strict=True):
        small = np.asarray(mask)[::downscale, ::downscale] > 0
        labels.append(small.ravel())
        values.append(upsample_map(patch_map, (small.shape[1], small.shape[0])).ravel())
    y = np.concatenate(labels)
    if y.all() or not y.any():
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, np.concatenate(values)))
