"""Stage ingest: check and normalise the photos in <raw_dir>/<class>/ into a manifest.

Writes <out>/manifest.csv, <out>/images/<class>/<original_id>.png and
<out>/report.json, all at once or not at all.
"""

from __future__ import annotations

from dataclasses import replace

from textile_defects.data.ingest import IngestConfig, ingest
from textile_defects.utils.stage import load_params, run_stage, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--raw-dir", help="folder with one sub-folder per class (default: ingest.raw_dir)")
    parser.add_argument("--out", required=True, help="output folder, replaced as a whole on success")
    args = parser.parse_args()
    params = load_params(args.params)
    config = IngestConfig.from_section(params.get("ingest"), params.get("classes"))
    if args.raw_dir:
        config = replace(config, raw_dir=args.raw_dir)
    ingest(config, out_dir=args.out)


if __name__ == "__main__":
    run_stage(main)
