"""The hold-out test: the pipeline's own models on photos that chose nothing.

Every other figure of the project comes from photos that also chose something:
the single split's validation originals pick the kept epoch, and the
cross-validation's 62 photos picked the defaults among the sweeps. A hold-out
set is scored once by what the pipeline ships (``models/baseline.pt``,
``models/post_baseline.pt``, ``models/gate.pt``, and a frozen-feature probe fit
on the same training originals), and nothing is chosen on it, so its figures
are a test. On the built-in sample it is a fresh draw of the sample generator
(another seed, more photos); a factory points ``holdout.raw_dir`` at a batch of
newly labelled photos.

``holdout_dir`` holds ``scores/<model>_fold0.csv`` and ``scores/gate_fold0.csv``
in the cross-validation's score-file contract (every hold-out photo in fold 0),
so the CV's checks and figures apply unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textile_defects.crossval.compare import comparison_table, per_class_table
from textile_defects.crossval.config import CrossvalConfig
from textile_defects.crossval.figures import crossval_report
from textile_defects.crossval.plots import forest_png, pooled_confusion_png
from textile_defects.crossval.report import reported_models
from textile_defects.crossval.scores import MIXED, NAMING, load_scores
from textile_defects.data.manifest import read_manifest
from textile_defects.decision.as_decided import decided_name, decided_runs
from textile_defects.decision.detectors import GateScores, classifier_detection
from textile_defects.decision.rules import RULES
from textile_defects.errors import DataError
from textile_defects.evaluation.report import roc_csv
from textile_defects.gate import metrics
from textile_defects.gate.localisation import load_maps, localisation_figures, read_masks
from textile_defects.gate.report import SPECIFICITIES, read_gate_scores
from textile_defects.gate.sheets import SHEETS, caption, heatmap_sheets, write_heatmaps
from textile_defects.holdout import FOLD
from textile_defects.holdout.paired import paired_at_specificity, paired_naming
from textile_defects.stats.proportions import format_counts, format_figure
from textile_defects.utils.atomic import atomic_output_dir, atomic_write_json

log = logging.getLogger(__name__)


def holdout_plan(manifest: Path, classes: Sequence[str]) -> dict[str, tuple[str, int]]:
    """``{original_id: (label, 0)}`` for every photo of the hold-out's ingest manifest."""
    rows = read_manifest(manifest)
    unknown = sorted({row["label"] for row in rows} - set(classes))
    if unknown:
        raise DataError(f"{manifest}: label(s) {unknown} are not in params 'classes' {list(classes)}; rename those folders.")
    return {row["original_id"]: (row["label"], FOLD) for row in rows}


def check_independent(holdout_manifest: Path, pipeline_manifest: Path) -> None:
    """A hold-out photo byte-identical to one the pipeline trained or chose on is no test: a DataError lists them."""
    seen = {row["sha256"]: row["source_file"] for row in read_manifest(pipeline_manifest)}
    shared = [
        f"{row['source_file']} = {seen[row['sha256']]}" for row in read_manifest(holdout_manifest) if row["sha256"] in seen
    ]
    if shared:
        listed = "\n  ".join(shared[:20])
        raise DataError(
            f"{holdout_manifest}: {len(shared)} hold-out photo(s) are also in the pipeline's photos ({pipeline_manifest}); "
            f"remove them from holdout.raw_dir (or use another holdout.sample.seed):\n  {listed}"
        )


