"""The hold-out test (holdout/dvc.yaml): the pipeline's own models on photos that chose nothing."""
