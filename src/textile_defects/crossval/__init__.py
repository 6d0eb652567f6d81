"""Grouped, stratified k-fold cross-validation over ORIGINAL photos (issue 11).

Every original is scored exactly once, by models that never saw it nor any
augmented copy of it; the pooled out-of-fold predictions are the figure to
quote. ``folds`` makes and checks the fold plan, ``scores`` reads and writes
the out-of-fold score CSVs, ``probe`` is the frozen-feature reference,
``training_adapter`` and ``inference_adapter`` are the only places that call
the training, inference and encoder APIs, and ``report`` pools everything into
the report stage's outputs.
"""
