"""Stage holdout_report: the pipeline's models on the hold-out photos, with intervals (docs/holdout.md).

Writes <metrics> (JSON: per classifier the CV's figures; per detector, the gate
included, AUROC and defect recall at specificity 0.90 / 0.95), <plots>/roc_<model>.csv
for `dvc plots`, and <reports>/ (summary.md, confusion matrices, interval plot, the
gate's heatmap sheets; localisation against <masks> where the photos have masks).
"""

from __future__ import annotations

from pathlib import Path

from textile_defects.crossval.config import VARIANTS, CrossvalConfig
from textile_defects.holdout.report import holdout_report
from textile_defects.utils.params import SectionReader
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--holdout", type=Path, required=True, help="the hold-out data folder (data/holdout)")
    parser.add_argument("--manifest", type=Path, required=True, help="the hold-out's ingest manifest.csv")
    parser.add_argument("--pipeline", type=Path, required=True, help="the pipeline's ingest manifest.csv (must share no photo)")
    parser.add_argument("--masks", type=Path, required=True, help="defect masks <class>/<file> of the hold-out photos (may be empty)")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics JSON to write")
    parser.add_argument("--plots", type=Path, required=True, help="folder for the ROC CSVs")
    parser.add_argument("--reports", type=Path, required=True, help="folder for PNGs and summary.md")
    args = parser.parse_args()
    params = load_params(args.params)
    reader = SectionReader(section(params, "gate").get("report"), "gate.report")
    tolerance_px = reader.integer("tolerance_px", minimum=0)
    reader.finish(known=["tolerance_px", "confidence", "targets"])  # intervals use crossval.report's confidence; targets are the CV's
    holdout_report(
        args.holdout,
        args.manifest,
        args.pipeline,
        list(params["classes"]),
        str(params["good_class"]),
        CrossvalConfig.from_section(section(params, "crossval")),
        masks_dir=args.masks,
        detector=SectionReader(section(params, "naming"), "naming").choice("detector", VARIANTS),
        tolerance_px=tolerance_px,
        border_patches=SectionReader(section(params, "gate"), "gate").integer("border_patches", minimum=0),
        metrics_path=args.metrics,
        plots_dir=args.plots,
        reports_dir=args.reports,
    )


if __name__ == "__main__":
    run_stage(main)
