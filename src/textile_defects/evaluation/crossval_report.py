"""Pooled out-of-fold figures of the cross-validation, and comparisons that respect their noise.

The CV scores every original photo exactly once per (model, training seed),
by a model that never saw it. This module reads those scores
(:func:`load_scores`), checks them against the fold plan, and turns them into
the figures of ``metrics/crossval.json`` (:func:`crossval_report`): per-class
and headline figures with intervals that count photos, and the spread over
training seeds. :func:`comparison_table` renders models side by side and calls
a difference "within noise" when the intervals overlap.

Pure functions apart from :func:`load_scores`, which only reads.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textile_defects.crossval.folds import raise_problems, read_folds
from textile_defects.crossval.scores import columns, parse_score_file_name, score_file_name
from textile_defects.errors import DataError
from textile_defects.evaluation.intervals import cluster_bootstrap, proportion, within_noise
from textile_defects.evaluation.report import binary_masks, round_floats

log = logging.getLogger(__name__)

NOT_CLASSIFIERS = ("gate",)
"""Score files of another format in the same folder (the anomaly gate reports itself)."""
HEADLINE = ("f1_macro", "f1_weighted", "defect_recall", "specificity")
"""The figures whose seed spread is reported and compared."""
SPREAD_FIGURES = ("accuracy", *HEADLINE, "defect_precision")
TABLE_FIGURES = (("f1_macro", "F1 macro"), ("f1_weighted", "F1 weighted"), ("defect_recall", "defect recall"), ("specificity", "specificity"))
"""The columns of the comparison tables, in order: the headline figures with their labels."""
MISSING = "—"


@dataclasses.dataclass(frozen=True)
class OutOfFold:
    """One run's out-of-fold predictions: every original once, rows sorted by ``original_id``.

    ``seed`` is the training seed (None for a model without one, such as the
    probe); ``y_true``, ``y_pred`` and ``folds`` are (N,) integers,
    ``probabilities`` (N, C) in the classes' order.
    """

    model: str
    seed: int | None
    original_ids: tuple[str, ...]
    folds: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    probabilities: np.ndarray

    @property
    def run(self) -> str:
        """The run's key in the report: ``seed<seed>``, or ``no_seed``."""
        return "no_seed" if self.seed is None else f"seed{self.seed}"


# --- reading and checking the score files ---------------------------------------------


def read_plan(plan_csv: Path, classes: Sequence[str]) -> dict[str, tuple[str, int]]:
    """The fold plan as ``{original_id: (label, fold)}`` (read by ``crossval.folds.read_folds``)."""
    assignment, labels = read_folds(plan_csv, classes)
    return {original: (labels[original], fold) for original, fold in assignment.items()}


def _score_files(scores_dir: Path, models: Sequence[str] | None, seeds: Sequence[int] | None) -> dict[tuple[str, int | None], dict[int, Path]]:
    """``{(model, seed): {fold: path}}`` of the classifier score files to read."""
    found: dict[tuple[str, int | None], dict[int, Path]] = {}
    for path in sorted(scores_dir.glob("*.csv")):
        parsed = parse_score_file_name(path.name)
        if parsed is None:
            log.debug("%s: not a score file name; ignored", path)
            continue
        model, seed, fold = parsed
        if model in NOT_CLASSIFIERS or (models is not None and model not in models):
            continue
        if seeds is not None and seed is not None and seed not in seeds:
            log.warning("%s: seed %d is not one of the seeds %s; ignored (a file left by an older run?)", path, seed, list(seeds))
            continue
        found.setdefault((model, seed), {})[fold] = path
    return found


def _check_runs(scores_dir: Path, files: Mapping[tuple[str, int | None], Mapping[int, Path]], models: Sequence[str] | None, seeds: Sequence[int] | None) -> None:
    """Every model asked for is there, each with all its seeds or none, and not both."""
    problems = []
    names = sorted({model for model, _ in files})
    for model in models if models is not None else names:
        model_seeds = sorted((seed for name, seed in files if name == model), key=lambda s: -1 if s is None else s)
        if not model_seeds:
            problems.append(f"no score file for model {model!r} (expected {model}_seed<seed>_fold<k>.csv or {model}_fold<k>.csv)")
        elif None in model_seeds and len(model_seeds) > 1:
            problems.append(f"model {model!r} has files both with and without a seed: {model_seeds}")
        elif seeds is not None and None not in model_seeds and sorted(model_seeds) != sorted(seeds):
            absent = sorted(set(seeds) - set(model_seeds))
            problems.append(f"model {model!r} has no score files for seed(s) {absent}")
    if not files and models is None:
        problems.append("no score files (<model>[_seed<seed>]_fold<k>.csv)")
    raise_problems(scores_dir, problems, "run the CV stages (dvc repro crossval/dvc.yaml)")


