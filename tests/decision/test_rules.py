"""The decision rules by name: what predict, the gate report and the hold-out report all apply."""

from __future__ import annotations

import numpy as np
import pytest

from textile_defects.decision.rules import RULES, decide

CLASSES = ("non_defect", "hole", "needle")
GATE = np.array([True, False, False])
# Frame 0: the gate rejects it, the classifier calls it good (its best defect class: hole).
# Frame 1: the gate passes it, the classifier sees a needle line. Frame 2: both call it good.
PROBABILITIES = np.array([[0.6, 0.3, 0.1], [0.2, 0.1, 0.7], [0.9, 0.05, 0.05]])


def test_the_gate_alone_decides_and_the_classifier_names_what_it_rejects() -> None:
    defective, labels = decide("gate", GATE, PROBABILITIES, CLASSES, "non_defect")
    assert defective.tolist() == [True, False, False]
    assert labels.tolist() == [1, 0, 0]


def test_gate_or_classifier_also_calls_what_only_the_classifier_finds() -> None:
    defective, labels = decide("gate_or_classifier", GATE, PROBABILITIES, CLASSES, "non_defect")
    assert defective.tolist() == [True, True, False]
    assert labels.tolist() == [1, 2, 0]
    assert RULES[0] == "gate_or_classifier", "the default rule is the one docs/holdout.md measured best"


def test_an_unknown_rule_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="gate_or_classifier"):
        decide("classifier", GATE, PROBABILITIES, CLASSES, "non_defect")
