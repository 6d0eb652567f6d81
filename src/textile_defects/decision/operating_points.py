"""The gate's operating point as a QC choice, read on the CV: detection at other target specificities, without a refit.

``gate.target_specificity`` trades false alarms against missed faint defects
(docs/gate.md). Each fold's gate stores the held-out scores of its good
training originals, so the threshold another target would give is read off
them per fold (:mod:`textile_defects.gate.held_out`), and the fold's
out-of-fold scores are re-decided at it: the gate alone and gate-or-classifier
(predict's rule) at each target, with exact intervals. The CV is where this is
chosen; a fresh hold-out draw is where it is tested.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from textile_defects.crossval.scores import OutOfFold
from textile_defects.decision.detectors import GateScores, classifier_arrays, type_accuracy
from textile_defects.decision.rules import decide
from textile_defects.errors import DataError
from textile_defects.gate import metrics
from textile_defects.stats.proportions import format_counts

# A score file keeps the threshold to 6 decimals, the checkpoint its held-out scores likewise.
STORED_MATCH = 5e-7 + 1e-12


def at_fold_thresholds(gate: GateScores, folds: np.ndarray, thresholds: Mapping[int, float]) -> GateScores:
    """``gate`` re-decided with each photo's fold threshold from ``thresholds`` (defective when the score exceeds it)."""
    per_photo = np.array([thresholds[int(fold)] for fold in folds], dtype=np.float64)
    return dataclasses.replace(gate, thresholds=per_photo, verdict=gate.scores > per_photo)


def check_stored(gate: GateScores, folds: np.ndarray, thresholds: Mapping[int, float], target: float) -> None:
    """Refuse fold checkpoints whose held-out scores do not give the thresholds their score files were decided at."""
    for fold, threshold in thresholds.items():
        stored = gate.thresholds[folds == fold]
        if stored.size and np.abs(stored - threshold).max() > STORED_MATCH:
            raise DataError(
                f"fold {fold}: its gate checkpoint gives threshold {threshold:.6f} at target {target}, but its score file "
                f"was decided at {stored[0]:.6f}; the checkpoint and the scores come from different gates: re-run cv_gate."
            )


def operating_points(
    gate: GateScores,
    folds: np.ndarray,
    thresholds: Mapping[float, Mapping[int, float]],
    runs: Mapping[str, OutOfFold],
    classes: Sequence[str],
    good_class: str,
    confidence: float,
) -> dict[str, dict[str, Any]]:
    """``{target: {"gate": figures, "gate_or_<run>": figures}}``: recall and specificity, and for the rule found-and-named-right."""
    points: dict[str, dict[str, Any]] = {}
    for target, per_fold in sorted(thresholds.items()):
        decided = at_fold_thresholds(gate, folds, per_fold)
        entry: dict[str, Any] = {"gate": metrics.operating_point(decided.defective, decided.verdict, confidence)}
        for name, run in runs.items():
            _, _, probabilities = classifier_arrays(run, decided.order, classes, good_class)
            either, named = decide("gate_or_classifier", decided.verdict, probabilities, classes, good_class)
            entry[f"gate_or_{name}"] = {
                **metrics.operating_point(decided.defective, either, confidence),
                **type_accuracy(decided.labels, either, named, classes, good_class, confidence),
            }
        points[f"{target:g}"] = entry
    return points


def operating_points_table(points: Mapping[str, Mapping[str, Any]]) -> str:
    """Markdown: one row per target, for the gate and each gate-or-classifier: defects found, good photos kept."""
    names = list(next(iter(points.values())))
    header = "| gate.target_specificity | " + " | ".join(f"{name}: defects found / good kept" for name in names) + " |"
    lines = [header, "|---:|" + "---:|" * len(names)]
    for target, entry in points.items():
        cells = [f"{format_counts(entry[n]['defect_recall'])} / {format_counts(entry[n]['specificity'])}" for n in names]
        lines.append(f"| {target} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
