"""Stage gate_report: the CV's gate, classifiers alone and gate-then-classifier, scored over all originals.

Writes <metrics> (JSON), <plots>/roc_<model>.csv (ROC curves for `dvc plots`)
and <reports>/ (heatmaps of every defect original, with its mask outlined
where the sample has one, and of the 5 highest-scoring good photos, each by
the fold's gate that never saw it).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from textile_defects.data.images import prepare_image
from textile_defects.data.manifest import read_manifest, resolve
from textile_defects.evaluation.crossval_report import load_scores, read_plan
from textile_defects.evaluation.intervals import proportion
from textile_defects.evaluation.report import roc_csv
from textile_defects.gate import metrics
from textile_defects.gate.heatmap import write_sheet
from textile_defects.gate.report import classifier_arrays, gate_then_classifier, read_gate_scores, score_figures
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

    plan = read_plan(args.crossval / "plan" / "folds.csv", classes)
    gate = read_gate_scores([args.crossval / "scores" / f"gate_fold{k}.csv" for k in folds], plan)
    order = sorted(gate)
    labels = [gate[o]["label"] for o in order]
    defective = np.array([label != good_class for label in labels])
    gate_scores = np.array([gate[o]["score"] for o in order])
    gate_verdict = np.array([gate[o]["defective"] for o in order])
    report: dict = {"originals": len(order), "defect_originals": int(defective.sum()), "confidence": confidence}
    report["gate"] = score_figures(defective, gate_scores, gate_verdict, labels, good_class, confidence)
    # roc.csv is the gate's (the CV contract's name); each classifier's is roc_<model>.csv beside it.
    atomic_write_text(args.plots / "roc.csv", roc_csv(metrics.roc_points(defective, gate_scores)))

    runs = load_scores(args.crossval / "scores", args.crossval / "plan" / "folds.csv", classes, seeds=seeds)
    for model, model_runs in sorted(runs.items()):
        for run in model_runs:
            name = model if run.seed is None else f"{model}_seed{run.seed}"
            scores, verdict, probabilities = classifier_arrays(run, order, classes, good_class)
            report[name] = score_figures(defective, scores, verdict, labels, good_class, confidence)
            report[f"gate_then_{name}"] = gate_then_classifier(labels, gate_verdict, probabilities, classes, good_class, confidence)
            atomic_write_text(args.plots / f"roc_{name}.csv", roc_csv(metrics.roc_points(defective, scores)))

    ingested = {row["original_id"]: row for row in read_manifest(args.ingested)}
    maps = {}
    for k in folds:
        with np.load(args.crossval / "gate" / f"maps_fold{k}.npz") as archive:
            maps.update({key: archive[key] for key in archive.files})
    masks = {}
    for original in order:
        mask_path = args.masks / ingested[original]["source_file"]
        if gate[original]["label"] != good_class and mask_path.is_file():
            with Image.open(mask_path) as mask:
                masks[original] = np.asarray(mask.convert("L"))
    if masks:
        found = [metrics.peak_in_mask(maps[o], masks[o], tolerance_px) for o in sorted(masks)]
        frame = next(iter(masks.values())).shape
        all_masks = [masks.get(o, np.zeros(frame, dtype=np.uint8)) for o in order]
        report["localisation"] = {
            "peak_in_mask": {**proportion(sum(found), len(found), confidence), "successes": sum(found), "trials": len(found)},
            "tolerance_px": tolerance_px,
            "pixel_auroc": metrics.pixel_auroc([maps[o] for o in order], all_masks),
            "per_original": {o: bool(f) for o, f in zip(sorted(masks), found, strict=True)},
        }
    atomic_write_json(args.metrics, report)

    def frame(original: str) -> tuple:
        row = ingested[original]
        verdict = "defective" if gate[original]["defective"] else "good"
        caption = f"{original} (fold {gate[original]['fold']})\nscore {gate[original]['score']:.2f} / thr {gate[original]['threshold']:.2f}: {verdict}"
        pixels = prepare_image(resolve(args.ingested, row), (int(row["width"]), int(row["height"])))
        return pixels, maps[original], caption, masks.get(original)

    # One colour scale for every tile: the folds' thresholds differ a little; their median sets it.
    threshold = float(np.median([gate[o]["threshold"] for o in order]))
    defects = [o for o in order if gate[o]["label"] != good_class]
    goods = sorted((o for o in order if gate[o]["label"] == good_class), key=lambda o: -gate[o]["score"])[:TOP_GOOD]
    write_sheet(args.reports / "heatmaps_defects.png", [frame(o) for o in defects], threshold)
    write_sheet(args.reports / "heatmaps_top_good.png", [frame(o) for o in goods], threshold)
    log.info("gate report: %s, %s", args.metrics, args.reports)


if __name__ == "__main__":
    run_stage(main)
