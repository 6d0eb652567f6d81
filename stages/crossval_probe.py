"""Stage cv_probe: the linear probe of one fold, fitted on its un-augmented training originals' features.

Writes <out> (probe_fold<k>.csv) with the probabilities it gives the originals the fold scores.
"""

from __future__ import annotations

from pathlib import Path

from textile_defects.crossval.config import CrossvalConfig
from textile_defects.crossval.folds import fold_manifest
from textile_defects.crossval.probe import load_features, probe_probabilities
from textile_defects.crossval.scores import write_scores
from textile_defects.data.manifest import read_manifest
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--features", type=Path, required=True, help="cv_features output folder")
    parser.add_argument("--plan", type=Path, required=True, help="fold plan folder")
    parser.add_argument("--fold", type=int, required=True, help="the fold number")
    parser.add_argument("--out", type=Path, required=True, help="score CSV to write")
    args = parser.parse_args()
    params = load_params(args.params)
    config = CrossvalConfig.from_section(section(params, "crossval"))
    classes = list(params["classes"])
    features = load_features(args.features)
    train = read_manifest(fold_manifest(args.plan, args.fold, "train"))
    scored = read_manifest(fold_manifest(args.plan, args.fold, "scored"))
    probabilities = probe_probabilities(features, train, features, scored, classes, config.probe, source=str(args.features))
    write_scores(
        args.out, args.fold, [row["original_id"] for row in scored], [row["label"] for row in scored], probabilities, classes
    )


if __name__ == "__main__":
    run_stage(main)
