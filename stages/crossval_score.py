"""Stage cv_score: one fold model's class probabilities for the ORIGINALS that fold scores (un-augmented).

Writes <out>: original_id,label,fold,predicted,p_<class> (see textile_defects.crossval.scores).
"""

from __future__ import annotations

from pathlib import Path

from textile_defects.crossval.config import CrossvalConfig
from textile_defects.crossval.inference_adapter import score_fold_model
from textile_defects.runtime.allocator import keep_freed_memory
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser


def main() -> None:
    keep_freed_memory()  # CPU: reuse freed buffers instead of page-faulting each batch
    parser = stage_parser(__doc__)
    parser.add_argument("--model", type=Path, required=True, help="the fold model's checkpoint (.pt)")
    parser.add_argument("--scored", type=Path, required=True, help="the fold's scored manifest.csv")
    parser.add_argument("--fold", type=int, required=True, help="the fold number")
    parser.add_argument("--out", type=Path, required=True, help="score CSV to write")
    args = parser.parse_args()
    params = load_params(args.params)
    config = CrossvalConfig.from_section(section(params, "crossval"))
    score_fold_model(
        args.model, args.scored, args.fold, tuple(params["classes"]), args.out, batch_size=config.batch_size, device=config.device
    )


if __name__ == "__main__":
    run_stage(main)
