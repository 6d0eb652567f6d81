"""Stage cv_gate: one CV fold's gate, built from the fold's good training photos, scoring the fold's originals.

Writes <out> (gate_fold<k>.csv: original_id,label,fold,anomaly_score,threshold,defective),
<maps> (the patch-score maps of the scored originals, for the gate report and the
type classifier) and, with ``--model``, the fold's gate itself (its cv_transplant
and cv_type locate the fold's training defects with it).
"""

from __future__ import annotations

from pathlib import Path

import torch

from textile_defects.data.manifest import read_manifest, resolve
from textile_defects.gate.checkpoint import save_gate
from textile_defects.gate.model import GateConfig, fit_gate, good_training_images
from textile_defects.gate.report import gate_scores_csv, maps_npz
from textile_defects.runtime.allocator import keep_freed_memory
from textile_defects.utils.atomic import atomic_write_bytes, atomic_write_text
from textile_defects.utils.params import available_cores
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser


def main() -> None:
    keep_freed_memory()  # CPU: reuse freed buffers instead of page-faulting each batch
    parser = stage_parser(__doc__)
    parser.add_argument("--fold", type=int, required=True)
    parser.add_argument("--train", type=Path, required=True, help="the fold's train manifest.csv (originals): build its gate")
    parser.add_argument("--augmented", type=Path, help="the fold's augmented manifest.csv")
    parser.add_argument("--scored", type=Path, required=True, help="the fold's scored manifest.csv")
    parser.add_argument("--out", type=Path, required=True, help="gate_fold<k>.csv to write")
    parser.add_argument("--maps", type=Path, required=True, help=".npz of patch-score maps to write")
    parser.add_argument("--model", type=Path, help="write the fold's gate checkpoint here too")
    args = parser.parse_args()
    params = load_params(args.params)
    torch.set_num_threads(available_cores())
    config = GateConfig.from_section(section(params, "gate"), encoder=params["encoder"], weights=params["weights"])
    gate = fit_gate(config, good_training_images(args.train, args.augmented, params["good_class"]))
    if args.model is not None:
        save_gate(gate, config, args.model)
    rows = read_manifest(args.scored)
    scores, maps = gate.score_files([resolve(args.scored, row) for row in rows], desc=f"gate fold {args.fold}")
    atomic_write_text(args.out, gate_scores_csv(args.fold, rows, scores, gate.threshold))
    atomic_write_bytes(args.maps, maps_npz(rows, maps))


if __name__ == "__main__":
    run_stage(main)
