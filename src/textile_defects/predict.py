"""Classify new photos with a trained checkpoint.

    python -m textile_defects.predict photos/ --model models/post_baseline.pt --out predictions.csv

Writes one CSV row per image: the predicted class, its probability, every
class's probability, and whether the fabric is defective (any class but the
good one). A folder is searched recursively for .jpg, .jpeg and .png files
(any letter case). A file that cannot be read gets a row with an ``error``
and is skipped; it never stops the batch. The checkpoint carries its classes,
its good class, input size and normalisation, and images go through the same
preprocessing as in ingest, training and evaluation (:mod:`textile_defects.inference`).

Exit status: 0 when at least one image was classified; 2 when the model is
missing or unusable, no image was found, or none could be read.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from textile_defects.data.images import has_supported_suffix, is_ignored_name
from textile_defects.devices import resolve_device
from textile_defects.errors import ConfigError, DataError
from textile_defects.inference import ImagePrediction, predict_files
from textile_defects.models.checkpoint import load_checkpoint
from textile_defects.utils.atomic import atomic_write_text
from textile_defects.utils.params import DEVICES
from textile_defects.utils.stage import run_stage

log = logging.getLogger("textile_defects.predict")


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
    predictions: Sequence[ImagePrediction], classes: Sequence[str], good_class: str, source: Path
) -> str:
    """CSV text: path, predicted, confidence, defective (yes/no), p_<class> per class, error.

    Rows for unreadable files hold the path and the error, other cells empty.
    Probabilities keep 6 decimals.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "predicted", "confidence", "defective", *(f"p_{name}" for name in classes), "error"])
    for prediction in predictions:
        name = display_path(prediction.path, source)
        if prediction.probabilities is None:
            writer.writerow([name, "", "", "", *([""] * len(classes)), prediction.error])
            continue
        best = int(prediction.probabilities.argmax())
        probabilities = [f"{value:.6f}" for value in prediction.probabilities]
        defective = "no" if classes[best] == good_class else "yes"
        writer.writerow([name, classes[best], probabilities[best], defective, *probabilities, ""])
    return buffer.getvalue()


def _summarise(predictions: Sequence[ImagePrediction], classes: Sequence[str], good_class: str, out: Path) -> None:
    """Log what was found: counts per class, defective count, and each skipped file."""
    read = [p for p in predictions if p.probabilities is not None]
    per_class = Counter(classes[int(p.probabilities.argmax())] for p in read)
    defective = sum(count for name, count in per_class.items() if name != good_class)
    for skipped in (p for p in predictions if p.error is not None):
        log.warning("skipped %s", skipped.error)
    log.info(
        "%d image(s) classified, %d defective; %s; %d skipped; wrote %s",
        len(read), defective, ", ".join(f"{name} {per_class[name]}" for name in classes), len(predictions) - len(read), out,
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The CLI's options (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(prog="python -m textile_defects.predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="an image file, or a folder searched recursively")
    parser.add_argument("--model", type=Path, default=Path("models/post_baseline.pt"), help="checkpoint (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("predictions.csv"), help="output CSV (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=16, help="images per forward pass (default: %(default)s)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="default: %(default)s")
    parser.add_argument("--good-class", help="the class meaning good fabric (default: the checkpoint's)")
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
    predictions = list(predict_files(model, model.config.image_size, images, device, batch_size=args.batch_size))
    atomic_write_text(args.out, predictions_csv(predictions, classes, good_class, args.source))
    _summarise(predictions, classes, good_class, args.out)
    if all(p.probabilities is None for p in predictions):
        raise DataError(f"none of the {len(images)} file(s) under {args.source} could be read; see {args.out}.")
    return predictions


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point; exits 2 with a message on a missing model or no readable images."""
    run_stage(lambda: predict(argv))


if __name__ == "__main__":
    main()