def detection_table(detection: Mapping[str, Mapping[str, Any]]) -> str:
    """Markdown: each detector's AUROC and defect recall at each specificity, counts and intervals."""
    specs = [f"at_specificity_{spec:.2f}" for spec in SPECIFICITIES]
    header = "| detector | image AUROC | " + " | ".join(f"defect recall at specificity {spec:.2f}" for spec in SPECIFICITIES)
    lines = [header + " | own decision: recall / specificity |", "|---|---:|" + "---:|" * len(specs) + "---|"]
    for name, block in detection.items():
        cells = [f"{block['image_auroc']:.3f}"]
        for spec in specs:
            specificity = block[spec]["specificity"]
            cells.append(f"{format_figure(block[spec]['defect_recall'], 2)} (spec. {format_counts(specificity)})")
        own = block["operating_point"]
        cells.append(f"{format_counts(own['defect_recall'])} / {format_counts(own['specificity'])}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def paired_table(paired: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """Markdown: per pair "first vs second" and specificity, defects only the first finds, only the second, and p."""
    specs = [f"at_specificity_{spec:.2f}" for spec in SPECIFICITIES]
    lines = [
        "| first vs second | " + " | ".join(f"at specificity {spec:.2f}: first only / second only (p)" for spec in SPECIFICITIES) + " |",
        "|---|" + "---:|" * len(specs),
    ]
    for pair, block in paired.items():
        cells = [f"{block[spec]['first_only']} / {block[spec]['second_only']} (p = {block[spec]['p_value']:.3g})" for spec in specs]
        lines.append(f"| {pair} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def naming_table(naming: Mapping[str, Mapping[str, Any]], classes: Sequence[str]) -> str:
    """Markdown: the paired naming comparison: F1 macro difference [CI], and per class first only / second only (p)."""
    lines = ["| first vs second | F1 macro difference [CI] | " + " | ".join(f"{name}: first only / second only (p)" for name in classes) + " |",
             "|---|---:|" + "---:|" * len(classes)]  # fmt: skip
    for pair, block in naming.items():
        diff = block["f1_macro_difference"]
        interval = "" if diff["ci_low"] is None else f" [{diff['ci_low']:+.3f}, {diff['ci_high']:+.3f}]"
        cells = [f"{block['per_class'][n]['first_only']} / {block['per_class'][n]['second_only']} (p = {block['per_class'][n]['p_value']:.3g})" for n in classes]
        lines.append(f"| {pair} | {diff['value']:+.3f}{interval} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _localisation_text(localisation: Mapping[str, Any] | None, sheets: Mapping[str, Sequence[str]]) -> str:
    drawn = "Heatmaps (one colour scale, the gate's threshold): " + ", ".join(
        f"{name} ({SHEETS[name]}, {len(originals)})" for name, originals in sheets.items()
    ) + "."
    if localisation is None:
        return "No defect masks in holdout.masks_dir: localisation not measured. " + drawn
    return (
        f"The gate's highest patch (edge rings left out, as in its score) lies within the defect's mask "
        f"(+- {localisation['tolerance_px']} px) for {format_figure(localisation['peak_in_mask'], 2)} masked defect photos; "
        f"pixel AUROC {localisation['pixel_auroc']:.3f} over all photos. " + drawn
    )


def holdout_report(
    holdout_dir: Path,
    holdout_manifest: Path,
    pipeline_manifest: Path,
    classes: Sequence[str],
    good_class: str,
    config: CrossvalConfig,
    *,
    masks_dir: Path,
    detector: str = "post_baseline",
    tolerance_px: int,
    border_patches: int,
    metrics_path: Path,
    plots_dir: Path,
    reports_dir: Path,
) -> dict[str, Any]:
    """Score the hold-out: ``metrics_path`` (JSON), ``plots_dir`` (ROC CSVs), ``reports_dir`` (PNGs, summary.md).

    Classifier figures are the CV's (F1 with a bootstrap over photos, exact
    intervals on recall and specificity); detection figures are the gate
    report's (AUROC, recall at each specificity, the stored decision), for the
    gate, each classifier's 1 - p_good, the probe, and each gate-or-classifier
    (:mod:`textile_defects.decision.gate_or_classifier`); gate-then-classifier's type
    accuracy among the defects the gate finds; paired exact McNemar tests of
    the gate against each classifier, and of each gate-or-classifier against
    its classifier alone and the gate alone, at the same specificity.
    """
    check_independent(holdout_manifest, pipeline_manifest)
    plan = holdout_plan(holdout_manifest, classes)
    scores_dir = holdout_dir / "scores"
    # The CV's rows: both checkpoints and the probe, then each named detector whose score file exists.
    models = reported_models(scores_dir)
    pooled = load_scores(scores_dir, plan, classes, models=models)
    report = config.report
    classifiers = crossval_report(pooled, classes, good_class, report.confidence, report.bootstrap_resamples, report.bootstrap_seed)
    ordered = {model: classifiers[model] for model in models}
    gate = GateScores.from_rows(read_gate_scores([scores_dir / f"gate_fold{FOLD}.csv"], plan), good_class)
    defective = gate.defective
    if defective.all() or not defective.any():
        raise DataError(f"{holdout_manifest}: the hold-out needs good and defect photos both, to measure recall and specificity.")
    # What predict writes by default: the gate-or-classifier verdict, then the classifier's naming.
    decided = decided_runs(gate, {model: pooled[model] for model in models}, RULES[0], classes, good_class)
    as_decided = crossval_report(decided, classes, good_class, report.confidence, report.bootstrap_resamples, report.bootstrap_seed)
    as_decided = {name: as_decided[name] for name in decided}
    naming: dict[str, Any] = {}
    # The pre-registered comparisons (docs/naming.md): each other naming against the detector's own,
    # on each classifier's argmax and on the label predict writes.
    for other in (name for name in (NAMING, MIXED) if name in pooled):
        for first, second in ((other, detector), (decided_name(RULES[0], other), decided_name(RULES[0], detector))):
            (named,), (own,) = (pooled | decided)[first], (pooled | decided)[second]
            naming[f"{first} vs {second}"] = paired_naming(
                named.y_true, named.y_pred, own.y_pred, named.original_ids, classes,
                resamples=report.bootstrap_resamples, seed=report.bootstrap_seed, confidence=report.confidence,
            )  # fmt: skip
    detection: dict[str, Any] = {"gate": gate.figures(good_class, report.confidence)}
    rocs = {"gate": metrics.roc_points(defective, gate.scores)}
    two_stage: dict[str, Any] = {}
    compared: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for model in models:
        (run,) = pooled[model]
        found = classifier_detection(gate, run, classes, good_class, report.confidence)
        detection[model] = found.alone
        detection[f"gate_or_{model}"] = found.gate_or
        rocs[model] = metrics.roc_points(defective, found.scores)
        rocs[f"gate_or_{model}"] = metrics.roc_points(defective, found.combined)
        two_stage[model] = found.gate_then
        compared[f"gate vs {model}"] = (gate.scores, found.scores)
        compared[f"gate_or_{model} vs {model}"] = (found.combined, found.scores)
        compared[f"gate_or_{model} vs gate"] = (found.combined, gate.scores)
    paired = {
        pair: {f"at_specificity_{spec:.2f}": paired_at_specificity(defective, first, second, spec) for spec in SPECIFICITIES}
        for pair, (first, second) in compared.items()
    }

    rows = {row["original_id"]: row for row in read_manifest(holdout_manifest)}
    maps = load_maps([holdout_dir / "gate" / f"maps_fold{FOLD}.npz"])
    masks = read_masks(masks_dir, rows, good_class)
    localisation = localisation_figures(maps, masks, gate.order, tolerance_px, report.confidence, border_patches)
    sheets = heatmap_sheets(gate.order, gate.labels, gate.scores, gate.verdict, good_class, localisation)

    figures = {
        "originals": len(gate.order),
        "defect_originals": int(defective.sum()),
        "classifiers": ordered,
        "as_predict_decides": as_decided,
        "detection": detection,
        "gate_then_classifier": two_stage,
        "paired": paired,
        **({"paired_naming": naming} if naming else {}),
        **({"localisation": localisation} if localisation is not None else {}),
    }
    atomic_write_json(metrics_path, figures)
    with atomic_output_dir(plots_dir) as folder:
        for name, points in rocs.items():
            (folder / f"roc_{name}.csv").write_text(roc_csv(points), encoding="utf-8")
    summary = "\n".join([
        "# Hold-out test",
        "",
        f"{len(gate.order)} photos ({int(defective.sum())} defect), none of which trained or chose anything: "
        "the pipeline's own checkpoints and gate, and a probe fit on the same training originals.",
        "",
        "## Which class",
        "",
        comparison_table(ordered),
        "F1 from a bootstrap over photos, defect recall and specificity exact (Clopper-Pearson) over photos; "
        "two figures whose intervals overlap are within noise.",
        "",
        "Each class named right (recall per class, exact intervals; confusion matrices: confusion_<model>.png):",
        "",
        per_class_table(ordered, classes),
        f"## What predict writes ({RULES[0]})",
        "",
        "The five-class label of predict's CSV with the gate: defective when the gate or the classifier says so "
        "(the default rule), then the classifier names the defect (gate_or_naming: the type classifier names it; "
        "gate_or_mixed: the type classifier and the classifier together, naming/mix.py). "
        "Same statistics as above; confusion matrices: confusion_gate_or_<model>.png.",
        "",
        comparison_table(as_decided),
        per_class_table(as_decided, classes),
        *(["Naming compared on the same photos (paired: F1 macro difference with a paired bootstrap; per class, the photos "
           "only the first names right / only the second, exact McNemar):", "", naming_table(naming, classes), ""] if naming else []),
        "Defects found and named right, as a share of all defect photos (gate-or-classifier): "
        + ", ".join(f"{model} {format_figure(detection[f'gate_or_{model}']['defect_found_and_named_right'], 3)}" for model in models)
        + ".",
        "",
        "## Defective or good",
        "",
        detection_table(detection),
        "Recall at a specificity reads a point of each detector's ROC (the threshold set on these photos); "
        "the last column is each one's own decision (the gate's stored threshold, the classifiers' argmax). "
        "gate_or_<model>: defective when the gate or the classifier says so; its ROC sweeps "
        "max(log(score / threshold), log(max p(defect) / p(good))).",
        "",
        "Two detectors on the same photos, each at the same specificity "
        "(defects only the first finds / only the second finds; exact McNemar p-value of that split):",
        "",
        paired_table(paired),
        "Defect type named right among the defects found, gate-then-classifier: "
        + ", ".join(f"{model} {format_figure(block['defect_type_accuracy_among_found'], 2)}" for model, block in two_stage.items())
        + "; gate-or-classifier: "
        + ", ".join(f"{model} {format_figure(detection[f'gate_or_{model}']['defect_type_accuracy_among_found'], 2)}" for model in models),
        "",
        "## Where the gate looks",
        "",
        _localisation_text(localisation, sheets),
        "",
    ])
    with atomic_output_dir(reports_dir) as folder:
        for model in models:
            (folder / f"confusion_{model}.png").write_bytes(pooled_confusion_png(pooled[model], classes, "hold-out"))
        for name, runs in decided.items():
            (folder / f"confusion_{name}.png").write_bytes(pooled_confusion_png(runs, classes, "hold-out"))
        (folder / "intervals.png").write_bytes(forest_png(ordered, source="Hold-out"))
        captions = {o: caption(o, gate.scores[i], gate.thresholds[i], gate.verdict[i]) for i, o in enumerate(gate.order)}
        write_heatmaps(folder, sheets, holdout_manifest, rows, maps, masks, captions, float(np.median(gate.thresholds)))
        (folder / "summary.md").write_text(summary, encoding="utf-8")
    for name, block in detection.items():
        point = block["at_specificity_0.95"]["defect_recall"]
        log.info("hold-out %s: AUROC %.3f, defect recall at specificity 0.95: %d/%d", name, block["image_auroc"], point["successes"], point["trials"])
    return figures
