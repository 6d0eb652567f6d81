"""The gate's cross-validated evaluation: the gate, each classifier alone, and gate-then-classifier.

Inputs are the CV contract's out-of-fold files: ``gate_fold<k>.csv`` (the
gate's score and verdict for each original its fold scores) and the
classifiers' ``<model>[_seed<s>]_fold<k>.csv``. Every original is scored once,
by models that never saw it, so the figures count originals and carry exact
intervals.

- gate: score = anomaly score, verdict = above the gate's own threshold;
- classifier alone: score = 1 - p_good, verdict = predicted class != good;
- gate-then-classifier: the gate's verdict decides defective or good (so its
  ROC is the gate's), the classifier names the defect type of what the gate
  rejects (the type accuracy among found defects is reported).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from textile_defects.errors import DataError
from textile_defects.gate import metrics
from textile_defects.stats.proportions import counted
from textile_defects.two_stage import two_stage_labels

if TYPE_CHECKING:  # only the type: cv_gate writes gate files without the CV report's modules
    from textile_defects.crossval.scores import OutOfFold

GATE_COLUMNS = ("original_id", "label", "fold", "anomaly_score", "threshold", "defective")
SPECIFICITIES = (0.90, 0.95)


def gate_scores_csv(fold: int, rows: Sequence[Mapping[str, str]], scores: np.ndarray, threshold: float) -> str:
    """The contract's ``gate_fold<k>.csv`` text, one row per scored original, sorted by original_id."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(GATE_COLUMNS)
    for row, score in sorted(zip(rows, scores, strict=True), key=lambda pair: pair[0]["original_id"]):
        verdict = "yes" if score > threshold else "no"
        writer.writerow([row["original_id"], row["label"], fold, f"{score:.6f}", f"{threshold:.6f}", verdict])
    return buffer.getvalue()


def read_gate_scores(paths: Sequence[Path], plan: Mapping[str, tuple[str, int]]) -> dict[str, dict[str, Any]]:
    """``{original_id: {label, fold, score, threshold, defective}}`` from every fold's gate CSV, checked against the plan."""
    rows: dict[str, dict[str, Any]] = {}
    problems = []
    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                original = row["original_id"]
                planned = plan.get(original)
                if planned is None or planned[1] != int(row["fold"]) or original in rows:
                    problems.append(f"{path}: {original!r} is not scored in fold {row['fold']} by the plan, or scored twice")
                    continue
                rows[original] = {
                    "label": row["label"],
                    "fold": int(row["fold"]),
                    "score": float(row["anomaly_score"]),
                    "threshold": float(row["threshold"]),
                    "defective": row["defective"] == "yes",
                }
    problems += [f"{original!r} (fold {fold}) has no gate score" for original, (_, fold) in plan.items() if original not in rows]
    if problems:
        raise DataError("gate scores do not match the fold plan (rerun dvc repro crossval/dvc.yaml):\n  " + "\n  ".join(problems[:20]))
    return rows


def score_figures(defective: np.ndarray, scores: np.ndarray, verdict: np.ndarray, labels: Sequence[str], good_class: str, confidence: float) -> dict[str, Any]:
    """AUROC, recall at each of :data:`SPECIFICITIES` (ROC points), the verdict's operating point and per-class recall."""
    return {
        "image_auroc": metrics.image_auroc(defective, scores),
        **{
            f"at_specificity_{spec:.2f}": metrics.recall_at_specificity(defective, scores, spec, confidence)
            for spec in SPECIFICITIES
        },
        "operating_point": metrics.operating_point(defective, verdict, confidence),
        "per_class_recall": metrics.per_class_recall(labels, verdict, good_class, confidence),
    }


def classifier_arrays(run: OutOfFold, order: Sequence[str], classes: Sequence[str], good_class: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(1 - p_good, predicted != good, probabilities (N, C)) of one out-of-fold run, rows in ``order``."""
    good = list(classes).index(good_class)
    position = {original: i for i, original in enumerate(run.original_ids)}
    index = np.array([position[original] for original in order])
    return 1.0 - run.probabilities[index, good], run.y_pred[index] != good, run.probabilities[index]


def gate_then_classifier(
    labels: Sequence[str], gate_verdict: np.ndarray, probabilities: np.ndarray, classes: Sequence[str], good_class: str, confidence: float
) -> dict[str, Any]:
    """Type accuracy of the classifier among defects the gate rejects, named by predict's own rule (two_stage_labels)."""
    named = np.array(classes)[two_stage_labels(probabilities, gate_verdict, classes, good_class)]
    labels = np.asarray(labels)
    found = np.asarray(gate_verdict, dtype=bool) & (labels != good_class)
    right = int((named[found] == labels[found]).sum())
    return {"defect_type_accuracy_among_found": counted(right, int(found.sum()), confidence)}
