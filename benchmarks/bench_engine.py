"""Benchmark: two-stage predict on full-size frames, the engine against today's PyTorch path, in one run.

On ``--threads`` cores (default 2), the same generated 1270x720 sample frames
(good ones and each defect class, PNGs in a temporary folder), the same
classifier and gate checkpoints (default ``models/post_baseline.pt`` and
``models/gate.pt``; their engine files beside them, or exported into the
temporary folder when absent):

- today: the PyTorch path predict had before the engine: the classifier over the
  folder in batches (``runtime.inference.predict_files``), then the gate decoding
  every frame again (``Gate.score_files``); with ``--today-gate`` it runs the gate
  predict had then (the full-resolution one, gate.image_size [1270, 720], before
  2026-12-03), so the ratio is what the line PC gains from both the engine and the
  lighter gate;
- torch: predict's PyTorch fallback now (each frame decoded once, ``--engine torch``);
- engine: predict's default on CPU (ONNX Runtime, each frame decoded once, decoding
  ahead of the models), with ingest's checks on every frame;
- bare: the ceiling, ONNX Runtime's forward passes of both graphs alone on frames
  already decoded and prepared;
- watch: ``predict --watch`` fed one frame every ``--interval`` seconds (written under
  a hidden name, then renamed into the folder, as a camera should): the latency from
  landing to row, p50 and p95.

Prints frames/s of each, the engine's ratio to today's and to the bare ceiling,
and whether every decision agrees. No assertion: ratios within one run.

    .venv/bin/python benchmarks/bench_engine.py                      # models/*.pt, 24 frames, 2 threads
    .venv/bin/python benchmarks/bench_engine.py --frames 12 --watch-frames 10
    .venv/bin/python benchmarks/bench_engine.py --today-gate gate_1270x720.pt   # against the old full-resolution gate

The full-resolution gate for ``--today-gate``, as main had it before 2026-12-03:
``dvc get . models/gate.pt --rev b62207f -o gate_1270x720.pt`` (docs/engine.md).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

from textile_defects.data.frames import DEFAULT_MIN_FRAME_SIZE, read_frame
from textile_defects.data.sample import make_image
from textile_defects.decision.rules import RULES, decide
from textile_defects.engine.files import engine_path
from textile_defects.predict import predict
from textile_defects.predict.frames import judge_all, read_ahead
from textile_defects.predict.judges import EngineJudge, TorchJudge
from textile_defects.runtime.allocator import keep_freed_memory
from textile_defects.utils.logs import setup_logging

log = logging.getLogger("bench_engine")
CLASSES_DRAWN = ("non_defect", "non_defect", "hole", "lycra_cut", "needle", "twoply")


def write_frames(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    paths = []
    for index in range(count):
        label = CLASSES_DRAWN[index % len(CLASSES_DRAWN)]
        rgb, _ = make_image(label, index, seed=20261202, width=size[0], height=size[1])
        paths.append(folder / f"{index:03d}_{label}.png")
        rgb.save(paths[-1])
    return paths


def engine_files(model: Path, gate: Path, scratch: Path) -> tuple[Path, Path, Path, Path]:
    """Checkpoints with current engine files beside them: the given ones, or copies exported in ``scratch``."""
    if all(engine_path(p).is_file() for p in (model, gate)):
        return model, gate, engine_path(model), engine_path(gate)
    from textile_defects.engine.export import export_classifier, export_gate

    model, gate = Path(shutil.copy(model, scratch)), Path(shutil.copy(gate, scratch))
    log.warning("exporting the engine files into %s (no current ones beside the checkpoints)", scratch)
    export_classifier(model, engine_path(model), min_frame_size=DEFAULT_MIN_FRAME_SIZE)
    export_gate(gate, engine_path(gate), min_frame_size=DEFAULT_MIN_FRAME_SIZE)
    return model, gate, engine_path(model), engine_path(gate)


def timed(run) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def today(model_path: Path, gate_path: Path, paths: list[Path]) -> tuple[np.ndarray, np.ndarray, float]:
    """The pre-engine predict path: classifier batches over the files, then the gate decoding them again."""
    from textile_defects.gate.checkpoint import load_gate
    from textile_defects.models.checkpoint import load_checkpoint
    from textile_defects.runtime.devices import resolve_device
    from textile_defects.runtime.inference import predict_files

    model, _ = load_checkpoint(model_path)
    gate, _ = load_gate(gate_path)

    def run() -> tuple[np.ndarray, np.ndarray]:
        predictions = list(predict_files(model, model.config.image_size, paths, resolve_device("cpu"), batch_size=16))
        scores, _ = gate.score_files([p.path for p in predictions], desc="gate")
        return np.stack([p.probabilities for p in predictions]), scores

    seconds, (probabilities, scores) = timed(run)
    return probabilities, scores, seconds


def through_predict(judge, paths: list[Path]) -> tuple[np.ndarray, np.ndarray, float]:  # type: ignore[no-untyped-def]
    """predict's own pipeline (decode once, ahead of the models; ingest's checks) with ``judge``."""
    info = judge.info

    def run() -> list:
        frames = read_ahead(paths, info.sizes, DEFAULT_MIN_FRAME_SIZE, workers=2, ahead=32)
        return list(judge_all(judge, frames, batch_size=16))

    seconds, predictions = timed(run)
    return np.stack([p.probabilities for p in predictions]), np.array([p.anomaly_score for p in predictions]), seconds


def bare(judge: EngineJudge, paths: list[Path]) -> float:
    """ONNX Runtime's forward passes alone, on frames decoded and prepared beforehand."""
    info = judge.info
    frames = [read_frame(p, info.sizes, DEFAULT_MIN_FRAME_SIZE) for p in paths]
    classifier_in = [f.pixels[info.classifier_size][None] for f in frames]
    gate_in = [f.pixels[info.gate_size][None] for f in frames]

    def run() -> None:
        for c, g in zip(classifier_in, gate_in, strict=True):
            judge.classifier.session.run(None, {judge.classifier.input_name: c})
            judge.gate.session.run(None, {judge.gate.input_name: g})

    seconds, _ = timed(run)
    return seconds


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def watch_latency(model: Path, paths: list[Path], scratch: Path, interval: float) -> tuple[float, float, str]:
    """predict --watch fed one frame every ``interval`` s; (p50, p95) latency from landing to row, and the summary line."""
    incoming, out = scratch / "incoming", scratch / "line.csv"
    incoming.mkdir()

    def camera() -> None:
        time.sleep(1.0)
        for path in paths:
            hidden = incoming / f".{path.name}"
            shutil.copyfile(path, hidden)
            os.replace(hidden, incoming / path.name)
            time.sleep(interval)

    handler = _Lines()
    logger = logging.getLogger("textile_defects.predict")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)  # the summary line is INFO; the console handler stays at WARNING
    feeder = threading.Thread(target=camera)
    feeder.start()
    predict([str(incoming), "--watch", "--model", str(model), "--out", str(out), "--max-frames", str(len(paths)),
             "--poll", "0.05", "--settle", "0.1", "--batch-size", "1"])
    feeder.join()
    logger.removeHandler(handler)
    summary = next(line for line in handler.lines if "latency from landing" in line)
    p50, p95 = (float(v) for v in re.findall(r"p(?:50|95) ([0-9.]+) s", summary))
    return p50, p95, summary


