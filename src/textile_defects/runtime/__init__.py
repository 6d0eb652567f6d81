"""Where and how a model runs: the device, the CPU allocator and the one inference path.

- :mod:`~textile_defects.runtime.devices`: the device, autocast and memory format, chosen without side effects;
- :mod:`~textile_defects.runtime.allocator`: glibc malloc told to keep freed memory (CPU speed);
- :mod:`~textile_defects.runtime.inference`: class probabilities for image files, shared by evaluate and predict.

A package of its own, below training, evaluation, the cross-validation and
predict, which all run models, and above ``data`` (inference reads pixels with
the pipeline's preprocessing). Not ``models/``: models define networks and
their checkpoints and never choose a device; not ``training/``: predict and
evaluate use all three and must never import training (the import contract in
pyproject.toml).
"""
