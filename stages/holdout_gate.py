"""Stage holdout_gate: the pipeline's gate scores every hold-out photo, on the inference engine.

Runs the gate's engine file (models/gate.onnx, written by export_engine and refused
unless exported from exactly models/gate.pt) on ONNX Runtime's CPU provider: the
600 full frames of a hold-out are the largest gate workload after training, and the
engine scores them about 2.5x faster than PyTorch with the same decisions (docs/engine.md).

Writes <out> (gate_fold0.csv: original_id,label,fold,anomaly_score,threshold,defective)
and <maps> (the patch-score maps, for the report's localisation and the type classifier),
the files stage cv_gate writes for a CV fold.
"""

from __future__ import annotations

from pathlib import Path

from textile_defects.data.manifest import read_manifest, resolve
from textile_defects.engine.scoring import engine_gate_scores
from textile_defects.gate.report import gate_scores_csv, maps_npz
from textile_defects.holdout import FOLD
from textile_defects.utils.atomic import atomic_write_bytes, atomic_write_text
from textile_defects.utils.stage import run_stage, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--gate", type=Path, required=True, help="the gate checkpoint (models/gate.pt)")
    parser.add_argument("--engine-file", type=Path, required=True, help="its engine file (models/gate.onnx)")
    parser.add_argument("--scored", type=Path, required=True, help="the hold-out's ingest manifest.csv")
    parser.add_argument("--out", type=Path, required=True, help="gate_fold0.csv to write")
    parser.add_argument("--maps", type=Path, required=True, help=".npz of patch-score maps to write")
    args = parser.parse_args()
    rows = read_manifest(args.scored)
    scores, maps, threshold = engine_gate_scores(args.engine_file, args.gate, [resolve(args.scored, row) for row in rows], desc="hold-out gate")
    atomic_write_text(args.out, gate_scores_csv(FOLD, rows, scores, threshold))
    atomic_write_bytes(args.maps, maps_npz(rows, maps))


if __name__ == "__main__":
    run_stage(main)
