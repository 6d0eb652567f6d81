"""The CV's detection report: the gate, each classifier alone, gate-then-classifier and gate-or-classifier, over all originals.

Every original is scored by the fold gate and the fold models that never saw
it (the CV's score files), so these are out-of-fold figures over independent
photos, like the classifiers' own in :mod:`textile_defects.crossval.figures`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textile_defects.crossval.folds import FOLDS_NAME
from textile_defects.crossval.scores import load_scores, read_plan
from textile_defects.data.manifest import read_manifest
from textile_defects.decision.detectors import GateScores, classifier_detection
from textile_defects.evaluation.report import roc_csv
from textile_defects.gate import metrics
from textile_defects.gate.localisation import load_maps, localisation_figures, read_masks
from textile_defects.gate.report import read_gate_scores
from textile_defects.gate.sheets import caption, heatmap_sheets, write_heatmaps
from textile_defects.utils.atomic import atomic_output_dir, atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)


def crossval_detection_report(
    crossval_dir: Path,
    ingested: Path,
    classes: Sequence[str],
    good_class: str,
    *,
    folds: Sequence[int],
    seeds: Sequence[int],
    masks_dir: Path,
    tolerance_px: int,
    border_patches: int,
    confidence: float,
    metrics_path: Path,
    plots_dir: Path,
    reports_dir: Path,
) -> dict[str, Any]:
    """Write ``metrics_path`` (JSON), ``plots_dir``/roc_*.csv and ``reports_dir``'s heatmap sheets; return the figures.

    ``crossval_dir`` holds the CV's plan, score files and fold gates' maps;
    ``ingested`` is ingest's manifest (the originals' files); masks, where
    ``masks_dir`` has them, add the localisation figures and outline the defects.
    """
    plan = read_plan(crossval_dir / "plan" / FOLDS_NAME, classes)
    gate_rows = read_gate_scores([crossval_dir / "scores" / f"gate_fold{k}.csv" for k in folds], plan)
    gate = GateScores.from_rows(gate_rows, good_class)
    report: dict[str, Any] = {"originals": len(gate.order), "defect_originals": int(gate.defective.sum()), "confidence": confidence}
    report["gate"] = gate.figures(good_class, confidence)
    # roc.csv is the gate's (the CV contract's name); each classifier's is roc_<model>.csv beside it.
    atomic_write_text(plots_dir / "roc.csv", roc_csv(metrics.roc_points(gate.defective, gate.scores)))
    runs = load_scores(crossval_dir / "scores", crossval_dir / "plan" / FOLDS_NAME, classes, seeds=seeds)
    for model, model_runs in sorted(runs.items()):
        for run in model_runs:
            name = model if run.seed is None else f"{model}_seed{run.seed}"
            detection = classifier_detection(gate, run, classes, good_class, confidence)
            report[name] = detection.alone
            report[f"gate_then_{name}"] = detection.gate_then
            report[f"gate_or_{name}"] = detection.gate_or
            atomic_write_text(plots_dir / f"roc_{name}.csv", roc_csv(metrics.roc_points(gate.defective, detection.scores)))
            atomic_write_text(plots_dir / f"roc_gate_or_{name}.csv", roc_csv(metrics.roc_points(gate.defective, detection.combined)))

    rows = {row["original_id"]: row for row in read_manifest(ingested) if row["original_id"] in gate_rows}
    maps = load_maps([crossval_dir / "gate" / f"maps_fold{k}.npz" for k in folds])
    masks = read_masks(masks_dir, rows, good_class)
    localisation = localisation_figures(maps, masks, gate.order, tolerance_px, confidence, border_patches)
    if localisation is not None:
        report["localisation"] = localisation
    atomic_write_json(metrics_path, report)

    # Each tile is scored by the fold gate that never saw it; the caption names the fold.
    captions = {
        o: caption(o, gate.scores[i], gate.thresholds[i], gate.verdict[i], f"fold {gate_rows[o]['fold']}")
        for i, o in enumerate(gate.order)
    }
    sheets = heatmap_sheets(gate.order, gate.labels, gate.scores, gate.verdict, good_class, localisation)
    with atomic_output_dir(reports_dir) as folder:
        write_heatmaps(folder, sheets, ingested, rows, maps, masks, captions, float(np.median(gate.thresholds)))
    log.info("gate report: %s, %s", metrics_path, reports_dir)
    return report
