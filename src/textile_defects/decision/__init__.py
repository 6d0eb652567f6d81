"""Defective or good, and which defect: the rules that combine the anomaly gate and a classifier.

- :mod:`~textile_defects.decision.two_stage`: the classifier names the defect of a frame called defective;
- :mod:`~textile_defects.decision.gate_or_classifier`: defective when the gate or the classifier says so, and its score;
- :mod:`~textile_defects.decision.rules`: :func:`~textile_defects.decision.rules.decide`, the one dispatcher of the rules;
- :mod:`~textile_defects.decision.detectors`: every detector and rule scored over one set of scored originals.

Above the gate and the cross-validation, whose outputs the rules combine, and
below predict and the hold-out, which apply them: predict, the CV's gate
report and the hold-out report all decide through :func:`~textile_defects.decision.rules.decide`,
so a rule means the same thing wherever it is used or measured.
"""
