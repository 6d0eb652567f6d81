"""Out-of-fold score CSVs: one per (model, seed, fold), the contract between the CV stages.

``data/crossval/scores/<variant>_seed<seed>_fold<k>.csv`` for the fine-tuned
models and ``probe_fold<k>.csv`` for the linear probe (no seed: it is
deterministic). Columns: ``original_id,label,fold,predicted,p_<class>`` for
every class in params ``classes`` order, probabilities with 6 decimals, one
row per original the fold scores, sorted by ``original_id``.

The writer (:func:`write_scores`) and the reader (:func:`load_scores`) live
here together. The reader checks the files against the fold plan, all
problems in one :class:`~textile_defects.errors.DataError`, and pools each
(model, seed) into one :class:`OutOfFold`: every original once, scored by a
model that never saw it. It only reads.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from textile_defects.crossval.folds import raise_problems, read_folds
from textile_defects.utils.atomic import atomic_write_text

log = logging.getLogger(__name__)

PROBE = "probe"
"""Model name of the frozen-feature reference."""
NAMING = "naming"
"""Model name of the detector whose defect is named by the type classifier (textile_defects.naming.scores)."""
MIXED = "mixed"
"""Model name of the detector whose defect is named by the type classifier and itself together (textile_defects.naming.mix)."""
NOT_CLASSIFIERS = ("gate",)
"""Score files of another format in the same folder (the anomaly gate reports itself)."""

_NAME = re.compile(r"^(?P<model>[a-z][a-z0-9_]*?)(?:_seed(?P<seed>\d+))?_fold(?P<fold>\d+)\.csv$")


def score_file_name(model: str, fold: int, seed: int | None = None) -> str:
    """``<model>_seed<seed>_fold<k>.csv``, or ``<model>_fold<k>.csv`` for a model without seeds."""
    return f"{model}_fold{fold}.csv" if seed is None else f"{model}_seed{seed}_fold{fold}.csv"


def parse_score_file_name(name: str) -> tuple[str, int | None, int] | None:
    """``(model, seed or None, fold)`` from a score file name; None for any other file."""
    match = _NAME.match(name)
    if match is None:
        return None
    seed = match.group("seed")
    return match.group("model"), None if seed is None else int(seed), int(match.group("fold"))


def columns(classes: Sequence[str]) -> list[str]:
    """The header of a classifier score file."""
    return ["original_id", "label", "fold", "predicted", *(f"p_{name}" for name in classes)]


def scores_csv(
    fold: int, original_ids: Sequence[str], labels: Sequence[str], probabilities: np.ndarray, classes: Sequence[str]
) -> str:
    """The text of one score file (rows sorted by ``original_id``)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (len(original_ids), len(classes)) or len(labels) != len(original_ids):
        raise ValueError(
            f"{len(original_ids)} ids, {len(labels)} labels and probabilities of shape {probabilities.shape} "
            f"for {len(classes)} classes do not match"
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns(classes))
    for index in sorted(range(len(original_ids)), key=lambda i: original_ids[i]):
        row = probabilities[index]
        writer.writerow(
            [original_ids[index], labels[index], fold, classes[int(row.argmax())], *(f"{value:.6f}" for value in row)]
        )
    return buffer.getvalue()


def write_scores(
    path: Path,
    fold: int,
    original_ids: Sequence[str],
    labels: Sequence[str],
    probabilities: np.ndarray,
    classes: Sequence[str],
) -> Path:
    """Write one score file atomically."""
    return atomic_write_text(path, scores_csv(fold, original_ids, labels, probabilities, classes))


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
