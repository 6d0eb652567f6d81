"""Pooled out-of-fold figures of the cross-validation: ``metrics/crossval.json``.

The CV scores every original photo exactly once per (model, training seed),
by a model that never saw it (:func:`textile_defects.crossval.scores.load_scores`
reads and checks those scores). This module turns them into the figures of
``metrics/crossval.json`` (:func:`crossval_report`): per-class and headline
figures with intervals that count photos, and the spread over training seeds.
:mod:`textile_defects.crossval.compare` renders them side by side. Pure functions.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from textile_defects.crossval.scores import OutOfFold
from textile_defects.evaluation.report import round_floats
from textile_defects.stats.intervals import cluster_bootstrap
from textile_defects.stats.metrics import binary_masks, checked_labels, confusion_counts, f1_from_counts
from textile_defects.stats.proportions import CV_COUNTS, counted

HEADLINE = ("f1_macro", "f1_weighted", "defect_recall", "specificity")
"""The figures whose seed spread is reported and compared."""
SPREAD_FIGURES = ("accuracy", *HEADLINE, "defect_precision")


def run_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    original_ids: Sequence[str],
    classes: Sequence[str],
    good_class: str,
    *,
    confidence: float,
    resamples: int,
    seed: int,
) -> dict[str, Any]:
    """Every figure of one run's pooled predictions; ``y_true``/``y_pred`` are (N,) indices into ``classes``.

    - ``per_class``: precision, F1, support and recall with its exact interval
      (``recall.k`` of ``recall.n`` photos of the class correctly named);
    - ``f1_macro`` (over every class, absent ones as 0) and ``f1_weighted``,
      each ``{value, ci_low, ci_high}`` from a percentile bootstrap that
      resamples originals within each class (``resamples`` draws, ``seed``);
    - ``defect_recall``, ``specificity``, ``defect_precision`` (defect = any
      class but ``good_class``): ``{value, ci_low, ci_high, k, n}``, exact;
    - ``accuracy``, ``n`` (rows) and ``originals``.

    A row is a prediction of one original; rows sharing an original (copies)
    are never counted as independent in any interval.
    """
    y_true, y_pred = checked_labels(y_true, y_pred, classes, good_class)
    ids = np.asarray(original_ids, dtype=str)
    if ids.shape != y_true.shape:
        raise ValueError(f"need one original_id per prediction: {ids.shape} ids for {y_true.shape} predictions")
    size = len(classes)
    counts = confusion_counts(y_true, y_pred, size)
    per_class_f1, f1_macro, f1_weighted = f1_from_counts(counts)
    predicted = counts.sum(axis=0)

    def f1_pair(rows: np.ndarray) -> tuple[float, float]:
        _, macro, weighted = f1_from_counts(confusion_counts(y_true[rows], y_pred[rows], size))
        return macro, weighted

    macro_ci, weighted_ci = cluster_bootstrap(f1_pair, ids, resamples=resamples, seed=seed, confidence=confidence, strata=y_true)
    per_class = {}
    for i, name in enumerate(classes):
        in_class = y_true == i
        per_class[name] = {
            "precision": float(counts[i, i] / predicted[i]) if predicted[i] else 0.0,
            "recall": counted(int(counts[i, i]), int(in_class.sum()), confidence, originals=len(set(ids[in_class])), names=CV_COUNTS),
            "f1": float(per_class_f1[i]),
            "support": int(in_class.sum()),
        }
    binary = {
        figure: counted(int(hit.sum()), int(trial.sum()), confidence, originals=len(set(ids[trial])), names=CV_COUNTS)
        for figure, (hit, trial) in binary_masks(y_true, y_pred, classes.index(good_class)).items()
    }
    return {
        "n": int(y_true.size),
        "originals": len(set(ids)),
        "accuracy": float(np.mean(y_true == y_pred)),
        "f1_macro": {"value": f1_macro, "ci_low": macro_ci[0], "ci_high": macro_ci[1]},
        "f1_weighted": {"value": f1_weighted, "ci_low": weighted_ci[0], "ci_high": weighted_ci[1]},
        "per_class": per_class,
        **binary,
    }


def _value(figures: Mapping[str, Any], name: str) -> float | None:
    entry = figures[name]
    return entry["value"] if isinstance(entry, Mapping) else entry


def seed_spread(per_seed: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Mean, sample standard deviation, min and max over runs of each figure in :data:`SPREAD_FIGURES`.

    ``per_seed`` holds :func:`run_metrics` results of one model trained with
    different seeds. With one run the standard deviation is None (unknown,
    not 0); a figure undefined in a run (e.g. precision with nothing called
    defective) is left out of its statistics.
    """
    spread: dict[str, dict[str, float | None]] = {}
    for name in SPREAD_FIGURES:
        values = np.array([v for v in (_value(run, name) for run in per_seed) if v is not None], dtype=float)
        if values.size == 0:
            spread[name] = {"mean": None, "std": None, "min": None, "max": None}
            continue
        spread[name] = {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if values.size > 1 else None,
            "min": float(values.min()),
            "max": float(values.max()),
        }
    return spread


