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

from textile_defects.crossval.config import CrossvalConfig
from textile_defects.data.manifest import read_manifest
from textile_defects.errors import DataError
from textile_defects.evaluation.crossval_plots import forest_png, pooled_confusion_png
from textile_defects.evaluation.crossval_report import comparison_table, crossval_report, load_scores
from textile_defects.evaluation.report import roc_csv
from textile_defects.gate import metrics
from textile_defects.gate.report import SPECIFICITIES, classifier_arrays, gate_then_classifier, read_gate_scores, score_figures
from textile_defects.holdout.paired import paired_at_specificity
from textile_defects.utils.atomic import atomic_output_dir, atomic_write_json

log = logging.getLogger(__name__)

MODELS: tuple[str, ...] = ("baseline", "post_baseline", "probe")
"""The classifiers scored: the pipeline's two checkpoints and the frozen-feature probe."""
FOLD = 0
"""The one "fold" every hold-out photo is scored in (the CV's score-file contract)."""


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


def _share(entry: Mapping[str, Any]) -> str:
    if entry["value"] is None:
        return "none found"
    return f"{entry['successes']}/{entry['trials']} [{entry['ci_low']:.2f}, {entry['ci_high']:.2f}]"


def detection_table(detection: Mapping[str, Mapping[str, Any]]) -> str:
    """Markdown: each detector's AUROC and defect recall at each specificity, counts and intervals."""
    specs = [f"at_specificity_{spec:.2f}" for spec in SPECIFICITIES]
    header = "| detector | image AUROC | " + " | ".join(f"defect recall at specificity {spec:.2f}" for spec in SPECIFICITIES)
    lines = [header + " | own decision: recall / specificity |", "|---|---:|" + "---:|" * len(specs) + "---|"]
    for name, block in detection.items():
        cells = [f"{block['image_auroc']:.3f}"]
        for spec in specs:
            specificity = block[spec]["specificity"]
            cells.append(f"{_share(block[spec]['defect_recall'])} (spec. {specificity['successes']}/{specificity['trials']})")
        own = block["operating_point"]
        cells.append(
            f"{own['defect_recall']['successes']}/{own['defect_recall']['trials']} / "
            f"{own['specificity']['successes']}/{own['specificity']['trials']}"
        )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def paired_table(paired: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """Markdown: per classifier and specificity, defects only the gate finds, only the classifier finds, and p."""
    specs = [f"at_specificity_{spec:.2f}" for spec in SPECIFICITIES]
    lines = [
        "| gate vs | " + " | ".join(f"at specificity {spec:.2f}: gate only / it only (p)" for spec in SPECIFICITIES) + " |",
        "|---|" + "---:|" * len(specs),
    ]
    for model, block in paired.items():
        cells = [f"{block[spec]['first_only']} / {block[spec]['second_only']} (p = {block[spec]['p_value']:.3g})" for spec in specs]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def holdout_report(
    holdout_dir: Path,
    holdout_manifest: Path,
    pipeline_manifest: Path,
    classes: Sequence[str],
    good_class: str,
    config: CrossvalConfig,
    *,
    metrics_path: Path,
    plots_dir: Path,
    reports_dir: Path,
) -> dict[str, Any]:
    """Score the hold-out: ``metrics_path`` (JSON), ``plots_dir`` (ROC CSVs), ``reports_dir`` (PNGs, summary.md).

    Classifier figures are the CV's (F1 with a bootstrap over photos, exact
    intervals on recall and specificity); detection figures are the gate
    report's (AUROC, recall at each specificity, the stored decision), for the
    gate, each classifier's 1 - p_good and the probe; gate-then-classifier's
    type accuracy among the defects the gate finds.
    """
    check_independent(holdout_manifest, pipeline_manifest)
    plan = holdout_plan(holdout_manifest, classes)
    scores_dir = holdout_dir / "scores"
    pooled = load_scores(scores_dir, plan, classes, models=MODELS)
    report = config.report
    classifiers = crossval_report(pooled, classes, good_class, report.confidence, report.bootstrap_resamples, report.bootstrap_seed)
    ordered = {model: classifiers[model] for model in MODELS}

    gate = read_gate_scores([scores_dir / f"gate_fold{FOLD}.csv"], plan)
    order = sorted(gate)
    labels = [gate[o]["label"] for o in order]
    defective = np.array([label != good_class for label in labels])
    if defective.all() or not defective.any():
        raise DataError(f"{holdout_manifest}: the hold-out needs good and defect photos both, to measure recall and specificity.")
    gate_scores = np.array([gate[o]["score"] for o in order])
    gate_verdict = np.array([gate[o]["defective"] for o in order])
    detection: dict[str, Any] = {"gate": score_figures(defective, gate_scores, gate_verdict, labels, good_class, report.confidence)}
    rocs = {"gate": metrics.roc_points(defective, gate_scores)}
    two_stage: dict[str, Any] = {}
    paired: dict[str, Any] = {}
    for model in MODELS:
        (run,) = pooled[model]
        scores, verdict, probabilities = classifier_arrays(run, order, classes, good_class)
        detection[model] = score_figures(defective, scores, verdict, labels, good_class, report.confidence)
        rocs[model] = metrics.roc_points(defective, scores)
        two_stage[model] = gate_then_classifier(labels, gate_verdict, probabilities, classes, good_class, report.confidence)
        paired[model] = {
            f"at_specificity_{spec:.2f}": paired_at_specificity(defective, gate_scores, scores, spec) for spec in SPECIFICITIES
        }

    figures = {
        "originals": len(order),
        "defect_originals": int(defective.sum()),
        "classifiers": ordered,
        "detection": detection,
        "gate_then_classifier": two_stage,
        "gate_vs": paired,
    }
    atomic_write_json(metrics_path, figures)
    with atomic_output_dir(plots_dir) as folder:
        for name, points in rocs.items():
            (folder / f"roc_{name}.csv").write_text(roc_csv(points), encoding="utf-8")
    summary = "\n".join([
        "# Hold-out test",
        "",
        f"{len(order)} photos ({int(defective.sum())} defect), none of which trained or chose anything: "
        "the pipeline's own checkpoints and gate, and a probe fit on the same training originals.",
        "",
        "## Which class",
        "",
        comparison_table(ordered),
        "F1 from a bootstrap over photos, defect recall and specificity exact (Clopper-Pearson) over photos; "
        "two figures whose intervals overlap are within noise.",
        "",
        "## Defective or good",
        "",
        detection_table(detection),
        "Recall at a specificity reads a point of each detector's ROC (the threshold set on these photos); "
        "the last column is each one's own decision (the gate's stored threshold, the classifiers' argmax).",
        "",
        "The gate against each classifier on the same photos, each at the same specificity "
        "(defects only the gate finds / only the classifier finds; exact McNemar p-value of that split):",
        "",
        paired_table(paired),
        "Gate-then-classifier, defect type named right among the defects the gate finds: "
        + ", ".join(f"{model} {_share(block['defect_type_accuracy_among_found'])}" for model, block in two_stage.items()),
        "",
    ])
    with atomic_output_dir(reports_dir) as folder:
        for model in MODELS:
            (folder / f"confusion_{model}.png").write_bytes(pooled_confusion_png(pooled[model], classes, "hold-out"))
        (folder / "intervals.png").write_bytes(forest_png(ordered, source="Hold-out"))
        (folder / "summary.md").write_text(summary, encoding="utf-8")
    for name, block in detection.items():
        point = block["at_specificity_0.95"]["defect_recall"]
        log.info("hold-out %s: AUROC %.3f, defect recall at specificity 0.95: %d/%d", name, block["image_auroc"], point["successes"], point["trials"])
    return figures
