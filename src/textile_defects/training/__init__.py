"""Training a classifier: one run end to end (:mod:`~textile_defects.training.trainer`), its schedule, losses, samplers and tracking.

Measures itself with :mod:`textile_defects.stats` and runs on
:mod:`textile_defects.runtime`; evaluation, predict and inference never import
it (the import contracts in pyproject.toml).
"""
