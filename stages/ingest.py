"""Stage ingest: check and normalise the photos in <raw_dir>/<class>/ into a manifest.

Writes <out>/manifest.csv, <out>/images/<class>/<original_id>.png and
<out>/report.json, all at once or not at all.
"""

from __future__ import annotations

from textile_defects.data.ingest import ingest
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--raw-dir", help="folder with one sub-folder per class (default: ingest.raw_dir)")
    parser.add_argument("--out", required=True, help="output folder, replaced as a whole on success")
    args = parser.parse_args()
    params = load_params(args.params)
    settings = section(params, "ingest")
    ingest(
        raw_dir=args.raw_dir or settings.get("raw_dir"),
        out_dir=args.out,
        classes=params.get("classes"),
        min_width=settings.get("min_width"),
        min_height=settings.get("min_height"),
        on_error=settings.get("on_error", "stop"),
    )


if __name__ == "__main__":
    run_stage(main)
