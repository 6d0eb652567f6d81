"""predict's command line: the models chosen, folder or watch mode run, the CSV written, a summary logged."""

from __future__ import annotations

import argparse
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from textile_defects.data.frames import DEFAULT_MIN_FRAME_SIZE
from textile_defects.decision.rules import RULES
from textile_defects.errors import DataError
from textile_defects.predict.frames import judge_all, read_ahead
from textile_defects.predict.judges import ENGINES, FramePrediction, Judge, ModelsInfo
from textile_defects.predict.models import DEFAULT_MODEL, choose_judge, gate_path
from textile_defects.predict.naming import DEFAULT_NAMING, DEFAULT_TYPE_WEIGHT, NAMINGS, TYPE_FILE, gate_sha256_of, with_naming
from textile_defects.predict.rows import csv_lines, header, row
from textile_defects.predict.sources import display_path, find_images
from textile_defects.utils.atomic import atomic_write_text
from textile_defects.utils.logs import progress
from textile_defects.utils.params import DEVICES, available_cores

log = logging.getLogger("textile_defects.predict")


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(part.isdigit() and int(part) >= 1 for part in parts):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels, e.g. 224x224; got {text!r}")
    return int(parts[0]), int(parts[1])


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The CLI's options (``argv`` defaults to ``sys.argv[1:]``)."""
    from textile_defects.predict import __doc__ as doc

    parser = argparse.ArgumentParser(prog="python -m textile_defects.predict", description=(doc or "").split("\n\n")[0])
    parser.add_argument("source", type=Path, help="an image file, or a folder searched recursively (with --watch: the folder to watch)")
    parser.add_argument("--model", type=Path, help=f"classifier checkpoint (default: {DEFAULT_MODEL})")
    parser.add_argument("--out", type=Path, default=Path("predictions.csv"), help="output CSV (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=16, help="frames read ahead and judged together (default: %(default)s)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="default: %(default)s (cuda runs PyTorch)")
    parser.add_argument("--good-class", help="the class meaning good fabric (default: the model's)")
    parser.add_argument("--gate", help="anomaly gate checkpoint; 'none' = classifier alone (default: gate.pt beside --model, when it exists)")
    parser.add_argument("--heatmaps", type=Path, help="write each frame with the gate's patch-score heatmap here (PNG)")
    parser.add_argument(
        "--rule", choices=RULES,
        help="with a gate, who decides defective: the gate or the classifier, or the gate alone "
        f"(gate-then-classifier); measured in docs/holdout.md; default: {RULES[0]}",
    )
    parser.add_argument(
        "--engine", choices=ENGINES, default="auto",
        help="onnx: ONNX Runtime on the exported .onnx beside each checkpoint; torch: the checkpoints in PyTorch; "
        "auto (default): onnx on CPU when the files are there, else torch",
    )
    parser.add_argument("--bundle", type=Path, help="run from a bundle folder (python -m textile_defects.engine.bundle) instead of --model/--gate")
    parser.add_argument(
        "--min-size", type=_size, metavar="WxH",
        help="smallest frame judged, as ingest checks photos (default: the engine files' record of ingest.min_width x "
        f"min_height, else {DEFAULT_MIN_FRAME_SIZE[0]}x{DEFAULT_MIN_FRAME_SIZE[1]})",
    )
    parser.add_argument(
        "--naming", choices=NAMINGS, default=DEFAULT_NAMING,
        help="who names the defect of a defective frame: type (the type classifier on the gate's region, docs/naming.md), "
        "mixed (the type classifier and the classifier together), classifier, or auto (mixed when the type classifier's "
        "file is found and a gate is in use, else classifier); default: %(default)s",
    )
    parser.add_argument(
        "--type-weight", type=float, default=DEFAULT_TYPE_WEIGHT,
        help="--naming mixed: the type classifier's weight in the mix, 0 to 1 (1: it alone); default: %(default)s",
    )
    parser.add_argument("--type", type=Path, help=f"type classifier file (default: {TYPE_FILE} beside --model)")
    parser.add_argument("--watch", action="store_true", help="judge frames as they land in SOURCE, appending rows to --out (docs/engine.md)")
    parser.add_argument("--poll", type=float, default=0.2, help="watch: seconds between looks at the folder (default: %(default)s)")
    parser.add_argument("--settle", type=float, default=0.5, help="watch: seconds a file's size must stay unchanged before it is read (default: %(default)s)")
    parser.add_argument("--retry-for", type=float, default=30.0, help="watch: seconds a truncated file is retried before its row says so (default: %(default)s)")
    parser.add_argument("--max-frames", type=int, help="watch: stop after this many rows (default: run until interrupted)")
    parser.add_argument("--idle-exit", type=float, help="watch: stop after this many seconds with nothing new (default: never)")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.bundle is not None and (args.model is not None or (args.gate or "none").lower() != "none"):
        parser.error("--bundle holds its own classifier and gate: drop --model and --gate (--gate none drops its gate)")
    watch_only = [name for name in ("max_frames", "idle_exit") if getattr(args, name) is not None]
    if watch_only and not args.watch:
        parser.error(f"--{watch_only[0].replace('_', '-')} applies to --watch only")
    return args


