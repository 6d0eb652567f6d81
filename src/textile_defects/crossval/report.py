"""The cv_report stage's work: check the plan again, pool every score file, write all outputs.

The score files are read by :mod:`textile_defects.crossval.scores`, the
statistics are :mod:`textile_defects.crossval.figures` and
:mod:`textile_defects.crossval.compare`, the pictures
:mod:`textile_defects.crossval.plots`; this module decides
which files they read and where their results go. Everything is computed
before anything is written, and each output is written atomically.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textile_defects.crossval.compare import summary_markdown
from textile_defects.crossval.config import VARIANTS, CrossvalConfig
from textile_defects.crossval.figures import confusion_csv, crossval_report
from textile_defects.crossval.folds import FOLDS_NAME, check_plan_files
from textile_defects.crossval.plots import forest_png, pooled_confusion_png
from textile_defects.crossval.scores import MIXED, NAMING, PROBE, load_scores, parse_score_file_name
from textile_defects.data.manifest import MANIFEST_NAME
from textile_defects.utils.atomic import atomic_output_dir, atomic_write_json

log = logging.getLogger(__name__)

MODELS: tuple[str, ...] = (*VARIANTS, PROBE)
"""Rows of the report: the two fine-tuned variants and the frozen-feature probe."""
OPTIONAL_MODELS: tuple[str, ...] = (NAMING, MIXED)
"""Rows added when their score files exist: the detector named by the type classifier, and by both namers
together (crossval/dvc.yaml's cv_naming and cv_mixed write them; a sweep that trains only the variants has none)."""


def reported_models(scores_dir: Path) -> tuple[str, ...]:
    """:data:`MODELS`, then each of :data:`OPTIONAL_MODELS` that has score files in ``scores_dir``."""
    present = {parsed[0] for path in scores_dir.glob("*.csv") if (parsed := parse_score_file_name(path.name)) is not None}
    return MODELS + tuple(model for model in OPTIONAL_MODELS if model in present)


def augmented_manifest(crossval_dir: Path, fold: int) -> Path:
    """Fold ``fold``'s augmented training manifest."""
    return crossval_dir / f"fold_{fold}" / "augmented" / MANIFEST_NAME


def write_crossval_report(
    crossval_dir: Path,
    ingested_manifest: Path,
    classes: Sequence[str],
    good_class: str,
    config: CrossvalConfig,
    *,
    metrics_path: Path,
    plots_dir: Path,
    reports_dir: Path,
) -> dict[str, Any]:
    """Pool the out-of-fold scores into ``metrics_path``, ``plots_dir`` and ``reports_dir``; returns the metrics.

    ``crossval_dir`` (``data/crossval``) holds ``plan/``, ``scores/`` and
    ``fold_<k>/augmented/``, as crossval/dvc.yaml writes them.
    The fold plan is checked first, with each fold's augmented set, so a copy
    of a scored photo in its fold's training set fails the report (leakage).
    """
    plan_dir, scores_dir = crossval_dir / "plan", crossval_dir / "scores"
    check_plan_files(
        plan_dir, ingested_manifest, classes, config.k,
        {fold: [augmented_manifest(crossval_dir, fold)] for fold in range(config.k)},
    )
    models = reported_models(scores_dir)
    pooled = load_scores(scores_dir, plan_dir / FOLDS_NAME, classes, models=models, seeds=config.seeds)
    report = config.report
    metrics = crossval_report(
        pooled, classes, good_class, report.confidence, report.bootstrap_resamples, report.bootstrap_seed
    )
    ordered = {model: metrics[model] for model in models}
    confusions = {model: confusion_csv(pooled[model], classes) for model in models}
    pictures = {f"confusion_{model}.png": pooled_confusion_png(pooled[model], classes) for model in models}
    pictures["intervals.png"] = forest_png(ordered)
    summary = summary_markdown(ordered)
    atomic_write_json(metrics_path, metrics)
    with atomic_output_dir(plots_dir) as folder:
        for model, text in confusions.items():
            (folder / f"confusion_{model}.csv").write_text(text, encoding="utf-8")
    with atomic_output_dir(reports_dir) as folder:
        for name, data in pictures.items():
            (folder / name).write_bytes(data)
        (folder / "summary.md").write_text(summary, encoding="utf-8")
    for model in models:
        figure = metrics[model]["f1_macro"]
        log.info(
            "%s: F1 macro %.3f [%.3f, %.3f] over %d run(s)",
            model, figure["mean"], figure["ci_low"], figure["ci_high"], metrics[model]["runs"],
        )
    return metrics
