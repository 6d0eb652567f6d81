"""More defect examples than photos: a training defect's region transplanted onto good training photos.

A class with 2 photos has 2 backgrounds however many augmented copies it
gets. Here the gate (good photos only, so fair on training defects) says where
each training defect lies; that region, dilated by a margin, is cut out and
blended into a good photo of the same training set:

- **where**: a random place on the background, the defect's orientation kept
  (a needle line stays vertical, a band horizontal); a region that spans the
  frame on one axis (a full-height line, a full-width band) keeps spanning it;
- **aligned**: the paste is shifted by a few pixels to where the source's
  border ring best matches the background (least squared difference of grey
  levels), so the knit's loops continue across the seam: the period comes
  from the fabric itself, not from a constant;
- **blended**: Poisson blending (OpenCV's seamless cloning): the defect keeps
  its own gradients, its level and colour follow the new background;
- **varied in extent** (per class, ``segment_probability``): a random
  stretch of the region along its long axis (``segment_fraction`` of its
  length), so that one long lycra-cut photo also teaches short ones.

Each composite is a pure function of (seed, index) and its inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from textile_defects.gate.regions import Region
from textile_defects.naming.profile import knit_period
from textile_defects.utils.seeding import derive_seed

SPAN_SHARE = 0.9
"""A region whose extent covers this share of the frame on an axis spans it (and keeps spanning it)."""


@dataclass(frozen=True)
class TransplantSettings:
    """How composites are made (the ``transplant`` section of params.yaml, docs/naming.md)."""

    seed: int
    composites_per_class: Mapping[str, int]
    segment_probability: Mapping[str, float]
    segment_fraction: tuple[float, float]
    margin_px: int
    align_px: int


@dataclass(frozen=True)
class Composite:
    """One composite: its pixels, the pasted mask, and what went where (for the manifest)."""

    pixels: np.ndarray
    mask: np.ndarray
    record: dict[str, Any]


def region_pixels(region: Region, frame_size: tuple[int, int], margin_px: int) -> np.ndarray:
    """The region's cells as a (H, W) uint8 pixel mask (255 inside), dilated by ``margin_px``."""
    width, height = frame_size
    cells = region.cells.astype(np.uint8) * 255
    mask = cv2.resize(cells, (width, height), interpolation=cv2.INTER_NEAREST)
    if margin_px > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin_px + 1, 2 * margin_px + 1))
        mask = cv2.dilate(mask, kernel)
    return mask


