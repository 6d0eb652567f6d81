"""Stage cv_train: train one variant, with one seed, on one fold's augmented training set.

Settings: params section train_<variant> with crossval.train_overrides on top
and the given seed. No validation set: the fold's only held-out photos are
the ones it scores, so the model is trained on a fixed schedule (selection:
last) and never selected on them.
"""

from __future__ import annotations

from pathlib import Path

from textile_defects.crossval.config import VARIANTS, CrossvalConfig, fold_training_section
from textile_defects.crossval.training_adapter import train_fold_model
from textile_defects.runtime.allocator import keep_freed_memory
from textile_defects.training.resume import state_root
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser


def main() -> None:
    keep_freed_memory()  # CPU: reuse freed buffers instead of page-faulting each batch
    parser = stage_parser(__doc__)
    parser.add_argument("--variant", required=True, choices=VARIANTS, help="reads params section train_<variant>")
    parser.add_argument("--seed", type=int, required=True, help="training seed (one of crossval.seeds)")
    parser.add_argument("--train", type=Path, required=True, help="the fold's augmented training manifest.csv")
    parser.add_argument("--model", type=Path, required=True, help="checkpoint to write (.pt)")
    parser.add_argument("--history", type=Path, required=True, help="per-epoch history CSV to write")
    args = parser.parse_args()
    params = load_params(args.params)
    config = CrossvalConfig.from_section(section(params, "crossval"))
    name = f"train_{args.variant}"
    train_fold_model(
        fold_training_section(section(params, name), config.train_overrides, args.seed),
        f"{name} + crossval.train_overrides",
        variant=args.variant,
        encoder=str(params["encoder"]),
        weights=str(params["weights"]),
        classes=tuple(params["classes"]),
        good_class=str(params["good_class"]),
        train_manifest=args.train,
        model_path=args.model,
        history_path=args.history,
        state_root=state_root(),
    )


if __name__ == "__main__":
    run_stage(main)