def model_report(
    runs: Sequence[OutOfFold], classes: Sequence[str], good_class: str, *, confidence: float, resamples: int, seed: int
) -> dict[str, Any]:
    """One model's block of ``metrics/crossval.json``: figures over its seeds, then each seed's own.

    The headline figures (:data:`SPREAD_FIGURES`) carry the seed spread
    (mean, std, min, max) and an interval for the seed mean that counts
    every photo once. F1: a bootstrap whose every resample draws originals
    (within each class) and seeds, both with replacement, so the interval
    holds photo noise and seed noise. Binary figures and per-class recall:
    the exact interval over the originals at the seed-mean rate (``k`` and
    ``n`` are mean counts per seed); their seed noise is in std/min/max.
    ``per_class`` holds the seed means. ``per_seed.<run>`` is
    :func:`run_metrics` of each run.
    """
    if not runs:
        raise ValueError("need at least one run")
    ids = runs[0].original_ids
    for run in runs:
        if run.original_ids != ids or not np.array_equal(run.y_true, runs[0].y_true):
            raise ValueError(f"runs of {run.model} cover different originals or labels; each must score the whole plan")
    settings = {"confidence": confidence, "resamples": resamples, "seed": seed}
    per_seed = {run.run: run_metrics(run.y_true, run.y_pred, run.original_ids, classes, good_class, **settings) for run in runs}
    spread = seed_spread(list(per_seed.values()))
    y_true = runs[0].y_true
    size = len(classes)

    # Two sources of noise in one interval: each resample draws the originals AND the seeds (with
    # replacement), so two models compare within their photo noise and their seed noise together.
    seed_draws = np.random.default_rng([seed, len(runs)])

    def mean_f1(rows: np.ndarray) -> tuple[float, float]:
        drawn = seed_draws.integers(0, len(runs), size=len(runs))
        pairs = [f1_from_counts(confusion_counts(y_true[rows], runs[k].y_pred[rows], size))[1:] for k in drawn]
        return tuple(np.mean(pairs, axis=0))

    intervals = dict(zip(("f1_macro", "f1_weighted"), cluster_bootstrap(
        mean_f1, ids, resamples=resamples, seed=seed, confidence=confidence, strata=y_true), strict=True))
    all_true = np.concatenate([y_true] * len(runs))
    all_pred = np.concatenate([run.y_pred for run in runs])
    all_ids = np.asarray(ids * len(runs), dtype=str)

    def over_seeds(hit: np.ndarray, trial: np.ndarray) -> dict[str, Any]:
        # Each original once in the interval, whatever the number of seeds; k and n are means per seed.
        return counted(int(hit.sum()), int(trial.sum()), confidence, originals=len(set(all_ids[trial])), runs=len(runs), names=CV_COUNTS)

    block: dict[str, Any] = {"originals": len(ids), "runs": len(runs), "seeds": [run.seed for run in runs if run.seed is not None]}
    block["accuracy"] = spread["accuracy"]
    for name in ("f1_macro", "f1_weighted"):
        low_high = intervals[name] or (None, None)
        block[name] = {**spread[name], "ci_low": low_high[0], "ci_high": low_high[1]}
    for name, (hit, trial) in binary_masks(all_true, all_pred, classes.index(good_class)).items():
        pooled = over_seeds(hit, trial)
        block[name] = {**spread[name], **{key: pooled[key] for key in ("ci_low", "ci_high", *CV_COUNTS)}}
    block["per_class"] = {
        name: {
            "precision": float(np.mean([r["per_class"][name]["precision"] for r in per_seed.values()])),
            "recall": over_seeds((all_true == i) & (all_pred == i), all_true == i),
            "f1": float(np.mean([r["per_class"][name]["f1"] for r in per_seed.values()])),
            "support": int(np.sum(y_true == i)),
        }
        for i, name in enumerate(classes)
    }
    block["per_seed"] = per_seed
    return block


def crossval_report(
    pooled: Mapping[str, Sequence[OutOfFold]],
    classes: Sequence[str],
    good_class: str,
    confidence: float,
    resamples: int,
    seed: int,
) -> dict[str, Any]:
    """``metrics/crossval.json``: ``{model: model_report(...)}``, floats rounded to 6 decimals.

    ``dvc metrics diff`` flattens it to keys such as
    ``post_baseline.f1_macro.mean``, ``post_baseline.f1_macro.ci_low`` or
    ``probe.defect_recall.per_seed...``. Same inputs, same bytes.
    """
    settings = {"confidence": confidence, "resamples": resamples, "seed": seed}
    report = {model: model_report(runs, classes, good_class, **settings) for model, runs in sorted(pooled.items())}
    return round_floats({model: {**block, "settings": settings} for model, block in report.items()})


def confusion_csv(runs: Sequence[OutOfFold], classes: Sequence[str]) -> str:
    """DVC's confusion template input for one model: ``actual,predicted`` per original and seed, by seed then id."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["actual", "predicted"])
    for run in runs:
        writer.writerows([classes[a], classes[p]] for a, p in zip(run.y_true, run.y_pred, strict=True))
    return buffer.getvalue()