def segment(mask: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A stretch of ``fraction`` of the mask's extent along its principal axis, at a random offset."""
    ys, xs = np.nonzero(mask)
    points = np.stack([xs, ys]).astype(np.float64)
    centred = points - points.mean(axis=1, keepdims=True)
    _, vectors = np.linalg.eigh(np.cov(centred))
    axis = vectors[:, -1]
    position = axis @ centred
    low, high = float(position.min()), float(position.max())
    length = (high - low) * fraction
    start = rng.uniform(low, high - length) if high - low > length else low
    kept = (position >= start) & (position <= start + length)
    out = np.zeros_like(mask)
    out[ys[kept], xs[kept]] = 255
    return out


def _ring(mask: np.ndarray, width: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    return (cv2.dilate(mask, kernel) > 0) & (mask == 0)


def _placement(mask: np.ndarray, frame_size: tuple[int, int], rng: np.random.Generator) -> tuple[int, int]:
    """A shift (dx, dy) moving the mask's box to a random place inside the frame; spanning axes stay put."""
    ys, xs = np.nonzero(mask)
    width, height = frame_size
    shifts = []
    for low, high, extent in ((xs.min(), xs.max(), width), (ys.min(), ys.max(), height)):
        if high - low + 1 >= SPAN_SHARE * extent:
            shifts.append(0)
        else:
            shifts.append(int(rng.integers(-low, extent - high)))
    return shifts[0], shifts[1]


def _aligned(source: np.ndarray, background: np.ndarray, mask: np.ndarray, shift: tuple[int, int], align_px: int) -> tuple[int, int]:
    """``shift`` moved by up to ``align_px`` to where the source's border ring best matches the background."""
    if align_px <= 0:
        return shift
    ring = _ring(mask, 3)
    ys, xs = np.nonzero(ring)
    grey_source = cv2.cvtColor(source, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey_background = cv2.cvtColor(background, cv2.COLOR_RGB2GRAY).astype(np.float32)
    height, width = grey_background.shape
    best, best_cost = shift, np.inf
    ring_values = grey_source[ys, xs]
    ring_values = ring_values - ring_values.mean()
    for dy in range(-align_px, align_px + 1):
        for dx in range(-align_px, align_px + 1):
            tx, ty = xs + shift[0] + dx, ys + shift[1] + dy
            inside = (tx >= 0) & (tx < width) & (ty >= 0) & (ty < height)
            if inside.mean() < 0.9:
                continue
            target = grey_background[ty[inside], tx[inside]]
            cost = float(np.mean((ring_values[inside] - (target - target.mean())) ** 2))
            if cost < best_cost:
                best, best_cost = (shift[0] + dx, shift[1] + dy), cost
    return best


def transplant(
    source: np.ndarray,
    region: Region,
    background: np.ndarray,
    *,
    label: str,
    settings: TransplantSettings,
    index: int,
) -> Composite:
    """Composite ``index``: ``source``'s defect (its gate ``region``) blended into ``background`` (same size, RGB uint8)."""
    if source.shape != background.shape:
        raise ValueError(f"source is {source.shape}, background {background.shape}: they must be the same size")
    rng = np.random.default_rng(derive_seed(settings.seed, "transplant", label, index))
    height, width = source.shape[:2]
    mask = region_pixels(region, (width, height), settings.margin_px)
    fraction = 1.0
    if rng.random() < settings.segment_probability.get(label, 0.0):
        fraction = float(rng.uniform(*settings.segment_fraction))
        mask = segment(mask, fraction, rng)
    shift = _aligned(source, background, mask, _placement(mask, (width, height), rng), settings.align_px)
    moved = np.zeros_like(mask)
    ys, xs = np.nonzero(mask)
    ty, tx = ys + shift[1], xs + shift[0]
    keep = (tx >= 1) & (tx < width - 1) & (ty >= 1) & (ty < height - 1)  # seamlessClone needs a 1 px frame
    moved[ty[keep], tx[keep]] = 255
    # seamlessClone cuts the source at its mask's box and centres that box on ``centre`` in the
    # background; the mask only moved, so the destination box is the same size.
    box_x, box_y, box_w, box_h = cv2.boundingRect(moved)
    source_mask = np.zeros_like(mask)
    source_mask[ys[keep], xs[keep]] = 255
    centre = (box_x + box_w // 2, box_y + box_h // 2)
    blended = cv2.seamlessClone(
        np.ascontiguousarray(source[..., ::-1]), np.ascontiguousarray(background[..., ::-1]),
        source_mask, centre, cv2.NORMAL_CLONE,
    )[..., ::-1]  # fmt: skip
    record = {
        "segment_fraction": round(fraction, 4),
        "shift": [int(shift[0]), int(shift[1])],
        "box": [int(box_x), int(box_y), int(box_x + box_w), int(box_y + box_h)],
    }
    return Composite(pixels=np.ascontiguousarray(blended), mask=moved, record=record)


def plan_composites(
    defects: Mapping[str, Sequence[str]],
    backgrounds: Sequence[str],
    settings: TransplantSettings,
    periods: Mapping[str, tuple[float, float]] | None = None,
    nearest: int = 5,
) -> list[tuple[int, str, str, str]]:
    """(index, label, source id, background id) per composite: sources in turn per class, backgrounds drawn.

    ``defects`` maps each defect class to its training defect originals;
    ``backgrounds`` are the good training originals. Only training photos
    appear, so no composite carries a scored photo's region or background.
    With ``periods`` (:func:`knit_period` of every photo), a source's
    background is drawn among the ``nearest`` in stitch size (log-period distance).
    """
    if not backgrounds:
        raise ValueError("transplant: no good training photo to paste onto")

    def candidates(source: str) -> list[str]:
        if periods is None:
            return list(backgrounds)
        px, py = periods[source]
        distance = {b: abs(np.log(periods[b][0] / px)) + abs(np.log(periods[b][1] / py)) for b in backgrounds}
        return sorted(backgrounds, key=lambda b: (distance[b], b))[: max(1, nearest)]

    plan = []
    index = 0
    for label in sorted(defects):
        sources = list(defects[label])
        count = int(settings.composites_per_class.get(label, 0))
        if count and not sources:
            raise ValueError(f"transplant: {count} composites of {label} asked, but no training photo of it")
        rng = np.random.default_rng(derive_seed(settings.seed, "backgrounds", label))
        for k in range(count):
            source = sources[k % len(sources)]
            pool = candidates(source)
            plan.append((index, label, source, pool[int(rng.integers(len(pool)))]))
            index += 1
    return plan


def composite_sheet(tiles: Sequence[tuple[np.ndarray, np.ndarray, str]], columns: int, thumb_width: int) -> np.ndarray:
    """A picture grid (RGB uint8) of composites: each (pixels, pasted mask, caption), the paste outlined.

    The outline sits a few pixels outside the pasted mask, so the seam itself
    stays visible to whoever checks that there is none.
    """
    if not tiles:
        raise ValueError("no composites to draw")
    height, width = tiles[0][0].shape[:2]
    thumb_height = int(round(thumb_width * height / width))
    caption_px = 14
    rows = -(-len(tiles) // columns)
    sheet = np.full((rows * (thumb_height + caption_px), columns * thumb_width, 3), 255, dtype=np.uint8)
    for k, (pixels, mask, caption) in enumerate(tiles):
        outline = cv2.dilate(mask, np.ones((9, 9), np.uint8)) - cv2.dilate(mask, np.ones((5, 5), np.uint8))
        drawn = pixels.copy()
        drawn[outline > 0] = (255, 0, 255)
        thumb = cv2.resize(drawn, (thumb_width, thumb_height), interpolation=cv2.INTER_AREA)
        top, left = (k // columns) * (thumb_height + caption_px), (k % columns) * thumb_width
        sheet[top : top + thumb_height, left : left + thumb_width] = thumb
        cv2.putText(sheet, caption[:40], (left + 2, top + thumb_height + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    return sheet
