"""Stage cv_report: pooled out-of-fold figures of every CV model, with intervals and seed spread.

Checks the fold plan again (augmented copies included) and that every run
scores every original exactly once, then writes <metrics> (JSON), <plots>/
confusion_<model>.csv (DVC confusion plots) and <reports>/ (PNGs, summary.md).
"""

from __future__ import annotations

from pathlib import Path

from textile_defects.crossval.config import CrossvalConfig
from textile_defects.crossval.report import write_crossval_report
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--ingested", type=Path, required=True, help="ingest manifest.csv")
    parser.add_argument("--crossval", type=Path, required=True, help="the CV data folder (data/crossval)")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics JSON to write")
    parser.add_argument("--plots", type=Path, required=True, help="folder for the confusion plot CSVs")
    parser.add_argument("--reports", type=Path, required=True, help="folder for PNGs and summary.md")
    args = parser.parse_args()
    params = load_params(args.params)
    write_crossval_report(
        args.crossval,
        args.ingested,
        list(params["classes"]),
        str(params["good_class"]),
        CrossvalConfig.from_section(section(params, "crossval")),
        metrics_path=args.metrics,
        plots_dir=args.plots,
        reports_dir=args.reports,
    )


if __name__ == "__main__":
    run_stage(main)
