"""The type classifier: a standardised multinomial logistic regression over the evidence, defect classes only.

It names the defect of a frame already judged defective (by the gate or the
classifier, :mod:`textile_defects.decision`); good fabric is not one of its
classes. With a handful of photos per defect class, a linear model on frozen
features is what the data can carry (the CV's linear probe showed the same).
Fitting uses scikit-learn; the fitted model is plain arrays (mean, scale,
weights, bias), so applying it needs numpy only, and its checkpoint loads
with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from textile_defects.errors import DataError


@dataclass(frozen=True)
class TypeModel:
    """A fitted type classifier: ``classes`` (defect classes, logit order), the evidence ``parts`` it reads."""

    classes: tuple[str, ...]
    parts: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    """(C, D) logit weights on standardised features."""
    bias: np.ndarray
    level: float = 0.5
    """The gate region's level (:func:`textile_defects.gate.regions.gate_region`) its evidence was taken at."""
    border_patches: int = 1
    """The gate's edge rings left out of the peak search, as when it was fitted."""
    image_size: tuple[int, int] | None = None
    """(W, H) of the frame its evidence was read at (``naming.image_size``); None: the gate's (files before 2026-12-03)."""

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(N, C) class probabilities of (N, D) feature rows."""
        rows = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        logits = rows @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


def fit_type_model(
    features: np.ndarray, labels: Sequence[str], classes: Sequence[str], parts: Sequence[str], *, c: float, seed: int,
    level: float = 0.5,
) -> TypeModel:
    """Fit on (N, D) ``features`` with ``labels`` among ``classes``; classes weighted to balance (few photos each).

    Every class must have at least one training row: a class never seen cannot be named.
    """
    missing = [name for name in classes if name not in set(labels)]
    if missing:
        raise DataError(
            f"type classifier: no training image of {missing}; every defect class needs at least one photo "
            "(or a transplanted composite) among the training images."
        )
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise DataError(f"type classifier: training labels {unknown} are not defect classes {list(classes)}.")
    # Imported here: applying a fitted model needs numpy only (predict on a line PC).
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    targets = np.array([list(classes).index(label) for label in labels])
    scaler = StandardScaler().fit(features)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, random_state=seed)
    model.fit((features - scaler.mean_) / scale, targets)
    weights, bias = model.coef_, model.intercept_
    if len(classes) == 2:  # scikit-learn keeps one row for two classes: logits (0, z)
        weights = np.vstack([np.zeros_like(weights), weights])
        bias = np.concatenate([[0.0], bias])
    return TypeModel(
        classes=tuple(classes), parts=tuple(parts), mean=scaler.mean_.astype(np.float64), scale=scale.astype(np.float64),
        weights=weights.astype(np.float64), bias=bias.astype(np.float64), level=float(level),
    )  # fmt: skip
