"""Composites of a training set: its defect originals transplanted onto its good originals, as an image folder.

Used by the pipeline's ``transplant`` stage (the training split) and the
CV's ``cv_transplant`` stage (each fold's training originals): only the photos
of the manifest given enter, so no composite carries a region or background of
a photo that is scored (tests/naming/test_composites.py checks it per fold).
Regions come from the gate, which is built from good photos alone: its map of
a training defect photo is fair, and no mask is read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from textile_defects.data.images import prepare_image
from textile_defects.data.manifest import COLUMNS, read_manifest, resolve, sha256_file, write_manifest
from textile_defects.errors import DataError
from textile_defects.gate.model import Gate
from textile_defects.gate.regions import crop, gate_region, window_box
from textile_defects.naming.profile import knit_period
from textile_defects.naming.transplant import TransplantSettings, composite_sheet, plan_composites, transplant
from textile_defects.utils.logs import progress

TRANSPLANT_OPERATION = "transplant"
"""The key of a composite's record in the manifest's ``operations`` JSON."""


@dataclass(frozen=True)
class CompositeSet:
    """What :func:`write_composites` wrote: the manifest rows and a sample of tiles for the picture grids."""

    rows: list[dict[str, str]]
    tiles: list[tuple[np.ndarray, np.ndarray, str]]
    closeups: list[tuple[np.ndarray, np.ndarray, str]]


def write_composites(
    manifest: Path, gate: Gate, settings: TransplantSettings, *, good_class: str, level: float, nearest: int,
    out: Path, image_size: tuple[int, int] | None = None, tiles_per_class: int = 6,
) -> CompositeSet:  # fmt: skip
    """Write composites of ``manifest``'s originals into ``out`` (images/<class>/..., manifest.csv).

    Composites are made at ``image_size`` (``naming.image_size``, the frame the
    type classifier reads; default the gate's); each source's region is the
    gate's map of it (read at the gate's own size) laid over that frame.

    Each row's ``original_id`` is the source defect (the composite descends from
    it); ``operations`` records the background and the paste (shift, box,
    segment fraction), so which defect went onto which background is on file.
    """
    rows = {row["original_id"]: row for row in read_manifest(manifest)}
    defects: dict[str, list[str]] = {}
    for original, row in rows.items():
        if row["label"] != good_class:
            defects.setdefault(row["label"], []).append(original)
    defects = {label: sorted(originals) for label, originals in sorted(defects.items())}
    backgrounds = sorted(o for o, r in rows.items() if r["label"] == good_class)
    size = tuple(image_size or gate.image_size)

    def gate_map(original: str, frame: np.ndarray) -> np.ndarray:
        own = frame if size == tuple(gate.image_size) else prepare_image(resolve(manifest, rows[original]), gate.image_size)
        return gate.patch_scores(own)

    # Every photo is read once at the composites' size: sources for their regions, backgrounds for each paste,
    # both for their stitch size (a source again at the gate's size when that differs).
    sources = {o: prepare_image(resolve(manifest, rows[o]), size) for o in sorted({s for v in defects.values() for s in v})}
    grounds = {o: prepare_image(resolve(manifest, rows[o]), size) for o in backgrounds}
    regions = {
        o: gate_region(gate_map(o, frame), size, gate.border_patches, level)
        for o, frame in progress(list(sources.items()), desc="defect regions", unit="img")
    }
    periods = {o: knit_period(pixels) for o, pixels in {**sources, **grounds}.items()}
    plan = plan_composites(defects, backgrounds, settings, periods, nearest=nearest)
    out_rows: list[dict[str, str]] = []
    tiles: list[tuple[np.ndarray, np.ndarray, str]] = []
    closeups: list[tuple[np.ndarray, np.ndarray, str]] = []
    shown: dict[str, int] = {}
    for index, label, source, background in progress(plan, desc="transplant", unit="img"):
        composite = transplant(sources[source], regions[source], grounds[background], label=label, settings=settings, index=index)
        name = f"{label}/transplant_{index:04d}.png"
        path = out / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), np.ascontiguousarray(composite.pixels[..., ::-1])):
            raise OSError(f"could not write {path}")
        row = dict.fromkeys(COLUMNS, "")
        row.update(
            path=f"images/{name}", label=label, original_id=source, sha256=sha256_file(path), width=str(size[0]), height=str(size[1]),
            source_file=rows[source]["source_file"], split=rows[source].get("split", "train"), copy_index=str(index),
            operations=json.dumps({TRANSPLANT_OPERATION: {"background": background, **composite.record}}, sort_keys=True),
        )  # fmt: skip
        out_rows.append(row)
        if shown.get(label, 0) < tiles_per_class:
            shown[label] = shown.get(label, 0) + 1
            tiles.append((composite.pixels, composite.mask, f"{label} {source[-12:]} on {background[-12:]}"))
            x0, y0, x1, y1 = composite.record["box"]
            box = window_box(((x0 + x1) / 2, (y0 + y1) / 2), size, 320)
            closeups.append((crop(composite.pixels, box), crop(composite.mask, box), f"{label} #{index} native px"))
    write_manifest(out / "manifest.csv", out_rows)
    return CompositeSet(rows=out_rows, tiles=tiles, closeups=closeups)


def composite_grid(composites: CompositeSet, columns: int, thumb_width: int) -> np.ndarray:
    """One picture (RGB uint8): whole composites above, native-pixel close-ups of their seams below."""
    whole = composite_sheet(composites.tiles, columns, thumb_width)
    close = composite_sheet(composites.closeups, columns, thumb_width)
    if close.shape[1] != whole.shape[1]:
        close = cv2.resize(close, (whole.shape[1], int(close.shape[0] * whole.shape[1] / close.shape[1])), interpolation=cv2.INTER_AREA)
    return np.concatenate([whole, np.full((8, whole.shape[1], 3), 255, np.uint8), close])


def transplant_records(rows: Sequence[Mapping[str, str]]) -> list[tuple[str, str]]:
    """(source defect, background) of each composite row, from its manifest ``operations``."""
    pairs = []
    for row in rows:
        record = json.loads(row["operations"])[TRANSPLANT_OPERATION]
        pairs.append((row["original_id"], str(record["background"])))
    return pairs


def check_composites_independent(composites: Path, scored: Sequence[Mapping[str, str]]) -> None:
    """Refuse composites that carry a scored photo's region or background (they would leak it into training)."""
    scored_ids = {row["original_id"] for row in scored}
    leaked = sorted({o for pair in transplant_records(read_manifest(composites)) for o in pair if o in scored_ids})
    if leaked:
        raise DataError(
            f"{composites}: composites use scored photo(s) {leaked[:5]} as defect or background; a fold's composites "
            "must come from its training photos only. Re-run its transplant stage from the fold's train manifest."
        )
