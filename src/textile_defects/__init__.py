"""Textile defect classification: a reproducible DVC pipeline.

The library is importable on its own; stage scripts under ``stages/`` load
``params.yaml`` and pass plain values in. Nothing here reads ``params.yaml``.
The classes and the good class are params (``classes``, ``good_class``);
each checkpoint stores its own, and evaluate and predict read them there.
"""

__version__ = "0.1.0"
