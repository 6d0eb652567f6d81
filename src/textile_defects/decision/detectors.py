"""Defective or good, scored for every detector over one set of scored originals.

The CV's gate report and the hold-out report score the same detectors from
the same files (the gate's scores, each classifier's probabilities), so they
share this: for each classifier, the classifier alone, and each rule of
:mod:`textile_defects.decision.rules` applied as predict applies it:
gate-then-classifier (the gate decides, the classifier names the type) and
gate-or-classifier (either decides).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from textile_defects.decision.gate_or_classifier import combined_scores
from textile_defects.decision.rules import decide
from textile_defects.gate.report import score_figures
from textile_defects.stats.proportions import counted

if TYPE_CHECKING:
    from textile_defects.crossval.scores import OutOfFold


@dataclasses.dataclass(frozen=True)
class GateScores:
    """The gate's view of the scored originals, sorted by original_id: labels, scores, thresholds, verdicts."""

    order: tuple[str, ...]
    labels: tuple[str, ...]
    defective: np.ndarray
    scores: np.ndarray
    thresholds: np.ndarray
    verdict: np.ndarray

    @classmethod
    def from_rows(cls, rows: Mapping[str, Mapping[str, Any]], good_class: str) -> GateScores:
        """From :func:`textile_defects.gate.report.read_gate_scores`' rows."""
        order = tuple(sorted(rows))
        labels = tuple(str(rows[o]["label"]) for o in order)
        return cls(
            order=order,
            labels=labels,
            defective=np.array([label != good_class for label in labels], dtype=bool),
            scores=np.array([rows[o]["score"] for o in order], dtype=np.float64),
            thresholds=np.array([rows[o]["threshold"] for o in order], dtype=np.float64),
            verdict=np.array([rows[o]["defective"] for o in order], dtype=bool),
        )

    def figures(self, good_class: str, confidence: float) -> dict[str, Any]:
        """The gate alone: AUROC, recall at each specificity, its stored decision, per-class recall."""
        return score_figures(self.defective, self.scores, self.verdict, self.labels, good_class, confidence)


@dataclasses.dataclass(frozen=True)
class ClassifierDetection:
    """One classifier's detection figures, and the per-original scores behind its ROC curves.

    ``alone`` and ``gate_or`` are :func:`~textile_defects.gate.report.score_figures`
    blocks (``gate_or`` also holds the :func:`type_accuracy` of what it finds);
    ``gate_then`` is gate-then-classifier's type accuracy (its detection is the gate's).
    """

    alone: dict[str, Any]
    gate_then: dict[str, Any]
    gate_or: dict[str, Any]
    scores: np.ndarray
    combined: np.ndarray


def classifier_arrays(run: OutOfFold, order: Sequence[str], classes: Sequence[str], good_class: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(1 - p_good, predicted != good, probabilities (N, C)) of one out-of-fold run, rows in ``order``."""
    good = list(classes).index(good_class)
    position = {original: i for i, original in enumerate(run.original_ids)}
    index = np.array([position[original] for original in order])
    return 1.0 - run.probabilities[index, good], run.y_pred[index] != good, run.probabilities[index]


def type_accuracy(
    labels: Sequence[str], defective: np.ndarray, named: np.ndarray, classes: Sequence[str], good_class: str, confidence: float
) -> dict[str, Any]:
    """How many defect photos a rule calls defective and names right (``named``: class indices, from :func:`decide`).

    Two shares of the same count: among the defects it finds, and among all
    defect photos ("found and named right", the figure a QC team reads: how
    often a defect leads to the right maintenance action).
    """
    labels = np.asarray(labels)
    names = np.asarray(classes)[named]
    is_defect = labels != good_class
    found = np.asarray(defective, dtype=bool) & is_defect
    right = int((names[found] == labels[found]).sum())
    return {
        "defect_type_accuracy_among_found": counted(right, int(found.sum()), confidence),
        "defect_found_and_named_right": counted(right, int(is_defect.sum()), confidence),
    }


def classifier_detection(
    gate: GateScores, run: OutOfFold, classes: Sequence[str], good_class: str, confidence: float
) -> ClassifierDetection:
    """The classifier ``run`` alone (1 - p_good, argmax), after the gate, and or-ed with the gate."""
    scores, verdict, probabilities = classifier_arrays(run, gate.order, classes, good_class)
    gate_alone, gate_named = decide("gate", gate.verdict, probabilities, classes, good_class)
    either, either_named = decide("gate_or_classifier", gate.verdict, probabilities, classes, good_class)
    combined = combined_scores(gate.scores, gate.thresholds, probabilities, classes, good_class)
    return ClassifierDetection(
        alone=score_figures(gate.defective, scores, verdict, gate.labels, good_class, confidence),
        gate_then=type_accuracy(gate.labels, gate_alone, gate_named, classes, good_class, confidence),
        gate_or={
            **score_figures(gate.defective, combined, either, gate.labels, good_class, confidence),
            **type_accuracy(gate.labels, either, either_named, classes, good_class, confidence),
        },
        scores=scores,
        combined=combined,
    )
