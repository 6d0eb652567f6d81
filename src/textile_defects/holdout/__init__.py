"""The hold-out test (holdout/dvc.yaml): the pipeline's own models on photos that chose nothing."""

FOLD = 0
"""The one "fold" every hold-out photo is scored in (the CV's score-file contract)."""
