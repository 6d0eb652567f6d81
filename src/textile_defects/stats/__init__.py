"""Statistics of predictions: pure functions over labels and counts, and the training history's file.

- :mod:`~textile_defects.stats.intervals`: exact and bootstrap intervals that count photos, not copies;
- :mod:`~textile_defects.stats.proportions`: "k of n" figures, their one schema and their one formatter;
- :mod:`~textile_defects.stats.metrics`: the classification figures that training and evaluation share;
- :mod:`~textile_defects.stats.history`: the per-epoch history training writes and evaluation plots.

Training, evaluation, the gate and the cross-validation all measure with these,
so they live below all of them (the layers in pyproject.toml): training never
has to import evaluation to compute an F1, and nothing here imports a model,
a device or torch.
"""
