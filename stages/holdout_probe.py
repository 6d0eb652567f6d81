"""Stage holdout_probe: the frozen-feature probe, fit on the pipeline's training originals, scoring the hold-out.

The CV's probe (logistic regression on standardised pooled ImageNet features,
crossval.probe settings), trained on the same originals as the pipeline's
classifiers (data/split/train, no augmented copies) and scoring every hold-out
photo. Writes <out> in the CV's score-file contract (fold 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from textile_defects.crossval.config import CrossvalConfig
from textile_defects.crossval.probe import fit_predict, load_features
from textile_defects.crossval.scores import write_scores
from textile_defects.data.manifest import read_manifest
from textile_defects.errors import DataError
from textile_defects.holdout.report import FOLD
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser


def _features_of(folder: Path, rows: list[dict[str, str]], manifest: Path) -> np.ndarray:
    features = load_features(folder)
    missing = sorted({row["original_id"] for row in rows} - features.keys())
    if missing:
        raise DataError(f"{folder}: no features for {missing[:10]} of {manifest}; re-run the stage that computes them.")
    return np.stack([features[row["original_id"]] for row in rows])


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
    index = {name: i for i, name in enumerate(classes)}
    train, scored = read_manifest(args.train), read_manifest(args.scored)
    probabilities = fit_predict(
        _features_of(args.train_features, train, args.train),
        np.array([index[row["label"]] for row in train]),
        _features_of(args.scored_features, scored, args.scored),
        len(classes),
        c=config.probe.c,
        max_iter=config.probe.max_iter,
        seed=config.probe.seed,
    )
    write_scores(args.out, FOLD, [row["original_id"] for row in scored], [row["label"] for row in scored], probabilities, classes)


if __name__ == "__main__":
    run_stage(main)
