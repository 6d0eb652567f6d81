"""Stage cv_score: one fold model's class probabilities for the ORIGINALS that fold scores (un-augmented).

Writes <out>: original_id,label,fold,predicted,p_<class> (see textile_defects.crossval.scores).
"""

from __future__ import annotations

from pathlib import Path

from textile_defects.crossval.config import CrossvalConfig
from textile_defects.crossval.inference_adapter import predict_checkpoint
from textile_defects.crossval.scores import write_scores
from textile_defects.data.manifest import read_manifest, resolve
from textile_defects.errors import DataError
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
    classes = tuple(params["classes"])
    rows = read_manifest(args.scored)
    model_classes, probabilities = predict_checkpoint(
        args.model, [resolve(args.scored, row) for row in rows], batch_size=config.batch_size, device=config.device
    )
    if model_classes != classes:
        raise DataError(f"{args.model}: classes {list(model_classes)} differ from params classes {list(classes)}; retrain it.")
    write_scores(
        args.out, args.fold, [row["original_id"] for row in rows], [row["label"] for row in rows], probabilities, classes
    )


if __name__ == "__main__":
    run_stage(main)
