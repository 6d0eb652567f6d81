"""Every detector's figures over one set of scored originals (shared by the CV's gate report and the hold-out)."""

from __future__ import annotations

import numpy as np
import pytest

from textile_defects.crossval.scores import OutOfFold
from textile_defects.decision.as_decided import decided_run, decided_runs
from textile_defects.decision.detectors import GateScores, classifier_detection, type_accuracy
from textile_defects.decision.rules import decide

CLASSES = ("non_defect", "hole", "needle")


def _rows() -> dict[str, dict]:
    # 4 good, 4 defects; the gate (threshold 10) finds d1, d2 and falsely flags g4.
    scores = {"g1": 1.0, "g2": 2.0, "g3": 3.0, "g4": 11.0, "d1": 20.0, "d2": 12.0, "d3": 5.0, "d4": 4.0}
    return {
        o: {"label": "non_defect" if o.startswith("g") else ("needle" if o in ("d3", "d4") else "hole"),
            "fold": 0, "score": s, "threshold": 10.0, "defective": s > 10.0}
        for o, s in scores.items()
    }


def _run(order: tuple[str, ...], probabilities: dict[str, list[float]]) -> OutOfFold:
    # Rows in another order than the gate's: classifier_detection must align them by original_id.
    ids = tuple(reversed(order))
    p = np.array([probabilities[o] for o in ids])
    return OutOfFold(model="m", seed=None, original_ids=ids, folds=np.zeros(len(ids), dtype=np.int64),
                     y_true=np.zeros(len(ids), dtype=np.int64), y_pred=p.argmax(axis=1), probabilities=p)


def test_gate_scores_are_sorted_and_carry_each_frames_threshold() -> None:
    gate = GateScores.from_rows(_rows(), "non_defect")
    assert gate.order == ("d1", "d2", "d3", "d4", "g1", "g2", "g3", "g4")
    assert gate.defective.tolist() == [True] * 4 + [False] * 4
    assert gate.verdict.tolist() == [True, True, False, False, False, False, False, True]
    figures = gate.figures("non_defect", 0.95)
    assert figures["operating_point"]["defect_recall"]["successes"] == 2
    assert figures["operating_point"]["specificity"]["successes"] == 3


def test_each_classifier_is_scored_alone_after_the_gate_and_or_ed_with_it() -> None:
    gate = GateScores.from_rows(_rows(), "non_defect")
    good, hole, needle = [0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]
    # The classifier finds d3 (needle) and d1 (named needle: wrong type), misses d2 and d4; all good photos pass.
    probabilities = {"d1": needle, "d2": good, "d3": needle, "d4": good, "g1": good, "g2": good, "g3": good, "g4": good}
    found = classifier_detection(gate, _run(gate.order, probabilities), CLASSES, "non_defect", 0.95)
    assert found.alone["operating_point"]["defect_recall"]["successes"] == 2
    assert found.alone["operating_point"]["specificity"]["successes"] == 4
    # Gate-then-classifier: the gate found d1, d2; the classifier names d1 needle (wrong), d2 by its best defect class.
    assert found.gate_then["defect_type_accuracy_among_found"]["trials"] == 2
    # Gate or classifier: d1, d2, d3 found; g4 is the gate's false alarm.
    either = found.gate_or["operating_point"]
    assert (either["defect_recall"]["successes"], either["specificity"]["successes"]) == (3, 3)
    assert found.gate_or["defect_type_accuracy_among_found"]["trials"] == 3
    assert found.gate_or["per_class_recall"]["needle"]["successes"] == 1
    assert np.array_equal(found.combined > 0, [True, True, True, False, False, False, False, True])
    assert found.scores == pytest.approx([0.9, 0.1, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1])


def test_gate_then_classifier_names_the_type_among_what_the_gate_rejects() -> None:
    labels = ["non_defect", "hole", "needle", "needle"]
    gate_verdict = np.array([True, True, True, False])
    # The classifier calls the hole good (p_good highest) but its best defect class is hole: counted right.
    probabilities = np.array([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]])
    defective, named = decide("gate", gate_verdict, probabilities, CLASSES, "non_defect")
    accuracy = type_accuracy(labels, defective, named, CLASSES, "non_defect", 0.95)["defect_type_accuracy_among_found"]
    assert (accuracy["successes"], accuracy["trials"]) == (1, 2)


def test_the_label_predict_writes_is_the_rules_verdict_then_the_classifiers_naming() -> None:
    gate = GateScores.from_rows(_rows(), "non_defect")
    good, hole, needle = [0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.6, 0.1, 0.3]
    # d2 and g4: the classifier says good, the gate defective; d3: the classifier's needle, the gate's pass.
    probabilities = {"d1": hole, "d2": needle, "d3": [0.1, 0.1, 0.8], "d4": good, "g1": good, "g2": good, "g3": good, "g4": good}
    run = _run(gate.order, probabilities)
    either = decided_run(gate, run, "gate_or_classifier", CLASSES, "non_defect")
    labels = dict(zip(either.original_ids, either.y_pred.tolist(), strict=True))
    # Defective by gate or classifier; named by the classifier's best defect class (d2: needle over hole, g4: its best defect).
    assert (labels["d1"], labels["d2"], labels["d3"], labels["d4"]) == (1, 2, 2, 0)
    assert labels["g4"] != 0 and labels["g1"] == labels["g2"] == labels["g3"] == 0
    assert either.model == "gate_or_m" and either.probabilities is run.probabilities
    gate_only = decided_run(gate, run, "gate", CLASSES, "non_defect")
    assert dict(zip(gate_only.original_ids, gate_only.y_pred.tolist(), strict=True))["d3"] == 0
    assert set(decided_runs(gate, {"m": [run]}, "gate", CLASSES, "non_defect")) == {"gate_then_m"}


def test_a_run_scoring_other_originals_than_the_gate_is_refused() -> None:
    gate = GateScores.from_rows(_rows(), "non_defect")
    run = _run(gate.order[:-1], {o: [0.9, 0.05, 0.05] for o in gate.order})
    with pytest.raises(ValueError, match="different originals"):
        decided_run(gate, run, "gate_or_classifier", CLASSES, "non_defect")
