"""Heatmap sheets for people: which photos go on which sheet, and drawing them.

One selection for every report that draws the gate's maps (train_gate's
held-out photos, the CV's gate report, the hold-out report), so a sheet of
the same name shows the same kind of photo wherever it appears.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textile_defects.data.images import prepare_image
from textile_defects.data.manifest import resolve
from textile_defects.gate.heatmap import Frame, write_sheet

SHEET_TILES = 16
"""At most this many frames per heatmap sheet (4 x 4 at 320 px)."""

TOP_GOOD = 8
"""How many of the highest-scoring good photos the good sheet shows (the gate's nearest false alarms)."""

SHEETS = {
    "heatmaps_defects.png": "the first photos of each defect class",
    "heatmaps_missed.png": "defects the gate passes",
    "heatmaps_off_mask.png": "found, but the peak lies off the mask",
    "heatmaps_top_good.png": "the highest-scoring good photos",
}
"""The heatmap sheets a report draws (one is left out when it would be empty), and what each shows."""


def heatmap_sheets(
    order: Sequence[str],
    labels: Sequence[str],
    scores: Sequence[float],
    verdict: Sequence[bool],
    good_class: str,
    localisation: Mapping[str, Any] | None = None,
) -> dict[str, list[str]]:
    """``{sheet name: originals}`` (see :data:`SHEETS`), at most :data:`SHEET_TILES` each, empty ones left out.

    ``order``, ``labels``, ``scores`` and ``verdict`` (defective by the gate's
    threshold) run in parallel; ``localisation`` is
    :func:`~textile_defects.gate.localisation.localisation_figures`' block, when masks exist.
    """
    label = dict(zip(order, labels, strict=True))
    score = dict(zip(order, (float(s) for s in scores), strict=True))
    flagged = dict(zip(order, (bool(v) for v in verdict), strict=True))
    defects = [o for o in order if label[o] != good_class]
    by_class: dict[str, list[str]] = {}
    for original in defects:
        by_class.setdefault(label[original], []).append(original)
    off_mask = [o for o, inside in (localisation or {}).get("per_original", {}).items() if not inside and flagged[o]]
    sheets = {
        "heatmaps_defects.png": _even_share(by_class, SHEET_TILES),
        "heatmaps_missed.png": sorted((o for o in defects if not flagged[o]), key=lambda o: score[o]),
        "heatmaps_off_mask.png": off_mask,
        "heatmaps_top_good.png": sorted((o for o in order if label[o] == good_class), key=lambda o: -score[o])[:TOP_GOOD],
    }
    return {name: originals[:SHEET_TILES] for name, originals in sheets.items() if originals}


def _even_share(by_class: dict[str, list[str]], tiles: int) -> list[str]:
    """Up to ``tiles`` members, each class's first ones, dealt one per class in turn; grouped by class.

    A class with fewer photos than its share shows them all and leaves its
    tiles to the others, so a small set shows every photo.
    """
    taken = dict.fromkeys(by_class, 0)
    while sum(taken.values()) < tiles and any(taken[c] < len(members) for c, members in by_class.items()):
        for name, members in by_class.items():
            if taken[name] < len(members) and sum(taken.values()) < tiles:
                taken[name] += 1
    return [o for name, members in by_class.items() for o in members[: taken[name]]]


def caption(original: str, score: float, threshold: float, defective: bool, detail: str = "") -> str:
    """A tile's caption: the photo (and ``detail``), its score against the threshold, the gate's verdict."""
    title = f"{original} ({detail})" if detail else original
    return f"{title}\nscore {score:.2f} / thr {threshold:.2f}: {'defective' if defective else 'good'}"


def sheet_frames(
    originals: Sequence[str],
    manifest: Path,
    rows: Mapping[str, Mapping[str, str]],
    maps: Mapping[str, np.ndarray],
    masks: Mapping[str, np.ndarray],
    captions: Mapping[str, str],
) -> list[Frame]:
    """The tiles of a heatmap sheet for ``originals``: each photo at its native size, its map, caption and mask."""
    frames = []
    for original in originals:
        row = rows[original]
        pixels = prepare_image(resolve(manifest, row), (int(row["width"]), int(row["height"])))
        frames.append((pixels, maps[original], captions[original], masks.get(original)))
    return frames


def write_heatmaps(
    folder: Path,
    sheets: Mapping[str, Sequence[str]],
    manifest: Path,
    rows: Mapping[str, Mapping[str, str]],
    maps: Mapping[str, np.ndarray],
    masks: Mapping[str, np.ndarray],
    captions: Mapping[str, str],
    threshold: float,
) -> None:
    """Draw each sheet into ``folder``: every frame with its patch map over it, its mask outlined, its caption.

    ``threshold`` sets one colour scale for every tile (where fold gates' thresholds differ, pass their median).
    """
    for name, originals in sheets.items():
        write_sheet(Path(folder) / name, sheet_frames(originals, manifest, rows, maps, masks, captions), threshold)
