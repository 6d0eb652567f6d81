"""Classify new photos with a trained checkpoint, behind the anomaly gate when there is one.

    python -m textile_defects.predict photos/ --model models/post_baseline.pt --out predictions.csv
    python -m textile_defects.predict photos/ --gate models/gate.pt --heatmaps heatmaps/

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
each frame with its patch-score heatmap overlaid. A folder is searched recursively for .jpg, .jpeg and .png files
(any letter case). A file that cannot be read gets a row with an ``error``
and is skipped; it never stops the batch. The checkpoint carries its classes,
its good class, input size and normalisation, and images go through the same
preprocessing as in ingest, training and evaluation (:mod:`textile_defects.runtime.inference`).

Exit status: 0 when at least one image was classified; 2 when the model is
missing or unusable, no image was found, or none could be read.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textile_defects.data.images import has_supported_suffix, is_ignored_name, prepare_image
from textile_defects.decision.rules import RULES, decide
from textile_defects.errors import ConfigError, DataError
from textile_defects.models.checkpoint import load_checkpoint
from textile_defects.runtime.allocator import keep_freed_memory
from textile_defects.runtime.devices import resolve_device
from textile_defects.runtime.inference import ImagePrediction, predict_files
from textile_defects.utils.atomic import atomic_write_text
from textile_defects.utils.params import DEVICES
from textile_defects.utils.stage import run_stage

log = logging.getLogger("textile_defects.predict")

GATE_FILE = "gate.pt"
"""The gate used by default: this file beside the classifier checkpoint (train_gate writes models/gate.pt)."""


@dataclasses.dataclass(frozen=True)
class GateVerdicts:
    """The gate's view of the readable images, in prediction order: (N,) scores, its threshold, and the rule."""

    scores: np.ndarray
    threshold: float
    rule: str = RULES[0]

    @property
    def defective(self) -> np.ndarray:
        return self.scores > self.threshold


def find_images(source: Path) -> list[Path]:
    """``source`` itself when it is a file, else every .jpg/.jpeg/.png below it, sorted.

    Hidden files and folders (``.DS_Store``, ``.thumbnails``) and operating
    system leftovers (``Thumbs.db``, ``__MACOSX``) are skipped.
    """
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise DataError(f"{source}: no such file or folder; pass an image or a folder of images.")
    found = []
    for path in source.rglob("*"):
        parts = path.relative_to(source).parts
        if path.is_file() and has_supported_suffix(path) and not any(is_ignored_name(part) for part in parts):
            found.append(path)
    return sorted(found, key=lambda path: path.relative_to(source).as_posix())


def display_path(path: Path, source: Path) -> str:
    """How a file is named in the output: relative to ``source`` when that is a folder."""
    return path.relative_to(source).as_posix() if source.is_dir() else str(path)


def predictions_csv(
    predictions: Sequence[ImagePrediction],
    classes: Sequence[str],
    good_class: str,
    source: Path,
    gate: GateVerdicts | None = None,
) -> str:
    """CSV text: path, predicted, confidence, defective (yes/no), [gate columns], p_<class> per class, error.

    With ``gate`` (one score per readable image, in order) the columns
    ``anomaly_score``, ``gate_threshold`` and ``classifier_predicted`` follow
    ``defective``, and ``predicted`` is the two-stage answer: the gate or the
    classifier decides defective (``gate.rule`` "gate_or_classifier"), or the
    gate alone ("gate"), and the classifier names the defect. Rows for
    unreadable files hold the path and the error, other cells empty.
    Probabilities keep 6 decimals.
    """
    gate_columns = ["anomaly_score", "gate_threshold", "classifier_predicted"] if gate is not None else []
    read = [p for p in predictions if p.probabilities is not None]
    labels = np.array([int(p.probabilities.argmax()) for p in read], dtype=np.int64)
    if gate is not None and read:
        probabilities = np.stack([p.probabilities for p in read])
        _, labels = decide(gate.rule, gate.defective, probabilities, classes, good_class)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "predicted", "confidence", "defective", *gate_columns, *(f"p_{name}" for name in classes), "error"])
    position = 0
    for prediction in predictions:
        name = display_path(prediction.path, source)
        if prediction.probabilities is None:
            writer.writerow([name, "", "", "", *([""] * len(gate_columns)), *([""] * len(classes)), prediction.error])
            continue
        label = int(labels[position])
        probabilities = [f"{value:.6f}" for value in prediction.probabilities]
        defective = "no" if classes[label] == good_class else "yes"
        extra = []
        if gate is not None:
            own = classes[int(prediction.probabilities.argmax())]
            extra = [f"{gate.scores[position]:.6f}", f"{gate.threshold:.6f}", own]
        writer.writerow([name, classes[label], probabilities[label], defective, *extra, *probabilities, ""])
        position += 1
    return buffer.getvalue()


