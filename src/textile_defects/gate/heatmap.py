"""Heatmaps for people: a frame with its patch-score map overlaid, and grids of them.

The map is upsampled from the patch grid to the frame (bilinear) and coloured
on a fixed scale tied to the gate's threshold: half the threshold and below is
the coolest colour, the threshold sits in the middle of the scale (green), 1.5
times the threshold and above is the hottest. So colours compare across
frames, and anything warmer than green is what the gate calls defective. A
mask, when given, is outlined a few pixels outside itself, so a thin defect's
own colours stay visible.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw

from textile_defects.utils.atomic import atomic_write_bytes

Frame = tuple[np.ndarray, np.ndarray, str, "np.ndarray | None"]
"""One heatmap tile: the frame's pixels, its patch map, a caption, its mask or None."""

OVERLAY_ALPHA = 0.5
MASK_OUTLINE_RGB = (255, 255, 255)
OUTLINE_INNER_PX, OUTLINE_OUTER_PX = 13, 19
"""The mask's outline: a ring between the mask grown by these windows (odd sides, in pixels)."""


def upsample_map(patch_map: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A (h, w) patch-score map resized to the frame ``size`` = (W, H), bilinear."""
    return cv2.resize(np.asarray(patch_map, dtype=np.float32), size, interpolation=cv2.INTER_LINEAR)


def overlay(image: np.ndarray, patch_map: np.ndarray, threshold: float, mask: np.ndarray | None = None) -> Image.Image:
    """The frame (H, W, 3) uint8 with ``patch_map`` coloured over it; ``mask`` (H, W) outlined when given."""
    height, width = image.shape[:2]
    scaled = np.clip(upsample_map(patch_map, (width, height)) / threshold - 0.5, 0.0, 1.0)
    colours = colormaps["jet"](scaled)[..., :3] * 255.0
    blended = (1.0 - OVERLAY_ALPHA) * image.astype(np.float32) + OVERLAY_ALPHA * colours
    frame = np.clip(blended, 0, 255).astype(np.uint8)
    if mask is not None:
        inside = (np.asarray(mask) > 0).astype(np.uint8)
        ring = cv2.dilate(inside, np.ones((OUTLINE_OUTER_PX, OUTLINE_OUTER_PX), np.uint8)) - cv2.dilate(
            inside, np.ones((OUTLINE_INNER_PX, OUTLINE_INNER_PX), np.uint8)
        )
        frame[ring > 0] = MASK_OUTLINE_RGB
    return Image.fromarray(frame)


def write_overlay(
    path: str | Path, image: np.ndarray, patch_map: np.ndarray, threshold: float,
    box: tuple[int, int, int, int] | None = None, caption: str | None = None,
) -> Path:  # fmt: skip
    """Write :func:`overlay` of one frame as a PNG, atomically (predict's ``--heatmaps``).

    ``box`` (x0, y0, x1, y1, frame pixels): the region the defect was named from, outlined,
    with ``caption`` (the class named) above it.
    """
    picture = overlay(image, patch_map, threshold)
    if box is not None:
        draw = ImageDraw.Draw(picture)
        scale = picture.width / image.shape[1]
        x0, y0, x1, y1 = (round(v * scale) for v in box)
        for grow in range(3):
            draw.rectangle((x0 - grow, y0 - grow, x1 + grow, y1 + grow), outline=(0, 255, 255))
        if caption:
            draw.text((x0 + 2, max(0, y0 - 14)), caption, fill=(0, 255, 255))
    return atomic_write_bytes(path, _png(picture))


def write_grid(path: str | Path, tiles: Sequence[tuple[Image.Image, str]], *, thumb_width: int, columns: int) -> Path:
    """Write captioned thumbnails of overlays in a grid PNG (``tiles``: image, caption)."""
    if not tiles:
        raise ValueError("no heatmaps to put in a grid")
    first = tiles[0][0]
    thumb_height = round(first.height * thumb_width / first.width)
    caption_px = 28
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * thumb_width, rows * (thumb_height + caption_px)), (245, 245, 245))
    draw = ImageDraw.Draw(sheet)
    for index, (tile, caption) in enumerate(tiles):
        left, top = (index % columns) * thumb_width, (index // columns) * (thumb_height + caption_px)
        sheet.paste(tile.resize((thumb_width, thumb_height), Image.Resampling.BILINEAR), (left, top))
        for line, text in enumerate(caption.split("\n")[:2]):
            draw.text((left + 4, top + thumb_height + 2 + 12 * line), text, fill=(0, 0, 0))
    return atomic_write_bytes(path, _png(sheet))


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def write_sheet(
    path: str | Path,
    frames: Sequence[tuple[np.ndarray, np.ndarray, str, np.ndarray | None]],
    threshold: float,
    *,
    thumb_width: int = 320,
    columns: int = 4,
) -> Path:
    """A grid PNG of overlays: each frame is (image, patch map, caption, mask or None)."""
    tiles = [(overlay(image, patch_map, threshold, mask), caption) for image, patch_map, caption, mask in frames]
    return write_grid(path, tiles, thumb_width=thumb_width, columns=columns)
