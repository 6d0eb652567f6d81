"""Cross-validated figures side by side, and comparisons that respect their noise.

Inputs are model blocks of ``metrics/crossval.json``
(:func:`textile_defects.crossval.figures.crossval_report`), or the same
blocks of a sweep or the hold-out. :func:`comparison_table` renders models
side by side and calls a difference "within noise" when the intervals overlap
(:func:`~textile_defects.stats.intervals.within_noise`). Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textile_defects.stats.intervals import within_noise
from textile_defects.stats.proportions import MISSING, format_figure

TABLE_FIGURES = (("f1_macro", "F1 macro"), ("f1_weighted", "F1 weighted"), ("defect_recall", "defect recall"), ("specificity", "specificity"))
"""The columns of the comparison tables, in order: the headline figures with their labels."""


def interval(block: Mapping[str, Any], figure: str) -> tuple[float, float] | None:
    """``(ci_low, ci_high)`` of a model block's headline figure; None when it has none."""
    entry = block.get(figure) or {}
    low, high = entry.get("ci_low"), entry.get("ci_high")
    return None if low is None or high is None else (float(low), float(high))


def compare(first: Mapping[str, Any], second: Mapping[str, Any], figure: str) -> str:
    """``first`` against ``second`` on one figure: ``within noise``, ``higher`` or ``lower`` (or ``n/a``).

    Both are model blocks of ``metrics/crossval.json`` (two models, or one
    model in two runs such as two encoders). Overlapping intervals are
    ``within noise`` (:func:`~textile_defects.stats.intervals.within_noise`);
    otherwise the seed means say which is higher.
    """
    a, b = interval(first, figure), interval(second, figure)
    if a is None or b is None or first[figure].get("mean") is None or second[figure].get("mean") is None:
        return "n/a"
    if within_noise(a, b):
        return "within noise"
    return "higher" if first[figure]["mean"] > second[figure]["mean"] else "lower"


def verdict(block: Mapping[str, Any], reference: Mapping[str, Any]) -> str:
    """One cell: ``within noise`` when every headline figure is, else the figures that differ and how."""
    results = {label: compare(block, reference, figure) for figure, label in TABLE_FIGURES}
    beyond = [f"{label} {result}" for label, result in results.items() if result in ("higher", "lower")]
    if beyond:
        return ", ".join(beyond) + " (beyond noise)"
    return "n/a" if all(result == "n/a" for result in results.values()) else "within noise"


def format_spread(block: Mapping[str, Any], figure: str = "f1_macro", digits: int = 3) -> str:
    """The seed spread of one figure: ``0.680–0.810, sd 0.067 (3 seeds)``, or ``1 run`` when there is no spread."""
    entry = block.get(figure) or {}
    runs = int(block.get("runs") or 0)
    if entry.get("std") is None or runs < 2:
        return f"{runs} run" if runs == 1 else MISSING
    return f"{entry['min']:.{digits}f}–{entry['max']:.{digits}f}, sd {entry['std']:.{digits}f} ({runs} seeds)"


def best_row(blocks: Mapping[str, Mapping[str, Any] | None], figure: str = "f1_macro") -> str | None:
    """The row with the highest seed-mean ``figure``; None when no row has it."""
    scored = {name: block[figure]["mean"] for name, block in blocks.items()
              if block and (block.get(figure) or {}).get("mean") is not None}
    return max(sorted(scored), key=lambda name: scored[name]) if scored else None


def comparison_table(
    blocks: Mapping[str, Mapping[str, Any] | None],
    *,
    label: str = "model",
    reference: str | None = None,
    notes: Mapping[str, str] | None = None,
    notes_header: str = "run",
) -> str:
    """Markdown table, one row per model block (None: no figures, dashes), in the given order.

    Columns: each :data:`TABLE_FIGURES` as ``mean [interval]`` (``k/n`` for
    counts), the seed spread of F1 macro, and a verdict against the
    ``reference`` row (default: the best F1 macro): ``within noise`` when
    every headline interval overlaps the reference's, else the figures that
    differ beyond noise. ``notes`` adds a last column (e.g. the run name).
    """
    reference = reference if reference is not None else best_row(blocks)
    if reference is not None and not blocks.get(reference):
        raise ValueError(f"reference {reference!r} has no figures; rows with figures: {[n for n, b in blocks.items() if b]}")
    header = [label, *(f"{name} [CI]" for _, name in TABLE_FIGURES), "seed spread (F1 macro)", f"vs {reference or 'reference'}"]
    if notes is not None:
        header.append(notes_header)
    align = ["---", *["---:"] * (len(TABLE_FIGURES) + 1), *["---"] * (len(header) - len(TABLE_FIGURES) - 2)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for name, block in blocks.items():
        if not block:
            cells = [name, *([MISSING] * (len(TABLE_FIGURES) + 2))]
        else:
            cells = [name, *(format_figure(block.get(figure)) for figure, _ in TABLE_FIGURES), format_spread(block),
                     "reference" if name == reference else verdict(block, blocks[reference])]
        if notes is not None:
            cells.append(notes.get(name, ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def per_class_table(blocks: Mapping[str, Mapping[str, Any]], classes: Sequence[str] | None = None) -> str:
    """Markdown: each model's recall per class (how many photos of it are named right), exact intervals over photos."""
    any_block = next((block for block in blocks.values() if block), {})
    names = list(classes) if classes is not None else list(any_block.get("per_class", {}))
    lines = ["| model | " + " | ".join(f"{name} recall [CI]" for name in names) + " |", "|---|" + "---:|" * len(names)]
    for model, block in blocks.items():
        per_class = (block or {}).get("per_class", {})
        lines.append(f"| {model} | " + " | ".join(format_figure(per_class.get(name, {}).get("recall"), 2) for name in names) + " |")
    return "\n".join(lines) + "\n"


def summary_markdown(report: Mapping[str, Mapping[str, Any]], reference: str | None = None) -> str:
    """``reports/crossval/summary.md``: what was measured, the comparison table, how to read it."""
    any_block = next(iter(report.values()), {})
    settings = any_block.get("settings", {})
    confidence = settings.get("confidence")
    lines = [
        "# Cross-validation: pooled out-of-fold figures",
        "",
        f"{any_block.get('originals', '?')} original photos, each scored once per training seed by models that never saw it. "
        f"Figures are seed means with {'' if confidence is None else f'{confidence:.0%} '}intervals that count photos, not copies: "
        "F1 from a bootstrap over originals and seeds, defect recall and specificity exact over the originals (k/n: counts per seed).",
        "",
        comparison_table(report, reference=reference),
        "Two figures whose intervals overlap are marked within noise: the data cannot tell them apart. "
        "`seed spread` is the range of F1 macro over training seeds: a rerun with another seed lands about there.",
        "",
        "Each class named right (recall per class; k/n photos, summed over seeds; confusion matrices: confusion_<model>.png):",
        "",
        per_class_table(report),
    ]
    return "\n".join(lines)