def _summarise(predictions: Sequence[ImagePrediction], csv_text: str, good_class: str, out: Path) -> None:
    """Log what was found (counts per predicted class, defective count) and each skipped file."""
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    per_class = Counter(row["predicted"] for row in rows if row["predicted"])
    defective = sum(1 for row in rows if row["defective"] == "yes")
    for skipped in (p for p in predictions if p.error is not None):
        log.warning("skipped %s", skipped.error)
    log.info(
        "%d image(s) classified, %d defective; %s; %d skipped; wrote %s",
        sum(per_class.values()), defective, ", ".join(f"{name} {count}" for name, count in sorted(per_class.items())),
        len(predictions) - sum(per_class.values()), out,
    )


def _gate_scores(
    gate_path: Path, predictions: Sequence[ImagePrediction], source: Path, heatmaps: Path | None, rule: str
) -> GateVerdicts:
    """Anomaly scores of the readable images (and their heatmaps in ``heatmaps`` when asked)."""
    # Imported here: the gate brings its own encoder, needed only when a gate is used.
    from textile_defects.gate.checkpoint import load_gate
    from textile_defects.gate.heatmap import write_overlay

    gate, _ = load_gate(gate_path)
    log.info("anomaly gate %s: threshold %.4f, frames read at %dx%d", gate_path, gate.threshold, *gate.image_size)
    readable = [p.path for p in predictions if p.probabilities is not None]
    scores, maps = gate.score_files(readable)
    if heatmaps is not None:
        for path, patch_map in zip(readable, maps, strict=True):
            name = display_path(path, source).replace("/", "__")
            write_overlay(heatmaps / f"{Path(name).stem}.png", prepare_image(path, gate.image_size), patch_map, gate.threshold)
        log.info("wrote %d heatmap(s) to %s", len(readable), heatmaps)
    return GateVerdicts(scores=scores, threshold=gate.threshold, rule=rule)


def _gate_path(option: str | None, heatmaps: Path | None, model: Path) -> Path | None:
    """The gate to use: the option's file, none for ``none``, else gate.pt beside ``model`` when it exists."""
    if option is not None:
        if option.lower() == "none":
            if heatmaps is not None:
                raise ConfigError("--heatmaps needs the anomaly gate; drop --gate none or --heatmaps.")
            return None
        return Path(option)
    beside = model.parent / GATE_FILE
    if beside.is_file():
        return beside
    if heatmaps is not None:
        raise ConfigError(f"--heatmaps needs an anomaly gate: pass --gate PATH, or build {beside} with `dvc repro train_gate`.")
    log.info("no anomaly gate (%s not found): the classifier alone decides defective or good", beside)
    return None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The CLI's options (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(prog="python -m textile_defects.predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="an image file, or a folder searched recursively")
    parser.add_argument("--model", type=Path, default=Path("models/post_baseline.pt"), help="checkpoint (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("predictions.csv"), help="output CSV (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=16, help="images per forward pass (default: %(default)s)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="default: %(default)s")
    parser.add_argument("--good-class", help="the class meaning good fabric (default: the checkpoint's)")
    parser.add_argument(
        "--gate", help=f"anomaly gate checkpoint; 'none' = classifier alone (default: {GATE_FILE} beside --model, when it exists)"
    )
    parser.add_argument("--heatmaps", type=Path, help="write each frame with the gate's patch-score heatmap here (PNG)")
    parser.add_argument(
        "--rule", choices=RULES,
        help="with a gate, who decides defective: the gate or the classifier, or the gate alone "
        f"(gate-then-classifier); measured in docs/holdout.md; default: {RULES[0]}",
    )
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f"--batch-size must be at least 1, got {args.batch_size}")
    return args


def predict(argv: Sequence[str] | None = None) -> list[ImagePrediction]:
    """Run the CLI with ``argv``: classify, write the CSV, log a summary; returns every prediction."""
    args = parse_args(argv)
    model, meta = load_checkpoint(args.model, map_location="cpu")
    classes = list(model.classes)
    good_class = args.good_class or meta["good_class"]
    if good_class not in classes:
        raise ConfigError(f"--good-class {good_class!r} is not a class of {args.model} ({classes}).")
    images = find_images(args.source)
    if not images:
        raise DataError(f"{args.source}: no .jpg, .jpeg or .png files found (searched recursively).")
    log.info("classifying %d image(s) with %s", len(images), args.model)
    device = resolve_device(args.device)
    gate_path = _gate_path(args.gate, args.heatmaps, args.model)
    if gate_path is None and args.rule is not None:
        raise ConfigError(f"--rule {args.rule} needs the anomaly gate; drop --gate none, or pass --gate PATH.")
    rule = args.rule or RULES[0]
    predictions = list(predict_files(model, model.config.image_size, images, device, batch_size=args.batch_size))
    readable = any(p.probabilities is not None for p in predictions)
    gate = _gate_scores(gate_path, predictions, args.source, args.heatmaps, rule) if gate_path is not None and readable else None
    text = predictions_csv(predictions, classes, good_class, args.source, gate)
    atomic_write_text(args.out, text)
    _summarise(predictions, text, good_class, args.out)
    if not readable:
        raise DataError(f"none of the {len(images)} file(s) under {args.source} could be read; see {args.out}.")
    return predictions


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point; exits 2 with a message on a missing model or no readable images."""
    keep_freed_memory()  # CPU: reuse freed buffers instead of page-faulting each batch
    run_stage(lambda: predict(argv))


if __name__ == "__main__":
    main()
