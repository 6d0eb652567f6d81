"""The inference engine: the classifier and the gate exported to ONNX and run by ONNX Runtime's CPU provider.

- :mod:`~textile_defects.engine.files`: the engine file's self-description (what it was exported
  from, with the checkpoint's SHA-256), the tolerances, and the check that refuses a stale file;
- :mod:`~textile_defects.engine.session`: ONNX Runtime sessions for both models (no torch);
- :mod:`~textile_defects.engine.graphs`: the torch modules the export traces;
- :mod:`~textile_defects.engine.export`: checkpoint -> ONNX, checked against PyTorch before it is written.

``files`` and ``session`` import neither torch nor any module that does, so a line PC
runs predict from a bundle with onnxruntime, numpy and Pillow alone (docs/engine.md).
PyTorch stays the training engine, and predict's fallback (``--engine torch``).
"""
