"""Stage sample: draw the built-in sample dataset, its defect masks and a contact sheet.

Also draws the hold-out sample (holdout/dvc.yaml, ``--section holdout.sample``):
the same generator with another seed, photos no model or setting was chosen on.
"""

from __future__ import annotations

from pathlib import Path

from textile_defects.data.sample import SampleSettings, generate_sample, write_contact_sheet
from textile_defects.errors import ConfigError
from textile_defects.utils.stage import load_params, run_stage, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--out-images", type=Path, required=True, help="output folder: <out>/<class>/<name>.png")
    parser.add_argument("--out-masks", type=Path, required=True, help="output folder for defect masks, same names")
    parser.add_argument("--contact-sheet", type=Path, required=True, help="output PNG: every image, labelled")
    parser.add_argument(
        "--section", default="sample", help="params section to read, dotted for a nested one (holdout.sample); default: sample"
    )
    args = parser.parse_args()
    params = load_params(args.params)
    classes = params.get("classes")
    if not isinstance(classes, list) or not all(isinstance(name, str) for name in classes):
        raise ConfigError(f"params.yaml: `classes` must be a list of class names, got {classes!r}.")
    values: object = params
    for key in args.section.split("."):
        values = values.get(key) if isinstance(values, dict) else None
    settings = SampleSettings.from_section(values, classes, path=args.section)
    generate_sample(
        args.out_images, args.out_masks, settings.counts, settings.seed, settings.width, settings.height
    )
    write_contact_sheet(
        args.out_images,
        args.contact_sheet,
        settings.contact_sheet_thumb_width,
        masks_dir=args.out_masks,
        classes=classes,
    )


if __name__ == "__main__":
    run_stage(main)
