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
from textile_defects.decision.operating_points import check_stored, operating_points, operating_points_table
from textile_defects.evaluation.report import roc_csv
from textile_defects.gate import metrics
from textile_defects.gate.held_out import read_held_out_scores, thresholds_for_targets
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
    gate_models: Path,
    target_specificity: float,
    targets: Sequence[float],
) -> dict[str, Any]:
    """Write ``metrics_path`` (JSON), ``plots_dir``/roc_*.csv and ``reports_dir``'s heatmap sheets; return the figures.

    ``crossval_dir`` holds the CV's plan, score files and fold gates' maps;
    ``ingested`` is ingest's manifest (the originals' files); masks, where
    ``masks_dir`` has them, add the localisation figures and outline the defects.
    ``gate_models`` holds the fold gates (gate_fold<k>.pt), whose held-out good
    scores give the detection at each of ``targets`` (:mod:`~textile_defects.decision.operating_points`,
    ``reports_dir``/operating_points.md); ``target_specificity`` is the one the score files were decided at.
    """
    plan = read_plan(crossval_dir / "plan" / FOLDS_NAME, classes)
    gate_rows = read_gate_scores([crossval_dir / "scores" / f"gate_fold{k}.csv" for k in folds], plan)
    gate = GateScores.from_rows(gate_rows, good_class)
    report: dict[str, Any] = {"originals": len(gate.order), "defect_originals": int(gate.defective.sum()), "confidence": confidence}
    report["gate"] = gate.figures(good_class, confidence)
    # roc.csv is the gate's (the CV contract's name); each classifier's is roc_<model>.csv beside it.
    atomic_write_text(plots_dir / "roc.csv", roc_csv(metrics.roc_points(gate.defective, gate.scores)))
    runs = load_scores(crossval_dir / "scores", crossval_dir / "plan" / FOLDS_NAME, classes, seeds=seeds)
    named_runs = {
        model if run.seed is None else f"{model}_seed{run.seed}": run for model, model_runs in sorted(runs.items()) for run in model_runs
    }
    for name, run in named_runs.items():
        detection = classifier_detection(gate, run, classes, good_class, confidence)
        report[name] = detection.alone
        report[f"gate_then_{name}"] = detection.gate_then
        report[f"gate_or_{name}"] = detection.gate_or
        atomic_write_text(plots_dir / f"roc_{name}.csv", roc_csv(metrics.roc_points(gate.defective, detection.scores)))
        atomic_write_text(plots_dir / f"roc_gate_or_{name}.csv", roc_csv(metrics.roc_points(gate.defective, detection.combined)))

    # Detection at other operating points, each fold's threshold read off its gate's held-out good scores.
    folds_of = np.array([int(gate_rows[o]["fold"]) for o in gate.order])
    held_out = {k: read_held_out_scores(gate_models / f"gate_fold{k}.pt") for k in folds}
    chosen = tuple(sorted({*targets, target_specificity}))
    by_fold = {k: thresholds_for_targets(held_out[k], chosen) for k in folds}
    per_target = {t: {k: by_fold[k][t] for k in folds} for t in chosen}
    check_stored(gate, folds_of, per_target[target_specificity], target_specificity)
    # predict's rule: the post-baseline decides with the gate; the mix (predict's default namer) names.
    deciding = {name: run for name, run in named_runs.items() if name.startswith(("post_baseline", "mixed"))}
    report["operating_points"] = operating_points(gate, folds_of, per_target, deciding, classes, good_class, confidence)

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
        (folder / "operating_points.md").write_text(
            f"# The gate's operating point on the CV ({len(gate.order)} originals, out of fold)\n\n"
            f"Each fold's threshold read off its gate's held-out good training scores at each target; "
            f"the pipeline's is {target_specificity:g}. Higher: fewer false alarms, more missed faint defects (docs/gate.md).\n\n"
            + operating_points_table(report["operating_points"]),
            encoding="utf-8",
        )
    log.info("gate report: %s, %s", metrics_path, reports_dir)
    return report