def _read_score_file(
    path: Path, fold: int, plan: Mapping[str, tuple[str, int]], classes: Sequence[str], problems: list[str]
) -> list[tuple[str, int, int, list[float]]]:
    """Rows ``(original_id, true index, predicted index, probabilities)``; problems are appended, not raised."""
    index = {name: i for i, name in enumerate(classes)}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        expected = columns(classes)
        missing = [column for column in expected if column not in (reader.fieldnames or [])]
        if missing:
            problems.append(f"{path}: missing column(s) {missing}; expected {','.join(expected)}")
            return []
        rows = list(reader)
    parsed = []
    for line, row in enumerate(rows, start=2):
        where = f"{path}:{line}: original {row['original_id']!r}"
        planned = plan.get(row["original_id"])
        if planned is None:
            problems.append(f"{where} is not in the fold plan")
            continue
        if row["fold"] != str(fold) or planned[1] != fold:
            problems.append(
                f"{where} is scored in fold {row['fold']} of the fold-{fold} file, but the plan scores it in fold "
                f"{planned[1]}: the model scoring it may have trained on it (leakage)"
            )
            continue
        if row["label"] != planned[0] or row["predicted"] not in index:
            problems.append(f"{where}: label {row['label']!r} / predicted {row['predicted']!r}; the plan's label is {planned[0]!r} and both must be in {list(classes)}")
            continue
        try:
            probabilities = [float(row[f"p_{name}"]) for name in classes]
        except ValueError:
            problems.append(f"{where}: a p_<class> value is not a number")
            continue
        predicted = index[row["predicted"]]
        if not all(0.0 <= p <= 1.0 for p in probabilities) or probabilities[predicted] < max(probabilities) - 1e-6:
            problems.append(f"{where}: probabilities must be in [0, 1] and 'predicted' the most probable class ({row['predicted']!r} is not)")
            continue
        parsed.append((row["original_id"], index[row["label"]], predicted, probabilities))
    return parsed


def _pool_run(
    model: str, seed: int | None, fold_files: Mapping[int, Path], plan: Mapping[str, tuple[str, int]],
    classes: Sequence[str], problems: list[str],
) -> OutOfFold | None:
    """One (model, seed)'s fold files as one :class:`OutOfFold`; None when it has problems (appended)."""
    before = len(problems)
    plan_folds = sorted({fold for _, fold in plan.values()})
    name = f"{model}_seed{seed}" if seed is not None else model
    for fold in sorted(set(plan_folds) - set(fold_files)):
        problems.append(f"{name}: no score file for fold {fold} ({score_file_name(model, fold, seed)})")
    for fold in sorted(set(fold_files) - set(plan_folds)):
        problems.append(f"{fold_files[fold]}: fold {fold} is not in the fold plan (folds {plan_folds}); a file left by an older plan?")
    rows: dict[str, tuple[int, int, int, list[float]]] = {}
    seen_in: dict[str, Path] = {}
    for fold in sorted(set(fold_files) & set(plan_folds)):
        for original, label, predicted, probabilities in _read_score_file(fold_files[fold], fold, plan, classes, problems):
            if original in rows:
                problems.append(f"{name}: original {original!r} is scored twice ({seen_in[original]} and {fold_files[fold]})")
                continue
            rows[original] = (fold, label, predicted, probabilities)
            seen_in[original] = fold_files[fold]
    absent = sorted(set(plan) - set(rows))
    if absent and len(problems) == before:
        for original in absent:
            problems.append(f"{name}: original {original!r} (plan fold {plan[original][1]}) is not scored; expected in {score_file_name(model, plan[original][1], seed)}")
    if len(problems) > before:
        return None
    ordered = sorted(rows)
    return OutOfFold(
        model=model,
        seed=seed,
        original_ids=tuple(ordered),
        folds=np.array([rows[o][0] for o in ordered], dtype=np.int64),
        y_true=np.array([rows[o][1] for o in ordered], dtype=np.int64),
        y_pred=np.array([rows[o][2] for o in ordered], dtype=np.int64),
        probabilities=np.array([rows[o][3] for o in ordered], dtype=np.float64),
    )


def load_scores(
    scores_dir: Path,
    plan_csv: Path | Mapping[str, tuple[str, int]],
    classes: Sequence[str],
    *,
    models: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
) -> dict[str, list[OutOfFold]]:
    """Read and check the out-of-fold score CSVs: ``{model: [one OutOfFold per seed, by seed]}``.

    Files are ``<model>_seed<seed>_fold<k>.csv`` or ``<model>_fold<k>.csv``
    with columns ``original_id,label,fold,predicted,p_<class>...`` (the CV
    contract); the gate's files are not read. ``models`` restricts (and
    requires) the models; ``seeds`` the training seeds of seeded models:
    files of other seeds, left by an older run, are ignored with a warning.

    Checked, all problems listed in one :class:`DataError`: every (model,
    seed) scores every original of the plan exactly once, in the fold the
    plan scores it in (anything else means its model may have trained on
    it), with the plan's label, a known predicted class that is the most
    probable one, and probabilities in [0, 1]. The plan is ``folds.csv`` or, already read,
    ``{original_id: (label, fold)}`` (the hold-out: every photo in fold 0).
    """
    plan = read_plan(plan_csv, classes) if isinstance(plan_csv, Path) else dict(plan_csv)
    files = _score_files(scores_dir, models, seeds)
    _check_runs(scores_dir, files, models, seeds)
    problems: list[str] = []
    pooled: dict[str, list[OutOfFold]] = {}
    for (model, seed), fold_files in sorted(files.items(), key=lambda item: (item[0][0], -1 if item[0][1] is None else item[0][1])):
        run = _pool_run(model, seed, fold_files, plan, classes, problems)
        if run is not None:
            pooled.setdefault(model, []).append(run)
    raise_problems(scores_dir, problems, "rerun the CV stages that wrote these files (dvc repro crossval/dvc.yaml)")
    return pooled


