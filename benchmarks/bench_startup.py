"""Benchmark: a stage process's start-up, the package's imports against plain torch + torchvision + scikit-learn.

Every DVC stage is a fresh Python process, and in the tiny configuration of the
end-to-end tests (and the CV's 30-odd small stages) importing is most of a
stage's time. Each case imports in a new interpreter, alternating, after one
warm-up round (the file cache):

- ``baseline``: ``import torch, torchvision, sklearn.metrics`` (what a training
  stage loaded before models/torchvision_import.py and the scikit-learn-free
  stats/metrics.py);
- ``torch``: ``import torch`` alone, the floor;
- each stage script given: importing it (its ``main`` does not run).

No assertion: ratios within one run.

    .venv/bin/python benchmarks/bench_startup.py
    .venv/bin/python benchmarks/bench_startup.py --repeats 7 stages/train.py stages/crossval_score.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORT_SCRIPT = (
    "import importlib.util, sys\n"
    "spec = importlib.util.spec_from_file_location('stage', sys.argv[1])\n"
    "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
)
CASES = {"baseline": "import torch, torchvision, sklearn.metrics", "torch": "import torch"}


def seconds(arguments: list[str]) -> float:
    """Wall time of one fresh interpreter running ``arguments``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    subprocess.run([sys.executable, *arguments], cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stages", nargs="*", default=["stages/train.py", "stages/crossval_score.py", "stages/evaluate.py"])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    commands = {name: ["-c", code] for name, code in CASES.items()}
    commands |= {stage: ["-c", IMPORT_SCRIPT, stage] for stage in args.stages}
    for command in commands.values():
        seconds(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeats):
        for name, command in commands.items():
            times[name].append(seconds(command))
    base = statistics.median(times["baseline"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:28s} {median:5.2f} s  {median / base:4.2f} x baseline  (runs {[round(v, 2) for v in values]})")


if __name__ == "__main__":
    main()
