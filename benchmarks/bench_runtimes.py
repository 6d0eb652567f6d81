"""Benchmark: the engine's ONNX files on ONNX Runtime against OpenVINO, one frame at a time, in one run.

The engine runtime was chosen by this comparison (docs/engine.md). Each ONNX file
given (default: the pipeline's ``models/gate.onnx`` and ``models/post_baseline.onnx``)
is read as it is by:

- ``onnxruntime``: the engine's own session settings (CPU provider, ``--threads``
  intra-op threads, full graph optimisation);
- ``openvino_f32``: OpenVINO on the CPU in latency mode, ``--threads`` threads,
  inference precision f32 (the answers the checks of engine/files.py expect);
- ``openvino_bf16``: the same in bf16, OpenVINO's default on CPUs with AMX.

Seeded random uint8 frames at each file's input size; the runtimes alternate,
``--rounds`` times, after one warm-up call each. Prints ms per frame, the ratio to
ONNX Runtime, and the largest difference of each output from ONNX Runtime's,
relative to that output's largest magnitude. OpenVINO is not a dependency of the
project: ``pip install openvino`` to compare (without it, only ONNX Runtime runs).
No assertion: ratios within one run.

    .venv/bin/python benchmarks/bench_runtimes.py
    .venv/bin/python benchmarks/bench_runtimes.py models/gate.onnx --rounds 5 --frames 8
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from textile_defects.engine.session import EngineClassifier, EngineGate
from textile_defects.errors import DataError
from textile_defects.utils.logs import setup_logging

log = logging.getLogger("bench_runtimes")
ROOT = Path(__file__).resolve().parents[1]

Runner = Callable[[np.ndarray], list[np.ndarray]]


def engine_session(path: Path, threads: int):  # type: ignore[no-untyped-def]
    """The engine's own ONNX Runtime session of a gate or classifier file (its kind read from the file)."""
    try:
        return EngineGate(path, threads=threads).session
    except DataError:
        return EngineClassifier(path, threads=threads).session


def openvino_runner(path: Path, threads: int, precision: str) -> Runner | None:
    try:
        import openvino as ov
        import openvino.properties as props
        import openvino.properties.hint as hints
    except ImportError:
        return None
    core = ov.Core()
    config = {
        props.inference_num_threads: threads,
        hints.inference_precision: ov.Type.f32 if precision == "f32" else ov.Type.bf16,
        hints.performance_mode: hints.PerformanceMode.LATENCY,
    }
    compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
    return lambda frame: [np.asarray(output) for output in compiled(frame).values()]


def milliseconds_per_frame(runner: Runner, frames: list[np.ndarray]) -> float:
    start = time.perf_counter()
    for frame in frames:
        runner(frame)
    return (time.perf_counter() - start) / len(frames) * 1000


def largest_relative_difference(reference: list[np.ndarray], other: list[np.ndarray]) -> float:
    return max(float(np.abs(a - b).max() / max(float(np.abs(a).max()), 1e-12)) for a, b in zip(reference, other, strict=True))


def compare(path: Path, threads: int, rounds: int, count: int) -> None:
    session = engine_session(path, threads)
    input_name, shape = session.get_inputs()[0].name, session.get_inputs()[0].shape
    runners: dict[str, Runner] = {"onnxruntime": lambda frame: session.run(None, {input_name: frame})}
    for precision in ("f32", "bf16"):
        runner = openvino_runner(path, threads, precision)
        if runner is None:
            log.warning("openvino is not installed: only ONNX Runtime runs (pip install openvino to compare)")
            break
        runners[f"openvino_{precision}"] = runner
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, size=(1, shape[1], shape[2], 3), dtype=np.uint8) for _ in range(count)]
    reference = runners["onnxruntime"](frames[0])
    differences = {name: largest_relative_difference(reference, runner(frames[0])) for name, runner in runners.items()}
    timings: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, runner in runners.items():
            timings[name].append(milliseconds_per_frame(runner, frames))
    base = float(np.median(timings["onnxruntime"]))
    print(f"{path} ({shape[1]}x{shape[2]}, {threads} threads, median of {rounds} rounds of {count} frames)")
    for name, values in timings.items():
        median = float(np.median(values))
        print(f"  {name:14s} {median:8.1f} ms/frame  {base / median:5.2f}x of onnxruntime  "
              f"largest relative difference {differences[name]:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", type=Path, nargs="*", default=[ROOT / "models/gate.onnx", ROOT / "models/post_baseline.onnx"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=4)
    args = parser.parse_args()
    setup_logging()
    for path in args.files:
        compare(path, args.threads, args.rounds, args.frames)


if __name__ == "__main__":
    main()
