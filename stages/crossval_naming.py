"""Stage cv_naming / holdout_naming: the detector's score file, its defect probabilities reordered by the type classifier.

Writes <out> (naming[_seed<s>]_fold<k>.csv), a classifier score file the CV
and hold-out reports read like any other: defective or good exactly as the
detector says, the defect named as the type classifier ranks it.
"""

from __future__ import annotations

from pathlib import Path

from textile_defects.crossval.scores import write_scores
from textile_defects.naming.mix import read_aligned
from textile_defects.naming.scores import reorder_defects
from textile_defects.utils.stage import load_params, run_stage, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--detector", type=Path, required=True, help="the detector's score file (e.g. post_baseline_seed7_fold0.csv)")
    parser.add_argument("--types", type=Path, required=True, help="the type classifier's type_fold<k>.csv for the same originals")
    parser.add_argument("--out", type=Path, required=True, help="score file to write")
    args = parser.parse_args()
    params = load_params(args.params)
    classes, good = tuple(params["classes"]), str(params["good_class"])
    scores = read_aligned(args.detector, args.types, classes, good)
    named = reorder_defects(scores.probabilities, classes, good, scores.type_probabilities, scores.defect_classes)
    write_scores(args.out, scores.fold, scores.original_ids, scores.labels, named, classes)


if __name__ == "__main__":
    run_stage(main)
