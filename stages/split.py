"""Stage split: stratified, seeded train/validation split over original photos."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from textile_defects.data.manifest import MANIFEST_NAME, read_manifest, write_manifest
from textile_defects.data.split import SplitConfig, split_manifest
from textile_defects.utils.atomic import atomic_output_dir
from textile_defects.utils.stage import load_params, run_stage, stage_parser

log = logging.getLogger("stages.split")


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--manifest", type=Path, required=True, help="ingest manifest.csv")
    parser.add_argument("--out", type=Path, required=True, help="output folder: <out>/{train,val}/manifest.csv")
    args = parser.parse_args()
    params = load_params(args.params)
    config = SplitConfig.from_section(params.get("split"), params.get("classes", ()))
    rows = read_manifest(args.manifest)
    out_dir = args.out.resolve()
    by_split = split_manifest(rows, args.manifest, out_dir, config)
    with atomic_output_dir(out_dir) as staging:
        for split, split_rows in by_split.items():
            # Paths were computed against the final folder; the staging folder is its sibling at the same depth.
            write_manifest(staging / split / MANIFEST_NAME, split_rows)
    for split, split_rows in by_split.items():
        counts = Counter(row["label"] for row in split_rows)
        log.info("%s: %d originals %s", split, len(split_rows), dict(sorted(counts.items())))


if __name__ == "__main__":
    run_stage(main)
