"""The five-class label predict writes, scored like a classifier: a rule's verdict, then a classifier's naming.

Each classifier's own figures (:mod:`textile_defects.crossval.figures`) score
its argmax. With a gate, predict does not write that argmax: the rule decides
defective or good (gate-or-classifier by default, :mod:`textile_defects.decision.rules`)
and only then is the defect named. The F1 macro and per-class recall a QC team
reads off predict's CSV are those of that label, so the reports score it too:
the same runs with ``y_pred`` replaced by :func:`~textile_defects.decision.rules.decide`'s
labels, and the same statistics (bootstrap over photos, exact intervals).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from textile_defects.crossval.scores import OutOfFold
from textile_defects.decision.detectors import GateScores
from textile_defects.decision.rules import decide


def decided_name(rule: str, model: str) -> str:
    """A decided run's model name: ``gate_or_post_baseline`` for gate-or-classifier, ``gate_then_post_baseline`` for the gate alone."""
    return f"gate_or_{model}" if rule == "gate_or_classifier" else f"gate_then_{model}"


def decided_run(gate: GateScores, run: OutOfFold, rule: str, classes: Sequence[str], good_class: str) -> OutOfFold:
    """``run`` with ``y_pred`` the label predict writes under ``rule`` with this gate; its probabilities are kept.

    The gate and the run must score the same originals (in any order: rows are
    matched by ``original_id``); a mismatch is a ValueError naming some of them.
    """
    if set(run.original_ids) != set(gate.order) or len(run.original_ids) != len(gate.order):
        missing = sorted(set(gate.order) ^ set(run.original_ids))[:5]
        raise ValueError(f"{run.model} ({run.run}) and the gate score different originals, e.g. {missing}")
    position = {original: i for i, original in enumerate(gate.order)}
    verdict = gate.verdict[[position[original] for original in run.original_ids]]
    _, labels = decide(rule, verdict, run.probabilities, classes, good_class)
    return dataclasses.replace(run, model=decided_name(rule, run.model), y_pred=labels)


def decided_runs(
    gate: GateScores, pooled: Mapping[str, Sequence[OutOfFold]], rule: str, classes: Sequence[str], good_class: str
) -> dict[str, list[OutOfFold]]:
    """``{decided name: runs}``: every model's runs as :func:`decided_run` labels them, in ``pooled``'s order."""
    return {
        decided_name(rule, model): [decided_run(gate, run, rule, classes, good_class) for run in runs]
        for model, runs in pooled.items()
    }
