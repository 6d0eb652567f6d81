"""Grouped, stratified k-fold cross-validation over ORIGINAL photos (issue 11).

Every original is scored exactly once, by models that never saw it nor any
augmented copy of it; the pooled out-of-fold predictions are the figure to
quote. ``folds`` makes and checks the fold plan, ``scores`` writes the
out-of-fold score CSVs and reads them back, checked against the plan,
``probe`` is the frozen-feature reference, ``training_adapter`` and
``inference_adapter`` are the only places that call the training, inference
and encoder APIs. ``figures`` turns the pooled scores into
``metrics/crossval.json``, ``compare`` sets model blocks side by side within
their noise, ``plots`` draws them, and ``report`` writes the report stage's
outputs. The hold-out and the sweeps reuse all of it.
"""
