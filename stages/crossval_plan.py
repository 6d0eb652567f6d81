"""Stage cv_plan: the grouped, stratified fold plan over the ingested ORIGINALS, checked before it is written.

Writes <out>/folds.csv (original_id,label,fold: the fold that scores it) and,
per fold k, <out>/fold_<k>/{train,scored}/manifest.csv.
"""

from __future__ import annotations

import logging
from pathlib import Path

from textile_defects.crossval.config import CrossvalConfig
from textile_defects.crossval.folds import (
    assign_folds,
    check_plan,
    log_spread,
    originals_by_label,
    plan_manifests,
    write_plan,
)
from textile_defects.data.manifest import read_manifest
from textile_defects.utils.atomic import atomic_output_dir
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser

log = logging.getLogger("stages.crossval_plan")


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--manifest", type=Path, required=True, help="ingest manifest.csv (one row per original)")
    parser.add_argument("--out", type=Path, required=True, help="plan folder, replaced as a whole")
    args = parser.parse_args()
    params = load_params(args.params)
    config = CrossvalConfig.from_section(section(params, "crossval"))
    classes = list(params["classes"])
    rows = read_manifest(args.manifest)
    labels = originals_by_label(rows, args.manifest)
    assignment = assign_folds(labels, classes, config.k, config.seed)
    out_dir = args.out.resolve()
    manifests = plan_manifests(rows, args.manifest, out_dir, assignment, config.k)
    ids = {key: [row["original_id"] for row in part_rows] for key, part_rows in manifests.items()}
    training = {fold: ids[(fold, "train")] for fold in range(config.k)}
    scored = {fold: ids[(fold, "scored")] for fold in range(config.k)}
    check_plan(labels, assignment, classes, config.k, training, scored)
    log_spread(assignment, labels, classes, config.k)
    with atomic_output_dir(out_dir) as staging:
        # Paths were computed against the final folder; the staging folder is its sibling at the same depth.
        write_plan(staging, assignment, labels, manifests)
    log.info("fold plan of %d originals in %d folds written to %s", len(assignment), config.k, args.out)


if __name__ == "__main__":
    run_stage(main)
