"""The decision rules by name, and the one function that applies them.

With an anomaly gate, who decides that a frame is defective:

- ``gate_or_classifier`` (the default; they miss different defects,
  docs/holdout.md): the gate or the classifier
  (:func:`~textile_defects.decision.gate_or_classifier.gate_or_classifier`);
- ``gate``: the gate alone (gate-then-classifier).

Either way the classifier names the defect of a frame called defective
(:func:`~textile_defects.decision.two_stage.two_stage_labels`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from textile_defects.decision.gate_or_classifier import gate_or_classifier
from textile_defects.decision.two_stage import two_stage_labels

RULES: tuple[str, ...] = ("gate_or_classifier", "gate")
"""Who decides defective with a gate: the gate or the classifier (the default, docs/holdout.md), or the gate alone."""


def decide(
    rule: str, gate_defective: np.ndarray, probabilities: np.ndarray, classes: Sequence[str], good_class: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(defective, labels)`` under ``rule``: (N,) verdicts and (N,) class indices into ``classes``.

    ``gate_defective`` is the gate's (N,) verdict (its score above its
    threshold); ``probabilities`` the classifier's (N, C) output in
    ``classes`` order. ``labels`` is ``good_class`` where the frame is not
    defective, else the classifier's most probable defect class.
    """
    if rule not in RULES:
        raise ValueError(f"rule: got {rule!r}; expected one of {list(RULES)}")
    defective = np.asarray(gate_defective, dtype=bool)
    if rule == "gate_or_classifier":
        defective = gate_or_classifier(defective, probabilities, classes, good_class)
    return defective, two_stage_labels(probabilities, defective, classes, good_class)
