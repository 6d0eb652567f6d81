"""Stage holdout_probe: the frozen-feature probe, fit on the pipeline's training originals, scoring the hold-out.

The CV's probe (logistic regression on standardised pooled ImageNet features,
crossval.probe settings), trained on the same originals as the pipeline's
classifiers (data/split/train, no augmented copies) and scoring every hold-out
photo. Writes <out> in the CV's score-file contract (fold 0).
"""

from __future__ import annotations

from pathlib import Path

from textile_defects.crossval.config import CrossvalConfig
from textile_defects.crossval.probe import load_features, probe_probabilities
from textile_defects.crossval.scores import write_scores
from textile_defects.data.manifest import read_manifest
from textile_defects.holdout import FOLD
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--train", type=Path, required=True, help="the training originals' manifest.csv")
    parser.add_argument("--train-features", type=Path, required=True, help="their features folder")
    parser.add_argument("--scored", type=Path, required=True, help="the hold-out's manifest.csv")
    parser.add_argument("--scored-features", type=Path, required=True, help="its features folder")
    parser.add_argument("--out", type=Path, required=True, help="score CSV to write")
    args = parser.parse_args()
    params = load_params(args.params)
    config = CrossvalConfig.from_section(section(params, "crossval"))
    classes = list(params["classes"])
    train, scored = read_manifest(args.train), read_manifest(args.scored)
    probabilities = probe_probabilities(
        load_features(args.train_features), train, load_features(args.scored_features), scored,
        classes, config.probe, source=f"{args.train_features} or {args.scored_features}",
    )  # fmt: skip
    write_scores(args.out, FOLD, [row["original_id"] for row in scored], [row["label"] for row in scored], probabilities, classes)


if __name__ == "__main__":
    run_stage(main)
