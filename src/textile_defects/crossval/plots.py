"""Pictures of the cross-validation for people: pooled confusion matrices and a forest plot.

Functions return PNG bytes (the caller writes them atomically). Built with
matplotlib's object-oriented API (no pyplot state, no display), like
:mod:`textile_defects.evaluation.plots`, whose confusion matrix drawing and
PNG writer are reused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from textile_defects.crossval.scores import OutOfFold
from textile_defects.evaluation.plots import confusion_png, png_bytes
from textile_defects.stats.metrics import confusion_counts
from textile_defects.stats.proportions import format_figure

FOREST_FIGURES: tuple[tuple[str, str], ...] = (("f1_macro", "F1 macro"), ("defect_recall", "defect recall"))


def pooled_confusion_png(runs: Sequence[OutOfFold], classes: Sequence[str], scored_as: str = "out of fold") -> bytes:
    """One model's confusion matrix, counts summed over its seeds, beside the row-normalised recall.

    ``scored_as`` says how the photos were scored, in the title (the CV's "out of fold", the hold-out's own).
    """
    counts = sum(confusion_counts(run.y_true, run.y_pred, len(classes)) for run in runs)
    originals = len(runs[0].original_ids)
    seeds = f" x {len(runs)} seeds" if len(runs) > 1 else ""
    return confusion_png(np.asarray(counts), classes, f"{runs[0].model}, {scored_as} ({originals} originals{seeds})")


def forest_png(
    report: Mapping[str, Mapping[str, Any]], figures: Sequence[tuple[str, str]] = FOREST_FIGURES, source: str = "Cross-validation"
) -> bytes:
    """Each model's seed mean (dot), interval (bar) and single seeds (grey ticks), one panel per figure.

    ``report`` is :func:`~textile_defects.crossval.figures.crossval_report`'s
    output. Bars that overlap are differences within noise.
    """
    models = list(report)
    rows = np.arange(len(models))[::-1]  # first model on top
    figure = Figure(figsize=(5.2 * len(figures), 0.7 * len(models) + 1.6), layout="constrained")
    figure.suptitle(f"{source}: seed mean (dot), interval (bar), single seeds (grey); overlapping bars are within noise", fontsize=10)
    for axes, (key, title) in zip(np.atleast_1d(figure.subplots(1, len(figures))), figures, strict=True):
        for row, model in zip(rows, models, strict=True):
            entry = report[model].get(key) or {}
            if entry.get("mean") is None:
                continue
            if entry.get("ci_low") is not None and entry.get("ci_high") is not None:
                axes.hlines(row, entry["ci_low"], entry["ci_high"], color="C0", linewidth=3)
            seeds = [run[key]["value"] if isinstance(run[key], Mapping) else run[key]
                     for run in (report[model].get("per_seed") or {}).values()]
            seeds = [value for value in seeds if value is not None]
            axes.plot(seeds, [row] * len(seeds), "|", color="grey", markersize=12)
            axes.plot(entry["mean"], row, "o", color="C3", markersize=7, zorder=3)
            axes.annotate(format_figure(entry, digits=2, with_counts=False),
                          (1.02, row), xycoords=("axes fraction", "data"), va="center", fontsize=8, annotation_clip=False)
        axes.set_yticks(rows, models)
        axes.set_xlim(-0.02, 1.02)
        axes.set_ylim(-0.6, len(models) - 0.4)
        axes.set_xlabel(title)
        axes.grid(axis="x", alpha=0.3)
    return png_bytes(figure)
