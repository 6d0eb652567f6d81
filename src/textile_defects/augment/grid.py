"""Per-class picture grids: each original beside some of its augmented copies, labelled.

One PNG per class; a row per original shown: the original first, then its
copies, each captioned with the operations it got. For a person to check
that augmentation looks like fabric photographed again, not a new defect.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from textile_defects.data.manifest import read_manifest, resolve
from textile_defects.utils.atomic import atomic_output_dir

log = logging.getLogger(__name__)

THUMB_WIDTH_PX = 320
_GAP_PX = 8
_FONT_SIZE_PX = 13
_CAPTION_LINES = 3
_BACKGROUND = (255, 255, 255)
_INK = (20, 20, 20)


def describe_operation(operation: Mapping[str, object]) -> str:
    """A short caption for one operation record, e.g. ``rotate +3.1°`` or ``zoom 1.02`` (sd: standard deviation)."""
    name, params = str(operation["op"]), operation["params"]
    assert isinstance(params, Mapping)
    if name == "rotate":
        return f"rotate {params['angle_deg']:+.1f}°"
    if name == "translate":
        return f"shift {params['dx']:+.3f},{params['dy']:+.3f}"
    if name == "hue":
        return f"hue {params['shift_deg']:+.1f}°"
    if name == "blur":
        return f"blur sd {params['sigma_px']:.2f}px"
    if name == "noise":
        return f"noise sd {params['sigma']:.1f}"
    if "factor" in params:
        return f"{name} {params['factor']:.2f}"
    return name


def _wrap(prefix: str, parts: Sequence[str], font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int) -> list[str]:
    """``prefix`` then ``parts`` joined by commas, greedily wrapped to ``width`` pixels."""
    lines: list[str] = []
    line = prefix
    for number, part in enumerate(parts):
        piece = part if number == len(parts) - 1 else f"{part},"
        candidate = f"{line} {piece}" if line else piece
        if line and font.getlength(candidate) > width:
            lines.append(line)
            line = piece
        else:
            line = candidate
    lines.append(line)
    return lines


def _thumbnail(path: Path, width: int) -> Image.Image:
    with Image.open(path) as image:
        image.thumbnail((width, width * 4))  # decodes JPEGs at reduced scale
        return image.convert("RGB")


def _pick_rows(
    source_rows: Sequence[Mapping[str, str]],
    augmented_rows: Sequence[Mapping[str, str]],
    label: str,
    originals: int,
    copies: int,
) -> list[tuple[Mapping[str, str], list[Mapping[str, str]]]]:
    """The first ``originals`` originals of ``label`` with their first ``copies`` altered copies."""
    chosen = sorted((row for row in source_rows if row["label"] == label), key=lambda row: row["original_id"])
    picked = []
    for original in chosen[:originals]:
        own = [
            row
            for row in augmented_rows
            if row["original_id"] == original["original_id"] and json.loads(row["operations"])
        ]
        own.sort(key=lambda row: int(row["copy_index"]))
        picked.append((original, own[:copies]))
    return picked


def _draw_grid(
    title: str,
    picked: Sequence[tuple[Mapping[str, str], list[Mapping[str, str]]]],
    source_manifest: Path,
    augmented_manifest: Path,
) -> Image.Image:
    font = ImageFont.load_default(size=_FONT_SIZE_PX)
    line_px = _FONT_SIZE_PX + 3
    cells: list[list[tuple[Image.Image, list[str]]]] = []
    for original, own in picked:
        row_cells = [(_thumbnail(resolve(source_manifest, original), THUMB_WIDTH_PX), [f"original {original['original_id']}"])]
        for copy in own:
            parts = [describe_operation(op) for op in json.loads(copy["operations"])]
            lines = _wrap(f"#{int(copy['copy_index'])}:", parts, font, THUMB_WIDTH_PX)[:_CAPTION_LINES]
            row_cells.append((_thumbnail(resolve(augmented_manifest, copy), THUMB_WIDTH_PX), lines))
        cells.append(row_cells)
    thumb_height = max(image.height for row in cells for image, _ in row)
    cell_height = thumb_height + _CAPTION_LINES * line_px + _GAP_PX
    header_px = line_px + 2 * _GAP_PX
    columns = max(len(row_cells) for row_cells in cells)
    canvas = Image.new(
        "RGB",
        (_GAP_PX + columns * (THUMB_WIDTH_PX + _GAP_PX), header_px + len(cells) * cell_height),
        _BACKGROUND,
    )
    draw = ImageDraw.Draw(canvas)
    draw.text((_GAP_PX, _GAP_PX), title, fill=_INK, font=font)
    for row_number, row_cells in enumerate(cells):
        top = header_px + row_number * cell_height
        for column, (image, lines) in enumerate(row_cells):
            left = _GAP_PX + column * (THUMB_WIDTH_PX + _GAP_PX)
            canvas.paste(image, (left, top))
            for line_number, line in enumerate(lines):
                draw.text((left, top + thumb_height + 2 + line_number * line_px), line, fill=_INK, font=font)
    return canvas


def write_grids(
    source_manifest: str | Path,
    augmented_manifest: str | Path,
    grids_dir: str | Path,
    *,
    originals: int,
    copies: int,
    name: str,
) -> list[Path]:
    """Write ``<grids_dir>/<class>.png`` for every class in the source manifest; returns the paths.

    Shows up to ``originals`` originals per class (in original_id order),
    each with its first ``copies`` altered copies. ``name`` (the set) goes
    in each grid's title.
    """
    source_manifest, augmented_manifest = Path(source_manifest), Path(augmented_manifest)
    source_rows = read_manifest(source_manifest)
    augmented_rows = read_manifest(augmented_manifest)
    written = []
    with atomic_output_dir(grids_dir) as staging:
        for label in sorted({row["label"] for row in source_rows}):
            picked = _pick_rows(source_rows, augmented_rows, label, originals, copies)
            title = f"{name} / {label}: original (left) and augmented copies"
            grid = _draw_grid(title, picked, source_manifest, augmented_manifest)
            # Fast zlib level: a grid is a picture to look at, not an archive (~3x faster to write).
            grid.save(staging / f"{label}.png", format="PNG", compress_level=1)
            written.append(Path(grids_dir) / f"{label}.png")
    log.info("%s: wrote %d picture grids to %s", name, len(written), grids_dir)
    return written
