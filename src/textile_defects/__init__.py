"""Textile defect classification: a reproducible DVC pipeline.

The library is importable on its own; stage scripts under ``stages/`` load
``params.yaml`` and pass plain values in. Nothing here reads ``params.yaml``.
"""

CLASSES: tuple[str, ...] = ("non_defect", "hole", "lycra_cut", "needle", "twoply")
"""The report's five classes, in the order used for logits and reports.
``non_defect`` is the one "good" class; every other class is a defect."""

GOOD_CLASS = "non_defect"

__version__ = "0.1.0"
