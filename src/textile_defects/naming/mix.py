"""The defect named by both namers at once: the type classifier's and the detector's defect probabilities, mixed.

The type classifier (the gate region's shape and profile) and the whole-frame
classifier fail on different defects: on the development hold-out draws the
type classifier names most lycra cuts the classifier calls two-ply, while the
classifier names every hole and the type classifier calls some small holes a
needle or a cut (docs/naming.md). A weighted geometric mean of the two
distributions over the defect classes (a product of experts; ``type_weight``
1 is the type classifier alone, 0 the classifier alone) lets a confident
namer overrule an unsure one, whichever it is.

As with :func:`~textile_defects.naming.scores.reorder_defects`, only the
ranking of the defect classes changes: p(good) and the detector's decision
stay exactly the classifier's, so detection is held fixed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textile_defects.errors import DataError
from textile_defects.naming.scores import read_probabilities, reorder_defects

@dataclasses.dataclass(frozen=True)
class AlignedScores:
    """A detector's and the type classifier's scores of the same originals, in the same (sorted) order."""

    original_ids: list[str]
    labels: list[str]
    fold: int
    probabilities: np.ndarray
    """(N, C) the detector's, over params ``classes``."""
    type_probabilities: np.ndarray
    """(N, D) the type classifier's, over ``defect_classes``."""
    defect_classes: tuple[str, ...]


_FLOOR = 1e-12
"""Probabilities are floored before the logarithm: a namer's zero must not veto the other's choice outright."""


def mixed_ranking(
    probabilities: np.ndarray, classes: Sequence[str], type_probabilities: np.ndarray, defect_classes: Sequence[str], type_weight: float
) -> np.ndarray:
    """(N, D): the type classifier's and the detector's defect distributions, geometrically mixed and renormalised.

    ``probabilities`` (N, C) are the detector's over ``classes``; its defect
    columns are renormalised over ``defect_classes`` first, so that p(good)
    does not weigh in the naming.
    """
    if not 0.0 <= type_weight <= 1.0:
        raise ValueError(f"type_weight must lie in [0, 1], got {type_weight}")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    types = np.asarray(type_probabilities, dtype=np.float64)
    columns = [list(classes).index(name) for name in defect_classes]
    detector = probabilities[:, columns]
    detector = detector / np.maximum(detector.sum(axis=1, keepdims=True), _FLOOR)
    if types.shape != detector.shape:
        raise ValueError(f"type probabilities {types.shape} do not match the detector's defect probabilities {detector.shape}")
    logits = type_weight * np.log(np.maximum(types, _FLOOR)) + (1.0 - type_weight) * np.log(np.maximum(detector, _FLOOR))
    mixed = np.exp(logits - logits.max(axis=1, keepdims=True))
    return mixed / mixed.sum(axis=1, keepdims=True)


def mixed_naming(
    probabilities: np.ndarray, classes: Sequence[str], good_class: str, type_probabilities: np.ndarray,
    defect_classes: Sequence[str], type_weight: float,
) -> np.ndarray:
    """(N, C): the detector's probabilities, their defect columns reordered by :func:`mixed_ranking`."""
    ranking = mixed_ranking(probabilities, classes, type_probabilities, defect_classes, type_weight)
    return reorder_defects(probabilities, classes, good_class, ranking, defect_classes)


def read_aligned(detector: Path, types: Path, classes: Sequence[str], good_class: str) -> AlignedScores:
    """The detector's score file and the type classifier's for the same originals; a mismatch is a DataError naming both."""
    defects = tuple(name for name in classes if name != good_class)
    ids, labels, fold, probabilities = read_probabilities(detector, classes)
    type_ids, _, type_fold, type_probabilities = read_probabilities(types, defects)
    if type_ids != ids or type_fold != fold:
        raise DataError(
            f"{types} (fold {type_fold}, {len(type_ids)} originals) and {detector} (fold {fold}, {len(ids)}) "
            "do not score the same originals; re-run both stages (dvc repro)."
        )
    return AlignedScores(ids, labels, fold, probabilities, type_probabilities, defects)
