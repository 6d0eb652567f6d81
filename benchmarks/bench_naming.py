"""Benchmark: predict's cost of naming the defect, in one run: --naming classifier against the default (mixed) and type.

predict judges the same folder of frames (default: the hold-out draw's first
20 good photos and 5 of each defect class, copied to a temporary folder) with
each naming, alternating, after one warm-up run. The naming step runs only on
frames some rule may call defective, so its cost is given per such frame.
No assertion: times within one run.

    .venv/bin/python benchmarks/bench_naming.py                       # data/holdout/sample/images
    .venv/bin/python benchmarks/bench_naming.py --images DIR --repeats 5
"""

from __future__ import annotations

import argparse
import csv
import logging
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from textile_defects.predict import predict

NAMINGS = ("classifier", "auto", "type")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=Path("data/holdout/sample/images"), help="<class>/<file> photos")
    parser.add_argument("--good", type=int, default=20, help="good photos taken (non_defect/)")
    parser.add_argument("--per-defect", type=int, default=5, help="photos taken of each defect class")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as scratch:
        frames = Path(scratch) / "frames"
        frames.mkdir()
        for folder in sorted(p for p in args.images.iterdir() if p.is_dir()):
            for photo in sorted(folder.iterdir())[: args.good if folder.name == "non_defect" else args.per_defect]:
                shutil.copy2(photo, frames / f"{folder.name}_{photo.name}")
        count = len(list(frames.iterdir()))
        predict([str(frames), "--out", f"{scratch}/warm.csv"])
        times: dict[str, list[float]] = {naming: [] for naming in NAMINGS}
        for _ in range(args.repeats):
            for naming in NAMINGS:
                start = time.perf_counter()
                predict([str(frames), "--out", f"{scratch}/{naming}.csv", "--naming", naming])
                times[naming].append(time.perf_counter() - start)
        with open(f"{scratch}/auto.csv", newline="") as handle:
            named = sum(row["named_by"] != "" for row in csv.DictReader(handle))
    base = statistics.median(times["classifier"])
    for naming, values in times.items():
        median = statistics.median(values)
        extra = "" if naming == "classifier" else f", +{(median - base) / max(named, 1) * 1000:.0f} ms per frame named"
        print(f"--naming {naming:10s} {count / median:5.2f} frames/s (median of {[round(v, 2) for v in values]} s){extra}")
    print(f"{count} frames, {named} named (the rest good by every rule: nothing to name)")


if __name__ == "__main__":
    main()