def decisions(probabilities: np.ndarray, scores: np.ndarray, threshold: float, classes, good: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    return decide(RULES[0], scores > threshold, probabilities, classes, good)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/post_baseline.pt"))
    parser.add_argument("--gate", type=Path, default=Path("models/gate.pt"))
    parser.add_argument("--frames", type=int, default=24, help="full-size frames judged by each path")
    parser.add_argument("--watch-frames", type=int, default=12, help="frames fed to watch mode")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between two frames landing in watch mode")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frame-size", type=int, nargs=2, default=[1270, 720], metavar=("W", "H"),
                        help="the camera's frames, written at this size whatever the models read")
    parser.add_argument("--today-gate", type=Path,
                        help="the gate today's path runs (default --gate): e.g. the old full-resolution one")
    args = parser.parse_args()
    setup_logging("WARNING")
    keep_freed_memory()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TQDM_DISABLE", "1")
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        model, gate, model_onnx, gate_onnx = engine_files(args.model, args.gate, scratch)
        engine = EngineJudge(model_onnx, gate_onnx, classifier_checkpoint=model, gate_checkpoint=gate)
        (scratch / "frames").mkdir()
        paths = write_frames(scratch / "frames", args.frames, tuple(args.frame_size))
        from textile_defects.models.checkpoint import load_checkpoint

        classifier, meta = load_checkpoint(model)
        torch_judge = TorchJudge(classifier, meta, "cpu", gate, None)
        p_today, s_today, t_today = today(model, args.today_gate or gate, paths)
        p_torch, s_torch, t_torch = through_predict(torch_judge, paths)
        p_engine, s_engine, t_engine = through_predict(engine, paths)
        t_bare = bare(engine, paths)
        info = engine.info
        d = {name: decisions(p, s, info.threshold, info.classes, info.good_class)
             for name, (p, s) in {"today": (p_today, s_today), "torch": (p_torch, s_torch), "engine": (p_engine, s_engine)}.items()}
        report(args, model.name, gate.name, info, (t_today, t_torch, t_engine, t_bare), (p_today, s_today), (p_engine, s_engine),
               (p_torch, s_torch), d)
        p50, p95, summary = watch_latency(model, paths[: args.watch_frames], scratch, args.interval)
    print(f"watch mode, one frame every {args.interval:g} s ({args.watch_frames} frames): latency landing -> row p50 {p50:.2f} s, p95 {p95:.2f} s")
    print(f"  ({summary})")


