"""Stage gate_report: the CV's gate, classifiers alone, gate-then-classifier and gate-or-classifier, over all originals.

Writes <metrics> (JSON), <plots>/roc_<model>.csv (ROC curves for `dvc plots`)
and <reports>/ (heatmaps of every defect original, with its mask outlined
where the sample has one, and of the 5 highest-scoring good photos, each by
the fold's gate that never saw it).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from textile_defects.crossval.folds import FOLDS_NAME
from textile_defects.crossval.scores import load_scores, read_plan
from textile_defects.data.manifest import read_manifest
from textile_defects.decision.detectors import GateScores, classifier_detection
from textile_defects.evaluation.report import roc_csv
from textile_defects.gate import metrics
from textile_defects.gate.heatmap import write_sheet
from textile_defects.gate.localisation import load_maps, localisation_figures, read_masks, sheet_frames
from textile_defects.gate.report import read_gate_scores
from textile_defects.utils.atomic import atomic_write_json, atomic_write_text
from textile_defects.utils.params import SectionReader
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser

log = logging.getLogger("stages.gate_report")

TOP_GOOD = 5


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--ingested", type=Path, required=True, help="ingest manifest.csv (originals and their source files)")
    parser.add_argument("--crossval", type=Path, required=True, help="the CV data folder (data/crossval)")
    parser.add_argument("--masks", type=Path, required=True, help="defect masks <class>/<file> (the sample's); may not exist")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--plots", type=Path, required=True)
    parser.add_argument("--reports", type=Path, required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    classes, good_class = list(params["classes"]), str(params["good_class"])
    reader = SectionReader(section(params, "gate").get("report"), "gate.report")
    tolerance_px = reader.integer("tolerance_px", minimum=0)
    confidence = reader.number("confidence", above=0.0, below=1.0)
    reader.finish()
    folds, seeds = section(params, "crossval")["folds"], section(params, "crossval")["seeds"]

    plan = read_plan(args.crossval / "plan" / FOLDS_NAME, classes)
    gate = read_gate_scores([args.crossval / "scores" / f"gate_fold{k}.csv" for k in folds], plan)
    view = GateScores.from_rows(gate, good_class)
    order, defective = view.order, view.defective
    report: dict = {"originals": len(order), "defect_originals": int(defective.sum()), "confidence": confidence}
    report["gate"] = view.figures(good_class, confidence)
    # roc.csv is the gate's (the CV contract's name); each classifier's is roc_<model>.csv beside it.
    atomic_write_text(args.plots / "roc.csv", roc_csv(metrics.roc_points(defective, view.scores)))

    runs = load_scores(args.crossval / "scores", args.crossval / "plan" / FOLDS_NAME, classes, seeds=seeds)
    for model, model_runs in sorted(runs.items()):
        for run in model_runs:
            name = model if run.seed is None else f"{model}_seed{run.seed}"
            detection = classifier_detection(view, run, classes, good_class, confidence)
            report[name] = detection.alone
            report[f"gate_then_{name}"] = detection.gate_then
            report[f"gate_or_{name}"] = detection.gate_or
            atomic_write_text(args.plots / f"roc_{name}.csv", roc_csv(metrics.roc_points(defective, detection.scores)))
            atomic_write_text(args.plots / f"roc_gate_or_{name}.csv", roc_csv(metrics.roc_points(defective, detection.combined)))

    ingested = {row["original_id"]: row for row in read_manifest(args.ingested)}
    scored_rows = {o: ingested[o] for o in order}
    maps = load_maps([args.crossval / "gate" / f"maps_fold{k}.npz" for k in folds])
    masks = read_masks(args.masks, scored_rows, good_class)
    border = SectionReader(section(params, "gate"), "gate").integer("border_patches", minimum=0)
    localisation = localisation_figures(maps, masks, order, tolerance_px, confidence, border)
    if localisation is not None:
        report["localisation"] = localisation
    atomic_write_json(args.metrics, report)

    captions = {}
    for original in order:
        verdict = "defective" if gate[original]["defective"] else "good"
        captions[original] = (
            f"{original} (fold {gate[original]['fold']})\n"
            f"score {gate[original]['score']:.2f} / thr {gate[original]['threshold']:.2f}: {verdict}"
        )

    def frames(originals: list[str]) -> list:
        return sheet_frames(originals, args.ingested, scored_rows, maps, masks, captions)

    # One colour scale for every tile: the folds' thresholds differ a little; their median sets it.
    threshold = float(np.median(view.thresholds))
    defects = [o for o in order if gate[o]["label"] != good_class]
    goods = sorted((o for o in order if gate[o]["label"] == good_class), key=lambda o: -gate[o]["score"])[:TOP_GOOD]
    write_sheet(args.reports / "heatmaps_defects.png", frames(defects), threshold)
    write_sheet(args.reports / "heatmaps_top_good.png", frames(goods), threshold)
    log.info("gate report: %s, %s", args.metrics, args.reports)


if __name__ == "__main__":
    run_stage(main)
