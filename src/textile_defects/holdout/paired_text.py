"""Terminal lines for a paired comparison of two final labels (scripts/operating_point.py, scripts/paired_holdout.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def figures_lines(labelled: Sequence[tuple[str, Mapping[str, Any]]], width: int) -> list[str]:
    """One line per (name, :func:`~textile_defects.holdout.paired.label_figures`): F1 macro, named right per class, found."""
    lines = []
    for name, figures in labelled:
        named = " ".join(f"{c} {k}/{n}" for c, (k, n) in figures["named_right"].items())
        found, right = figures["defects_found"], figures["defects_found_and_named_right"]
        lines.append(
            f"  {name:{width}s} F1 macro {figures['f1_macro']:.3f} | {named} | defects found {found[0]}/{found[1]}"
            f" | found and named right {right[0]}/{right[1]}"
        )
    return lines


def naming_lines(paired: Mapping[str, Any], first: str, second: str) -> list[str]:
    """The F1 macro difference with its interval, then per class the photos only each names right
    (:func:`~textile_defects.holdout.paired.paired_naming`'s result)."""
    difference = paired["f1_macro_difference"]
    lines = [f"  F1 macro difference ({first} - {second}): {difference['value']:+.4f} [{difference['ci_low']:+.4f}, {difference['ci_high']:+.4f}]"]
    for name, counts in paired["per_class"].items():
        lines.append(f"    {name}: only {first} {counts['first_only']}, only {second} {counts['second_only']}, p = {counts['p_value']:.3g}")
    return lines
