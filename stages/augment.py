"""Stage augment_<set>: augment the originals of a split manifest (the report's Steps 3 to 5).

Writes <out>/manifest.csv and <out>/images/<class>/*.jpg, then one picture
grid per class under <grids>. Settings: the shared policy in params.yaml
section ``augment`` and the set's own section --section (seed, copies per
original, keep_original), e.g. augment_train, augment_val, augment_cv.
"""

from __future__ import annotations

from pathlib import Path

from textile_defects.augment.grid import write_grids
from textile_defects.augment.settings import load_settings
from textile_defects.augment.writer import write_augmented_set
from textile_defects.data.manifest import MANIFEST_NAME
from textile_defects.utils.stage import load_params, run_stage, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--section", required=True, help="the set's params.yaml section, e.g. augment_train")
    parser.add_argument("--manifest", type=Path, required=True, help="split manifest.csv to augment")
    parser.add_argument("--out", type=Path, required=True, help="output folder for images and manifest.csv")
    parser.add_argument("--grids", type=Path, required=True, help="output folder for <class>.png picture grids")
    args = parser.parse_args()
    params = load_params(args.params)
    settings = load_settings(params, args.section, params["classes"])
    write_augmented_set(args.manifest, args.out, settings, name=args.section)
    write_grids(
        args.manifest,
        args.out / MANIFEST_NAME,
        args.grids,
        originals=settings.policy.grid_originals,
        copies=settings.policy.grid_copies,
        name=args.section,
    )


if __name__ == "__main__":
    run_stage(main)
