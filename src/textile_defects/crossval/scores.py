"""Out-of-fold score CSVs: one per (model, seed, fold), the contract between the CV stages.

``data/crossval/scores/<variant>_seed<seed>_fold<k>.csv`` for the fine-tuned
models and ``probe_fold<k>.csv`` for the linear probe (no seed: it is
deterministic). Columns: ``original_id,label,fold,predicted,p_<class>`` for
every class in params ``classes`` order, probabilities with 6 decimals, one
row per original the fold scores, sorted by ``original_id``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from textile_defects.errors import DataError
from textile_defects.utils.atomic import atomic_write_text

PROBE = "probe"
"""Model name of the frozen-feature reference."""

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


@dataclasses.dataclass(frozen=True)
class FoldScores:
    """One model's predictions on the originals one fold scores.

    ``y_true`` are (N,) indices into ``classes``; ``probabilities`` (N, C)
    rows sum to 1 (up to the 6 written decimals).
    """

    model: str
    seed: int | None
    fold: int
    classes: tuple[str, ...]
    original_ids: tuple[str, ...]
    y_true: np.ndarray
    probabilities: np.ndarray

    @property
    def y_pred(self) -> np.ndarray:
        """(N,) predicted class indices: the most probable class."""
        return self.probabilities.argmax(axis=1)


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


def read_scores(path: Path, classes: Sequence[str]) -> FoldScores:
    """Read and check one score file named as :func:`score_file_name` names it."""
    parsed = parse_score_file_name(path.name)
    if parsed is None:
        raise DataError(f"{path}: not a score file name (<model>[_seed<seed>]_fold<k>.csv).")
    model, seed, fold = parsed
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if list(reader.fieldnames or ()) != columns(classes):
            raise DataError(
                f"{path}: columns {reader.fieldnames} differ from {columns(classes)} (params classes changed? "
                "re-run `dvc repro crossval/dvc.yaml`)."
            )
        rows = list(reader)
    index = {name: i for i, name in enumerate(classes)}
    problems = [f"label {row['label']!r} of {row['original_id']!r} is not a class" for row in rows if row["label"] not in index]
    problems += [f"row of {row['original_id']!r} says fold {row['fold']}" for row in rows if row["fold"] != str(fold)]
    if problems:
        raise DataError(f"{path}: " + "; ".join(problems[:5]))
    probabilities = np.array([[float(row[f"p_{name}"]) for name in classes] for row in rows], dtype=np.float64)
    probabilities = probabilities.reshape(len(rows), len(classes))
    if len(rows) and not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4):
        raise DataError(f"{path}: class probabilities do not sum to 1 in every row.")
    return FoldScores(
        model=model,
        seed=seed,
        fold=fold,
        classes=tuple(classes),
        original_ids=tuple(row["original_id"] for row in rows),
        y_true=np.array([index[row["label"]] for row in rows], dtype=np.int64),
        probabilities=probabilities,
    )


def collect_scores(
    scores_dir: Path, classes: Sequence[str], models: Sequence[str]
) -> dict[tuple[str, int | None], list[FoldScores]]:
    """Every score file of ``models`` under ``scores_dir``: ``{(model, seed): [fold scores, by fold]}``.

    Files of other models (e.g. the anomaly gate's) are left alone.
    """
    found: dict[tuple[str, int | None], list[FoldScores]] = {}
    for path in sorted(Path(scores_dir).glob("*.csv")):
        parsed = parse_score_file_name(path.name)
        if parsed is None or parsed[0] not in models:
            continue
        scores = read_scores(path, classes)
        found.setdefault((scores.model, scores.seed), []).append(scores)
    rank = {model: i for i, model in enumerate(models)}
    ordered = sorted(found, key=lambda key: (rank[key[0]], -1 if key[1] is None else key[1]))
    return {key: sorted(found[key], key=lambda scores: scores.fold) for key in ordered}


def check_coverage(
    runs: Mapping[tuple[str, int | None], Sequence[FoldScores]], assignment: Mapping[str, int], k: int
) -> None:
    """Every run (model, seed) must score each original exactly once, in the fold the plan says."""
    problems: list[str] = []
    for (model, seed), folds in runs.items():
        name = model if seed is None else f"{model} seed {seed}"
        present = sorted(scores.fold for scores in folds)
        if present != list(range(k)):
            problems.append(f"{name}: score files for folds {present}, expected 0..{k - 1}")
        seen = [(original, scores.fold) for scores in folds for original in scores.original_ids]
        ids = [original for original, _ in seen]
        if sorted(ids) != sorted(assignment) or len(set(ids)) != len(ids):
            missing = sorted(set(assignment) - set(ids))
            problems.append(f"{name}: does not score every original exactly once (missing {missing[:10]})")
        misplaced = sorted(original for original, fold in seen if assignment.get(original) != fold)
        if misplaced:
            problems.append(f"{name}: scores {misplaced[:10]} outside their planned fold")
    if not runs:
        problems.append("no score files found")
    if problems:
        raise DataError(
            "out-of-fold scores do not match the fold plan (re-run `dvc repro crossval/dvc.yaml`):\n  - "
            + "\n  - ".join(problems)
        )
