"""Stage cv_mixed / holdout_mixed: the detector's score file, its defect named by the type classifier and the detector together.

Writes <out> (mixed[_seed<s>]_fold<k>.csv), a classifier score file the CV and
hold-out reports read like any other: defective or good exactly as the detector says, the
defect ranked by the weighted geometric mean of the two namers' defect
probabilities (params ``mixed_naming.type_weight``; textile_defects.naming.mix).
"""

from __future__ import annotations

from pathlib import Path

from textile_defects.crossval.scores import write_scores
from textile_defects.naming.mix import mixed_naming, read_aligned
from textile_defects.utils.params import SectionReader
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--detector", type=Path, required=True, help="the detector's score file (e.g. post_baseline_fold0.csv)")
    parser.add_argument("--types", type=Path, required=True, help="the type classifier's type_fold<k>.csv for the same originals")
    parser.add_argument("--out", type=Path, required=True, help="score file to write")
    args = parser.parse_args()
    params = load_params(args.params)
    reader = SectionReader(section(params, "mixed_naming"), "mixed_naming")
    type_weight = reader.number("type_weight", minimum=0.0, maximum=1.0)
    reader.finish()
    classes, good = tuple(params["classes"]), str(params["good_class"])
    scores = read_aligned(args.detector, args.types, classes, good)
    named = mixed_naming(scores.probabilities, classes, good, scores.type_probabilities, scores.defect_classes, type_weight)
    write_scores(args.out, scores.fold, scores.original_ids, scores.labels, named, classes)


if __name__ == "__main__":
    run_stage(main)
