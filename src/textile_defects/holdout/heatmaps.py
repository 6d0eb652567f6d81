"""The hold-out's heatmap sheets for people: what the gate sees on each kind of photo, what it misses, its false alarms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textile_defects.decision.detectors import GateScores
from textile_defects.gate.heatmap import write_sheet
from textile_defects.gate.localisation import sheet_frames

SHEET_TILES = 16
"""At most this many frames per heatmap sheet (4 x 4 at 320 px)."""


SHEETS = {
    "heatmaps_defects.png": "the first photos of each defect class",
    "heatmaps_missed.png": "defects the gate passes",
    "heatmaps_off_mask.png": "found, but the peak lies off the mask",
    "heatmaps_top_good.png": "the highest-scoring good photos",
}
"""The heatmap sheets the report draws (one is left out when it would be empty), and what each shows."""


def heatmap_sheets(
    gate: GateScores, rows: Mapping[str, Mapping[str, str]], localisation: Mapping[str, Any] | None, good_class: str
) -> dict[str, list[str]]:
    """``{sheet name: originals}`` for people (see :data:`SHEETS`), at most :data:`SHEET_TILES` each, empty ones left out."""
    position = {original: i for i, original in enumerate(gate.order)}
    defects = [o for o in gate.order if gate.defective[position[o]]]
    by_class: dict[str, list[str]] = {}
    for original in defects:
        by_class.setdefault(rows[original]["label"], []).append(original)
    per_class = SHEET_TILES // max(1, len(by_class))
    off_mask = [o for o, inside in (localisation or {}).get("per_original", {}).items() if not inside and gate.verdict[position[o]]]
    sheets = {
        "heatmaps_defects.png": [o for members in by_class.values() for o in members[:per_class]],
        "heatmaps_missed.png": sorted((o for o in defects if not gate.verdict[position[o]]), key=lambda o: gate.scores[position[o]]),
        "heatmaps_off_mask.png": off_mask,
        "heatmaps_top_good.png": sorted(
            (o for o in gate.order if rows[o]["label"] == good_class), key=lambda o: -gate.scores[position[o]]
        )[:8],
    }
    return {name: originals[:SHEET_TILES] for name, originals in sheets.items() if originals}


def write_heatmaps(
    folder: Path,
    sheets: Mapping[str, Sequence[str]],
    gate: GateScores,
    manifest: Path,
    rows: Mapping[str, Mapping[str, str]],
    maps: Mapping[str, np.ndarray],
    masks: Mapping[str, np.ndarray],
) -> None:
    """Draw each sheet: every frame with its patch map over it, its mask outlined, its score in the caption."""
    captions = {
        o: f"{o}\nscore {gate.scores[i]:.2f} / thr {gate.thresholds[i]:.2f}: {'defective' if gate.verdict[i] else 'good'}"
        for i, o in enumerate(gate.order)
    }
    threshold = float(np.median(gate.thresholds))
    for name, originals in sheets.items():
        write_sheet(folder / name, sheet_frames(originals, manifest, rows, maps, masks, captions), threshold)
