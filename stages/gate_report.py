"""Stage gate_report: the CV's gate, classifiers alone, gate-then-classifier and gate-or-classifier, over all originals.

Writes <metrics> (JSON), <plots>/roc_<model>.csv (ROC curves for `dvc plots`)
and <reports>/ (heatmap sheets: defects of each class, the gate's misses,
peaks off the mask, the highest-scoring good photos; each photo by the
fold's gate that never saw it, its mask outlined where the sample has one).
"""

from __future__ import annotations

from pathlib import Path

from textile_defects.decision.crossval_detection import crossval_detection_report
from textile_defects.utils.params import SectionReader
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--ingested", type=Path, required=True, help="ingest manifest.csv (originals and their source files)")
    parser.add_argument("--crossval", type=Path, required=True, help="the CV data folder (data/crossval)")
    parser.add_argument("--masks", type=Path, required=True, help="defect masks <class>/<file> (the sample's); may not exist")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--plots", type=Path, required=True)
    parser.add_argument("--reports", type=Path, required=True)
    parser.add_argument("--gate-models", type=Path, required=True, help="the fold gates' folder (gate_fold<k>.pt), for the operating points")
    args = parser.parse_args()
    params = load_params(args.params)
    report = SectionReader(section(params, "gate").get("report"), "gate.report")
    tolerance_px, confidence = report.integer("tolerance_px", minimum=0), report.number("confidence", above=0.0, below=1.0)
    targets = report.raw("targets")
    valid = isinstance(targets, list) and targets and all(isinstance(t, int | float) and not isinstance(t, bool) and 0 < t <= 1 for t in targets)
    if targets is not None and not valid:  # a missing key is already reported by raw()
        report.problem("targets", targets, "a non-empty list of target specificities in (0, 1], e.g. [0.9, 0.95, 0.975, 1.0]")
    report.finish()
    gate = SectionReader(section(params, "gate"), "gate")
    crossval = section(params, "crossval")
    crossval_detection_report(
        args.crossval, args.ingested, list(params["classes"]), str(params["good_class"]),
        folds=crossval["folds"], seeds=crossval["seeds"], masks_dir=args.masks, tolerance_px=tolerance_px,
        border_patches=gate.integer("border_patches", minimum=0), confidence=confidence, metrics_path=args.metrics,
        plots_dir=args.plots, reports_dir=args.reports, gate_models=args.gate_models,
        target_specificity=gate.number("target_specificity", above=0.0, maximum=1.0), targets=[float(t) for t in targets],
    )  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
