"""The gate's out-of-fold score files, and the detection figures of any defective-or-good score.

``gate_fold<k>.csv`` (the CV contract) holds the gate's score and verdict for
each original its fold scores: score = anomaly score, verdict = above the
gate's own threshold. Every original is scored once, by a gate that never saw
it, so the figures count originals and carry exact intervals.
:func:`score_figures` scores the gate, and any other detector given as a score
and a verdict (the classifiers and the decision rules,
:mod:`textile_defects.decision.detectors`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textile_defects.errors import DataError
from textile_defects.gate import metrics

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


def maps_npz(rows: Sequence[Mapping[str, str]], maps: Sequence[np.ndarray]) -> bytes:
    """The ``maps_fold<k>.npz`` bytes beside ``gate_fold<k>.csv``: each scored original's patch-score map under its id."""
    buffer = io.BytesIO()
    np.savez(buffer, **{row["original_id"]: patch_map for row, patch_map in zip(rows, maps, strict=True)})
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
