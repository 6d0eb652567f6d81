"""A counted figure as the metrics files hold it, and as people read it.

One schema, built by :func:`counted` everywhere a figure is "k of n photos"
(a recall, a specificity, a type accuracy, a peak inside a mask): the rate
``value`` (None without trials), its exact interval ``ci_low``/``ci_high``
(:func:`~textile_defects.stats.intervals.proportion`, counting photos, not
copies) and the counts. The counts are named ``successes`` and ``trials``
(:data:`COUNTS`), except in ``metrics/crossval.json`` and the sweep reports
built like it, which have always called them ``k`` and ``n``
(:data:`CV_COUNTS`): those files keep their names, so ``dvc metrics diff``
and the committed figures compare across versions. :func:`counts` reads
either.

One formatter, :func:`format_figure`: ``0.755 [0.696, 0.818] (40/53)`` for
every figure of every report, a seed mean (``mean``) or a single ``value``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textile_defects.stats.intervals import proportion

COUNTS: tuple[str, str] = ("successes", "trials")
"""The count keys of a counted figure."""
CV_COUNTS: tuple[str, str] = ("k", "n")
"""The same counts as ``metrics/crossval.json`` (and the sweep reports) name them."""
MISSING = "—"
"""What a report shows for a figure it does not have."""


def counted(
    successes: int,
    trials: int,
    confidence: float,
    *,
    originals: int | None = None,
    runs: int | None = None,
    names: tuple[str, str] = COUNTS,
) -> dict[str, Any]:
    """``successes`` of ``trials``: ``{value, ci_low, ci_high, <successes>, <trials>}``.

    ``originals``: how many distinct photos the trials come from, when they
    are copies or several seeds' predictions of fewer photos (the interval
    counts each photo once). ``runs``: the counts are totals over that many
    runs scoring the same photos (the seeds of one model); the entry then
    holds the mean counts per run, as floats. ``names``: the count keys,
    :data:`COUNTS` or :data:`CV_COUNTS`.
    """
    entry = proportion(successes, trials, confidence, originals=originals)
    if runs is None:
        return {**entry, names[0]: successes, names[1]: trials}
    return {**entry, names[0]: float(successes / runs), names[1]: float(trials / runs)}


def counts(entry: Mapping[str, Any]) -> tuple[float, float] | None:
    """``(successes, trials)`` of a counted figure under either naming; None for a figure without counts."""
    for successes, trials in (COUNTS, CV_COUNTS):
        if entry.get(successes) is not None and entry.get(trials) is not None:
            return entry[successes], entry[trials]
    return None


def format_count(value: float) -> str:
    """A count: ``6``, or ``6.5`` for a mean over seeds."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def format_counts(entry: Mapping[str, Any]) -> str:
    """``6/8``; :data:`MISSING` for a figure without counts."""
    found = counts(entry)
    return MISSING if found is None else f"{format_count(found[0])}/{format_count(found[1])}"


def format_figure(entry: Mapping[str, Any] | None, digits: int = 3, *, with_counts: bool = True) -> str:
    """``0.755 [0.696, 0.818] (40/53)``: the seed mean or value, its interval, its counts; :data:`MISSING` without a value.

    The interval and the counts are shown when the entry has them (and
    ``with_counts``); a seed block's ``mean`` is shown before a ``value``.
    """
    value = None if not entry else entry.get("mean", entry.get("value"))
    if value is None:
        return MISSING
    text = f"{value:.{digits}f}"
    if entry.get("ci_low") is not None and entry.get("ci_high") is not None:
        text += f" [{entry['ci_low']:.{digits}f}, {entry['ci_high']:.{digits}f}]"
    if with_counts and counts(entry) is not None:
        text += f" ({format_counts(entry)})"
    return text
