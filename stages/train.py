"""Stage train_<variant>: train one of the report's two models on the augmented sets.

Single process: ``python stages/train.py --variant train_baseline ...``.
Several processes (DistributedDataParallel): ``torchrun --nproc_per_node=N stages/train.py ...``.
Each epoch's state is kept in ``.training-state/`` (``$TEXTILE_TRAINING_STATE``): re-running a
killed training resumes after its last complete epoch (docs/training.md, "Resuming").
"""

from __future__ import annotations

from pathlib import Path

from textile_defects.errors import ConfigError
from textile_defects.runtime.allocator import keep_freed_memory
from textile_defects.training.config import TrainConfig
from textile_defects.training.resume import state_root
from textile_defects.training.trainer import TrainJob, train
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser

VARIANTS = ("train_baseline", "train_post_baseline")


def main() -> None:
    keep_freed_memory()  # CPU: reuse freed buffers instead of page-faulting each batch
    parser = stage_parser(__doc__)
    parser.add_argument("--variant", required=True, choices=VARIANTS, help="params section to train with")
    parser.add_argument("--train", type=Path, required=True, help="augmented training manifest.csv")
    parser.add_argument("--val", type=Path, help="augmented validation manifest.csv (may be left out with selection: last)")
    parser.add_argument("--model", type=Path, required=True, help="checkpoint to write (.pt)")
    parser.add_argument("--history", type=Path, required=True, help="per-epoch history CSV to write")
    args = parser.parse_args()
    params = load_params(args.params)
    config = TrainConfig.from_section(section(params, args.variant), args.variant, encoder=str(params["encoder"]))
    if args.val is None and config.needs_validation:
        raise ConfigError(
            f"{args.variant}.selection is {config.selection!r}, which picks the epoch on a validation set: "
            "pass --val, or set selection: last."
        )
    job = TrainJob(
        variant=args.variant,
        config=config,
        weights=str(params["weights"]),
        classes=tuple(params["classes"]),
        good_class=str(params["good_class"]),
        train_manifest=args.train,
        val_manifest=args.val,
        model_path=args.model,
        history_path=args.history,
        state_root=state_root(),
    )
    train(job)


if __name__ == "__main__":
    run_stage(main)
