"""Confidence intervals that count photos, not copies.

Two kinds, both pure and deterministic:

- exact binomial (Clopper-Pearson) intervals for proportions such as a class
  recall or the defect recall; when the trials are augmented copies of fewer
  originals, :func:`proportion` counts each original once (see there);
- a percentile bootstrap that resamples ORIGINALS (every row sharing an
  ``original_id`` is drawn together), for figures with no exact interval,
  such as F1 macro.

:func:`within_noise` is the comparison rule used by every report: two figures
whose intervals overlap are not called different.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np


def clopper_pearson(successes: float, trials: float, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial confidence interval for ``successes / trials``.

    The Clopper-Pearson interval inverts two one-sided binomial tests, so its
    coverage is at least ``confidence`` for every true proportion (it is
    conservative, never optimistic). ``trials == 0`` carries no information:
    the interval is the whole of [0, 1]. Non-integer counts are accepted (the
    beta quantiles are defined for them): :func:`proportion` uses them to
    count originals instead of copies.
    """
    if not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if trials == 0:
        return 0.0, 1.0
    # The beta quantile straight from scipy.special (scipy.stats.beta.ppf calls the same Boost
    # routine, bit for bit: tests/stats/test_intervals.py), imported here: scipy.stats would
    # add 1-2 s to every process that reports an interval.
    from scipy.special import betaincinv

    tail = (1.0 - confidence) / 2.0
    low = 0.0 if successes == 0 else float(betaincinv(successes, trials - successes + 1, tail))
    high = 1.0 if successes == trials else float(betaincinv(successes + 1, trials - successes, 1.0 - tail))
    return low, high


def proportion(successes: int, trials: int, confidence: float = 0.95, originals: int | None = None) -> dict[str, Any]:
    """``successes / trials`` with its exact interval; the value is None when ``trials == 0``.

    ``originals`` is how many distinct photos the ``trials`` come from, when
    they are augmented copies (or several seeds' predictions) of fewer photos.
    Copies of one photo are not independent trials, so the interval is then
    taken over ``originals`` trials with the same rate (``originals *
    successes / trials`` successes): the effective sample size when copies of
    a photo agree completely, the conservative bound. A cluster bootstrap was
    the other candidate; with 4 defect photos whose copies are all caught it
    gives [1, 1], a certainty 4 photos cannot give, where this gives
    [0.40, 1] as the 4 photos alone do. With one row per photo both are the
    plain exact interval.
    """
    if originals is not None and not (min(trials, 1) <= originals <= trials):
        raise ValueError(f"need 1 <= originals <= trials for {trials} trial(s), got {originals} originals")
    effective = trials if originals is None else originals
    rate = successes / trials if trials else None
    low, high = clopper_pearson(0 if rate is None else rate * effective, effective, confidence)
    return {"value": rate, "ci_low": low, "ci_high": high}


def _clusters(original_ids: Sequence[str], strata: Sequence[Any] | None) -> list[list[np.ndarray]]:
    """Row indices of each original, grouped by stratum; ids and strata sorted, so row order does not matter."""
    ids = np.asarray(original_ids, dtype=str)
    unique, inverse = np.unique(ids, return_inverse=True)
    rows = [np.flatnonzero(inverse == index) for index in range(len(unique))]
    if strata is None:
        return [rows]
    labels = np.asarray(strata)
    if labels.shape != ids.shape:
        raise ValueError(f"strata has shape {labels.shape}, original_ids {ids.shape}; need one stratum per row")
    by_stratum: dict[Any, list[np.ndarray]] = {}
    for original, members in zip(unique, rows, strict=True):
        values = np.unique(labels[members])
        if len(values) != 1:
            raise ValueError(f"original {original!r} has rows in several strata {values.tolist()}; copies of a photo share its label")
        by_stratum.setdefault(values[0].item(), []).append(members)
    return [by_stratum[key] for key in sorted(by_stratum)]


def resample_originals(
    original_ids: Sequence[str], *, resamples: int, seed: int, strata: Sequence[Any] | None = None
) -> Iterator[np.ndarray]:
    """``resamples`` bootstrap samples of rows, each drawing whole originals with replacement.

    Every row of a drawn original (all its copies) enters the sample together,
    as often as the original was drawn. With ``strata`` (one label per row,
    the same for all rows of an original) originals are drawn within each
    stratum, so every resample keeps each class's number of photos: a class
    with 2 photos is never missing from a resample, which would turn its F1
    into a 0 that the data never showed. Deterministic given ``seed``.
    """
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    groups = _clusters(original_ids, strata)
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        drawn = [group[i] for group in groups for i in rng.integers(0, len(group), size=len(group))]
        yield np.concatenate(drawn)


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float] | None:
    """The central ``confidence`` range of the finite values in ``samples``; None when there are none."""
    finite = np.asarray(samples, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return None
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)


def cluster_bootstrap(
    statistic: Callable[[np.ndarray], float | Sequence[float] | np.ndarray],
    original_ids: Sequence[str],
    *,
    resamples: int,
    seed: int,
    confidence: float = 0.95,
    strata: Sequence[Any] | None = None,
) -> list[tuple[float, float] | None]:
    """Percentile bootstrap intervals of one or more figures, resampling originals.

    ``statistic(rows)`` computes the figure(s) on the rows ``rows`` (an index
    array into the caller's arrays, with repeats) and returns a float or a
    (K,) array; NaN marks a figure undefined on that resample, and such
    resamples are left out of that figure's interval. Returns K intervals in
    order (None for a figure undefined on every resample). All figures see
    the same resamples, so they can be compared with each other.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    samples = np.array(
        [np.atleast_1d(np.asarray(statistic(rows), dtype=float)) for rows in
         resample_originals(original_ids, resamples=resamples, seed=seed, strata=strata)]
    )
    return [percentile_interval(samples[:, k], confidence) for k in range(samples.shape[1])]


def within_noise(first: tuple[float, float], second: tuple[float, float]) -> bool:
    """True when two intervals ``(low, high)`` overlap: the difference is not shown by the data.

    Overlap is a conservative test (two 95% intervals can overlap slightly
    while the difference is significant), which suits its purpose here: not
    acting on a difference the evaluation cannot see.
    """
    return first[0] <= second[1] and second[0] <= first[1]
