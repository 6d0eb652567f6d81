"""Classify new photos with a trained checkpoint, behind the anomaly gate when there is one.

    python -m textile_defects.predict photos/ --model models/post_baseline.pt --out predictions.csv
    python -m textile_defects.predict photos/ --gate models/gate.pt --heatmaps heatmaps/
    python -m textile_defects.predict incoming/ --watch --out line.csv          # judge frames as they land
    python -m textile_defects.predict photos/ --bundle bundle/                  # a line PC: no torch needed

Writes one CSV row per image: the predicted class, its probability, every
class's probability, and whether the fabric is defective. Without a gate,
defective means the classifier's most probable class is not the good one.
With a gate (``--gate``; by default ``gate.pt`` beside the ``--model``
checkpoint when it exists, e.g. ``models/gate.pt``; ``--gate none`` to score
with the classifier alone) the prediction has two stages: a frame is
defective when the gate's anomaly score is above its threshold or the
classifier's most probable class is a defect (:mod:`textile_defects.decision.gate_or_classifier`;
they miss different defects, docs/holdout.md), and the classifier names the
defect among the defective frames. ``--rule gate`` lets the gate alone decide
(gate-then-classifier, :mod:`textile_defects.decision.two_stage`); both rules are
:func:`textile_defects.decision.rules.decide`. The row then also holds the anomaly score, the
gate's threshold and the classifier's own answer; ``--heatmaps DIR`` writes
each frame with its patch-score heatmap overlaid.

Each file is decoded once for both models, with ingest's checks: a file ingest
would refuse (unreadable, not a JPEG or PNG, truncated, smaller than ingest's
minimum) gets a row with the reason and never stops the batch. The models run
on ONNX Runtime's CPU provider when their exported ``.onnx`` files lie beside
the checkpoints (``dvc repro export_engine``; a stale one is refused), else in
PyTorch (``--engine``; docs/engine.md). The checkpoint carries its classes, its
good class, input size and normalisation, and images go through the same
preprocessing as in ingest, training and evaluation.

Modules: :mod:`~textile_defects.predict.cli` (options, folder mode),
:mod:`~textile_defects.predict.models` (which models, which engine),
:mod:`~textile_defects.predict.judges` (a frame's probabilities, anomaly score and patch map),
:mod:`~textile_defects.predict.frames` (decoding ahead of the models),
:mod:`~textile_defects.predict.rows` (the CSV), :mod:`~textile_defects.predict.watch` (watch mode),
:mod:`~textile_defects.predict.sources` (which files).

Exit status: 0 when at least one image was classified; 2 when the model is
missing or unusable, no image was found, or none could be read.
"""

from textile_defects.predict.cli import main, parse_args, predict
from textile_defects.predict.judges import FramePrediction
from textile_defects.predict.sources import display_path, find_images

__all__ = ["FramePrediction", "display_path", "find_images", "main", "parse_args", "predict"]
