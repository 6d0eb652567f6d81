"""Stage cv_naming / holdout_naming: the detector's score file, its defect probabilities reordered by the type classifier.

Writes <out> (naming[_seed<s>]_fold<k>.csv), a classifier score file the CV
and hold-out reports read like any other: defective or good exactly as the
detector says, the defect named as the type classifier ranks it.
"""

from __future__ import annotations

from pathlib import Path

from textile_defects.crossval.scores import write_scores
from textile_defects.errors import DataError
from textile_defects.naming.scores import read_probabilities, reorder_defects
from textile_defects.utils.stage import load_params, run_stage, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--detector", type=Path, required=True, help="the detector's score file (e.g. post_baseline_seed7_fold0.csv)")
    parser.add_argument("--types", type=Path, required=True, help="the type classifier's type_fold<k>.csv for the same originals")
    parser.add_argument("--out", type=Path, required=True, help="score file to write")
    args = parser.parse_args()
    params = load_params(args.params)
    classes = tuple(params["classes"])
    good = str(params["good_class"])
    defects = tuple(name for name in classes if name != good)
    ids, labels, fold, probabilities = read_probabilities(args.detector, classes)
    type_ids, _, type_fold, types = read_probabilities(args.types, defects)
    if type_ids != ids or type_fold != fold:
        raise DataError(
            f"{args.types} (fold {type_fold}, {len(type_ids)} originals) and {args.detector} (fold {fold}, {len(ids)}) "
            "do not score the same originals; re-run both stages (dvc repro)."
        )
    write_scores(args.out, fold, ids, labels, reorder_defects(probabilities, classes, good, types, defects), classes)


if __name__ == "__main__":
    run_stage(main)
