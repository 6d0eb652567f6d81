"""Compare predict's two engines on a folder of photos: probabilities, gate scores, and every decision.

Runs predict twice on ``SOURCE`` (``--engine onnx``, then ``--engine torch``), with
the same classifier and gate, and prints the largest absolute difference in any class
probability, the largest gate score difference (absolute and relative to the
threshold), and every row whose decision differs (class, defective, the
classifier's own answer), with both engines' numbers, so a flip can be explained
(a score within the tolerance of the threshold, or two classes within it of each other).

    python scripts/engine_equality.py data/holdout/sample/images            # models/post_baseline.pt + models/gate.pt
    python scripts/engine_equality.py photos/ --model models/baseline.pt --out-dir /tmp/equality

Exit status 1 when a difference exceeds the engine's tolerances (engine/files.py) or a decision differs.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from textile_defects.engine.files import PROBABILITY_TOLERANCE, SCORE_TOLERANCE
from textile_defects.predict import predict
from textile_defects.utils.logs import setup_logging

DECISIONS = ("predicted", "defective", "classifier_predicted")


def rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row["path"]: row for row in csv.DictReader(handle)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--model", type=Path, default=Path("models/post_baseline.pt"))
    parser.add_argument("--gate", default=None, help="gate checkpoint (default: gate.pt beside --model)")
    parser.add_argument("--out-dir", type=Path, help="keep both CSVs here (default: a temporary folder)")
    args = parser.parse_args()
    setup_logging("WARNING")
    folder = args.out_dir or Path(tempfile.mkdtemp(prefix="engine-equality-"))
    folder.mkdir(parents=True, exist_ok=True)
    seconds = {}
    for engine in ("onnx", "torch"):
        start = time.perf_counter()
        predict([str(args.source), "--model", str(args.model), "--out", str(folder / f"{engine}.csv"), "--engine", engine,
                 *(["--gate", args.gate] if args.gate else [])])
        seconds[engine] = time.perf_counter() - start
    onnx, torch_rows = rows(folder / "onnx.csv"), rows(folder / "torch.csv")
    assert onnx.keys() == torch_rows.keys()
    judged = [name for name, row in onnx.items() if row["error"] == ""]
    classes = [column[2:] for column in next(iter(onnx.values())) if column.startswith("p_")]
    p = {e: np.array([[float(r[n][f"p_{c}"]) for c in classes] for n in judged]) for e, r in (("onnx", onnx), ("torch", torch_rows))}
    probability = float(np.abs(p["onnx"] - p["torch"]).max())
    print(f"{len(judged)} frames judged of {len(onnx)}; onnx {seconds['onnx']:.0f} s, torch {seconds['torch']:.0f} s")
    print(f"largest |p onnx - p torch| over every class: {probability:.2e} (tolerance {PROBABILITY_TOLERANCE:g}; CSV keeps 6 decimals)")
    failed = probability > PROBABILITY_TOLERANCE + 1e-6
    if "anomaly_score" in next(iter(onnx.values())):
        threshold = float(onnx[judged[0]]["gate_threshold"])
        s = {e: np.array([float(r[n]["anomaly_score"]) for n in judged]) for e, r in (("onnx", onnx), ("torch", torch_rows))}
        score = float(np.abs(s["onnx"] - s["torch"]).max())
        print(f"largest |score onnx - score torch|: {score:.2e} = {score / threshold:.2e} of the threshold {threshold:.4f} "
              f"(tolerance {SCORE_TOLERANCE:g} of it); nearest score to the threshold: "
              f"{np.abs(s['torch'] - threshold).min():.2e} away")
        failed |= score / threshold > SCORE_TOLERANCE + 1e-6 / threshold
    flipped = [n for n in judged if any(onnx[n][c] != torch_rows[n][c] for c in DECISIONS)]
    print(f"decisions that differ: {len(flipped)}")
    for name in flipped:
        print(f"  {name}: onnx {[onnx[name][c] for c in DECISIONS]} torch {[torch_rows[name][c] for c in DECISIONS]}"
              f" score {onnx[name].get('anomaly_score')} / {torch_rows[name].get('anomaly_score')}")
    print(f"CSVs: {folder}")
    return 1 if failed or flipped else 0


if __name__ == "__main__":
    sys.exit(main())