def report(args, model_name, gate_name, info, seconds, today_out, engine_out, torch_out, d) -> None:  # type: ignore[no-untyped-def]
    n = args.frames
    rate = {name: n / t for name, t in zip(("today", "torch", "engine", "bare"), seconds, strict=True)}
    print(f"{n} frames of {args.frame_size[0]}x{args.frame_size[1]}, gate at {info.gate_size[0]}x{info.gate_size[1]}, "
          f"{args.threads} threads, {model_name} + {gate_name}")
    if args.today_gate:
        print(f"today's path runs {args.today_gate} (another gate: its scores and decisions are not the engine's to match)")
    print(f"{'path':<44}{'frames/s':>10}")
    print(f"{'today: PyTorch, each frame decoded twice':<44}{rate['today']:>10.2f}")
    print(f"{'PyTorch fallback, decoded once':<44}{rate['torch']:>10.2f}")
    print(f"{'engine: ONNX Runtime, decoded once':<44}{rate['engine']:>10.2f}")
    print(f"{'bare engine forward (ceiling)':<44}{rate['bare']:>10.2f}")
    print(f"engine / today: {rate['engine'] / rate['today']:.2f}x   engine / bare ceiling: {rate['engine'] / rate['bare']:.2f}"
          f"   PyTorch fallback / today: {rate['torch'] / rate['today']:.2f}x")
    (p_today, s_today), (p_engine, s_engine), (p_torch, s_torch) = today_out, engine_out, torch_out
    print(f"max |p engine - p torch|: {np.abs(p_engine - p_torch).max():.2e}   "
          f"max |score engine - score torch| / threshold: {np.abs(s_engine - s_torch).max() / info.threshold:.2e}   "
          f"decisions differing: {int((d['engine'] != d['torch']).sum())} of {n}")
    if not args.today_gate:
        print(f"max |p engine - p today|: {np.abs(p_engine - p_today).max():.2e}   "
              f"max |score engine - score today| / threshold: {np.abs(s_engine - s_today).max() / info.threshold:.2e}")
    print(f"decisions differing from today's: engine {int((d['engine'] != d['today']).sum())}, "
          f"torch fallback {int((d['torch'] != d['today']).sum())} of {n}", flush=True)


if __name__ == "__main__":
    main()