def min_frame_size(args: argparse.Namespace, info: ModelsInfo) -> tuple[int, int]:
    """The smallest frame judged: --min-size, else the engine files' record of ingest's, else ingest's default."""
    return args.min_size or info.min_frame_size or DEFAULT_MIN_FRAME_SIZE


def heatmap_writer(folder: Path, source: Path, info: ModelsInfo):  # type: ignore[no-untyped-def]
    from textile_defects.gate.heatmap import write_overlay  # matplotlib and OpenCV: only when asked for

    def write(frame, prediction: FramePrediction) -> None:  # type: ignore[no-untyped-def]
        name = display_path(frame.path, source).replace("/", "__")
        named = prediction.probabilities is not None and prediction.region_box is not None
        caption = info.classes[int(prediction.probabilities.argmax())] if named else None  # type: ignore[union-attr]
        # The type classifier's frame when it names (its box is in those pixels), else the gate's.
        write_overlay(folder / f"{Path(name).stem}.png", frame.pixels[info.naming_size or info.gate_size], prediction.patch_map, info.threshold,
                      box=prediction.region_box if named else None, caption=caption)  # fmt: skip

    return write


def judge_folder(args: argparse.Namespace, judge: Judge, rule: str) -> list[FramePrediction]:
    """Folder mode: every image under ``args.source`` judged, the CSV written atomically, a summary logged."""
    images = find_images(args.source)
    if not images:
        raise DataError(f"{args.source}: no .jpg, .jpeg or .png files found (searched recursively).")
    info = judge.info
    minimum = min_frame_size(args, info)
    log.info("judging %d image(s); frames below %dx%d refused as ingest refuses them", len(images), *minimum)
    on_judged = heatmap_writer(args.heatmaps, args.source, info) if args.heatmaps is not None else None
    frames = read_ahead(images, info.sizes, minimum, workers=min(args.batch_size, available_cores()), ahead=2 * args.batch_size)
    predictions = []
    for prediction in progress(judge_all(judge, frames, batch_size=args.batch_size, on_judged=on_judged), total=len(images), desc="predict", unit="img"):
        predictions.append(prediction)
    rows = [header(info)] + [row(p, display_path(p.path, args.source), info, rule) for p in predictions]
    atomic_write_text(args.out, csv_lines(rows))
    summarise(predictions, rows, args.out)
    if args.heatmaps is not None:
        log.info("wrote %d heatmap(s) to %s", sum(p.patch_map is not None for p in predictions), args.heatmaps)
    if not any(p.probabilities is not None for p in predictions):
        raise DataError(f"none of the {len(images)} file(s) under {args.source} could be read; see {args.out}.")
    return predictions


def summarise(predictions: Sequence[FramePrediction], rows: Sequence[Sequence[str]], out: Path) -> None:
    """Log what was found (counts per predicted class, defective count) and each skipped file."""
    per_class = Counter(cells[1] for cells in rows[1:] if cells[1])
    defective = sum(1 for cells in rows[1:] if cells[3] == "yes")
    for skipped in (p for p in predictions if p.error is not None):
        log.warning("skipped %s", skipped.error)
    log.info(
        "%d image(s) classified, %d defective; %s; %d skipped; wrote %s",
        sum(per_class.values()), defective, ", ".join(f"{name} {count}" for name, count in sorted(per_class.items())),
        len(predictions) - sum(per_class.values()), out,
    )


def predict(argv: Sequence[str] | None = None) -> list[FramePrediction]:
    """Run the CLI with ``argv``: judge, write the CSV, log a summary; returns every prediction (watch mode: this run's)."""
    args = parse_args(argv)
    bundle = None
    if args.bundle is not None:
        from textile_defects.engine.bundle import read_bundle

        bundle = read_bundle(args.bundle)  # read and checked once, for the judge and its type classifier
    judge = choose_judge(args, bundle)
    model = args.model or DEFAULT_MODEL
    type_file = args.type or (bundle.type_model if bundle is not None else model.parent / TYPE_FILE)
    gate_file = None if args.bundle is not None else gate_path(args.gate, args.heatmaps, model)
    judge = with_naming(judge, args.naming, type_file, gate_sha256_of(judge, gate_file), args.type_weight)
    rule = args.rule or RULES[0]
    if args.watch:
        from textile_defects.predict.watch import watch

        return watch(args, judge, rule)
    return judge_folder(args, judge, rule)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point; exits 2 with a message on a missing model or no readable images."""
    from textile_defects.runtime.allocator import keep_freed_memory
    from textile_defects.utils.stage import run_stage

    keep_freed_memory()  # CPU: reuse freed buffers instead of page-faulting each batch
    run_stage(lambda: predict(argv))
