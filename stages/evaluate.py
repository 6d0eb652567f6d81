"""Stage evaluate: score the trained models on the validation originals, augmented validation and test sets."""

from __future__ import annotations

import logging
from pathlib import Path

from textile_defects.evaluation.config import EvaluateConfig
from textile_defects.evaluation.evaluate import evaluate_models
from textile_defects.runtime.allocator import keep_freed_memory
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser

log = logging.getLogger("stages.evaluate")


def main() -> None:
    keep_freed_memory()  # CPU: reuse freed buffers instead of page-faulting each batch
    parser = stage_parser(__doc__)
    parser.add_argument("--models", type=Path, nargs="+", required=True, help="checkpoints; each file's stem names its outputs")
    parser.add_argument("--val-originals", type=Path, required=True, help="split manifest of the held-out originals")
    parser.add_argument("--val", type=Path, required=True, help="augmented validation manifest")
    parser.add_argument("--test", type=Path, required=True, help="augmented test manifest (skipped when absent)")
    parser.add_argument("--histories", type=Path, nargs="+", required=True, help="training history CSVs, one per model")
    parser.add_argument("--metrics-dir", type=Path, required=True, help="folder for metrics JSON and plot CSVs")
    parser.add_argument("--reports-dir", type=Path, required=True, help="folder for the PNG reports")
    args = parser.parse_args()
    params = load_params(args.params)
    config = EvaluateConfig.from_section(section(params, "evaluate"))
    sets = {"val_originals": args.val_originals, "val": args.val, "test": args.test}
    if not args.test.is_file():
        log.info("%s not found: no test set to score, skipping it", args.test)
        del sets["test"]
    evaluate_models(args.models, sets, args.histories, args.metrics_dir, args.reports_dir, config)


if __name__ == "__main__":
    run_stage(main)