# --- figures ---------------------------------------------------------------------------


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) counts, rows actual, columns predicted."""
    flat = np.bincount(np.asarray(y_true) * num_classes + np.asarray(y_pred), minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def f1_from_counts(counts: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Per-class F1, F1 macro over EVERY class and F1 weighted, from (C, C) counts.

    Equal to scikit-learn's ``f1_score(labels=range(C), zero_division=0)``
    (tested), without its input checks: the bootstrap calls it thousands of times.
    """
    correct = np.diag(counts).astype(float)
    support = counts.sum(axis=1)
    predicted = counts.sum(axis=0)
    denominator = support + predicted
    per_class = np.divide(2.0 * correct, denominator, out=np.zeros_like(correct), where=denominator > 0)
    weighted = float(per_class @ support / support.sum()) if support.sum() else 0.0
    return per_class, float(per_class.mean()), weighted


def _counted(successes: int, trials: int, originals: int, confidence: float) -> dict[str, Any]:
    """A proportion with its interval over originals, and its counts ``k`` of ``n``."""
    return {**proportion(successes, trials, confidence, originals=originals), "k": successes, "n": trials}


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
    if good_class not in classes:
        raise ValueError(f"good class {good_class!r} is not one of the classes {list(classes)}")
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    ids = np.asarray(original_ids, dtype=str)
    if not (y_true.shape == y_pred.shape == ids.shape) or y_true.ndim != 1 or y_true.size == 0:
        raise ValueError(f"need non-empty (N,) y_true, y_pred, original_ids; got {y_true.shape}, {y_pred.shape}, {ids.shape}")
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
            "recall": _counted(int(counts[i, i]), int(in_class.sum()), len(set(ids[in_class])), confidence),
            "f1": float(per_class_f1[i]),
            "support": int(in_class.sum()),
        }
    binary = {
        figure: _counted(int(hit.sum()), int(trial.sum()), len(set(ids[trial])), confidence)
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
        pooled = proportion(int(hit.sum()), int(trial.sum()), confidence, originals=len(set(all_ids[trial])))
        return {**pooled, "k": float(hit.sum() / len(runs)), "n": float(trial.sum() / len(runs))}

    block: dict[str, Any] = {"originals": len(ids), "runs": len(runs), "seeds": [run.seed for run in runs if run.seed is not None]}
    block["accuracy"] = spread["accuracy"]
    for name in ("f1_macro", "f1_weighted"):
        low_high = intervals[name] or (None, None)
        block[name] = {**spread[name], "ci_low": low_high[0], "ci_high": low_high[1]}
    for name, (hit, trial) in binary_masks(all_true, all_pred, classes.index(good_class)).items():
        pooled = over_seeds(hit, trial)
        block[name] = {**spread[name], **{key: pooled[key] for key in ("ci_low", "ci_high", "k", "n")}}
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


# --- comparisons ------------------------------------------------------------------------


def interval(block: Mapping[str, Any], figure: str) -> tuple[float, float] | None:
    """``(ci_low, ci_high)`` of a model block's headline figure; None when it has none."""
    entry = block.get(figure) or {}
    low, high = entry.get("ci_low"), entry.get("ci_high")
    return None if low is None or high is None else (float(low), float(high))


def compare(first: Mapping[str, Any], second: Mapping[str, Any], figure: str) -> str:
    """``first`` against ``second`` on one figure: ``within noise``, ``higher`` or ``lower`` (or ``n/a``).

    Both are model blocks of ``metrics/crossval.json`` (two models, or one
    model in two runs such as two encoders). Overlapping intervals are
    ``within noise`` (:func:`~textile_defects.evaluation.intervals.within_noise`);
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


def _count(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def format_figure(entry: Mapping[str, Any] | None, digits: int = 3) -> str:
    """``0.755 [0.696, 0.818]``, with ``k/n`` for a count-based figure; a dash when missing."""
    if not entry or entry.get("mean") is None:
        return MISSING
    text = f"{entry['mean']:.{digits}f}"
    if entry.get("ci_low") is not None and entry.get("ci_high") is not None:
        text += f" [{entry['ci_low']:.{digits}f}, {entry['ci_high']:.{digits}f}]"
    if entry.get("k") is not None and entry.get("n") is not None:
        text += f" ({_count(entry['k'])}/{_count(entry['n'])})"
    return text


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
    ]
    return "\n".join(lines)
