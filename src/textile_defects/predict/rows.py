"""predict's CSV: one row per file, the same columns in folder and watch mode.

path, predicted, confidence, defective (yes/no), [anomaly_score, gate_threshold,
classifier_predicted with a gate], p_<class> per class, error. With a gate,
``predicted`` is the two-stage answer: the gate or the classifier decides
defective (rule ``gate_or_classifier``), or the gate alone (``gate``), and the
classifier names the defect (:func:`textile_defects.decision.rules.decide`).
A file that was not judged has its path and the error, other cells empty.
Probabilities keep 6 decimals.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import numpy as np

from textile_defects.decision.rules import decide
from textile_defects.predict.judges import FramePrediction, ModelsInfo

GATE_COLUMNS = ["anomaly_score", "gate_threshold", "classifier_predicted"]


NAMING_COLUMNS = ["named_by", "defect_box"]
"""With the type classifier (``--naming type``): who named the defect, and the gate region's box x0 y0 x1 y1."""


def header(info: ModelsInfo) -> list[str]:
    """The CSV's columns for these models (with the naming columns when the type classifier names the defect)."""
    gate = GATE_COLUMNS if info.threshold is not None else []
    extra = NAMING_COLUMNS if info.names_by_type else []
    return ["path", "predicted", "confidence", "defective", *gate, *extra, *(f"p_{name}" for name in info.classes), "error"]


def row(prediction: FramePrediction, name: str, info: ModelsInfo, rule: str) -> list[str]:
    """One file's cells (``name``: how the file is named in the output)."""
    with_gate = info.threshold is not None
    naming = info.names_by_type
    naming_cells = [""] * len(NAMING_COLUMNS) if naming else []
    if prediction.probabilities is None:
        return [name, "", "", "", *([""] * len(GATE_COLUMNS) if with_gate else []), *naming_cells, *([""] * len(info.classes)), prediction.error or ""]
    probabilities = prediction.probabilities
    label = int(probabilities.argmax())
    extra: list[str] = []
    if with_gate:
        assert info.threshold is not None and prediction.anomaly_score is not None
        defective = np.array([prediction.anomaly_score > info.threshold])
        _, labels = decide(rule, defective, probabilities[None], info.classes, info.good_class)
        extra = [f"{prediction.anomaly_score:.6f}", f"{info.threshold:.6f}", info.classes[label]]
        label = int(labels[0])
    cells = [f"{value:.6f}" for value in probabilities]
    defective_cell = "no" if info.classes[label] == info.good_class else "yes"
    if naming and defective_cell == "yes" and prediction.region_box is not None:
        naming_cells = ["type", " ".join(str(v) for v in prediction.region_box)]
    elif naming and defective_cell == "yes":
        naming_cells = ["classifier", ""]
    return [name, info.classes[label], cells[label], defective_cell, *extra, *naming_cells, *cells, ""]


def csv_lines(rows: Sequence[Sequence[str]]) -> str:
    """CSV text of ``rows`` (no header unless it is among them)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()
