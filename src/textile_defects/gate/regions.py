"""Where the gate points, as evidence for the defect's type: its peak, its region, a native-pixel window.

The gate is built from good photos alone, so its patch-score map of ANY
defect photo (a training one included) is fair evidence: no mask is needed.
From the map this module takes:

- the peak cell, where the image score looks (the edge ring left out, as
  :func:`textile_defects.gate.model.interior_max` does);
- the region: the cells connected to the peak whose score rises at least
  ``level`` of the way from the map's median to the peak (the same rule on a
  faint and a strong defect, so no absolute threshold of one fabric enters);
- its shape cues, in pixels of the frame: a needle line is tall and thin, a
  two-ply band wide and flat, a lycra cut a short horizontal stroke, a hole a
  compact blob (:data:`SHAPE_CUES` names them);
- a window of the stored frame around the peak at native resolution (no
  resizing), so a one-wale line stays one wale wide for the encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

SHAPE_CUES: tuple[str, ...] = (
    "log_width_px",
    "log_height_px",
    "log_aspect",
    "width_share",
    "height_share",
    "fill",
    "orientation_cos2",
    "orientation_sin2",
    "log_cells",
    "peak_contrast",
)
"""The shape cues :func:`shape_cues` returns, in order."""


@dataclass(frozen=True)
class Region:
    """The gate's region around its peak: cells (h, w) bool, the peak cell, and the map's stride in pixels."""

    cells: np.ndarray
    peak: tuple[int, int]
    stride: tuple[float, float]
    """(pixels per cell horizontally, vertically) of the frame the map was computed on."""
    contrast: float
    """(peak - median) / (median absolute deviation) of the map's interior: how clearly the peak stands out."""

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) in frame pixels of the region's bounding box."""
        rows, cols = np.nonzero(self.cells)
        sx, sy = self.stride
        return (int(cols.min() * sx), int(rows.min() * sy), int((cols.max() + 1) * sx), int((rows.max() + 1) * sy))

    @property
    def centre(self) -> tuple[float, float]:
        """(x, y) in frame pixels of the peak cell's centre."""
        row, col = self.peak
        return ((col + 0.5) * self.stride[0], (row + 0.5) * self.stride[1])


def gate_region(patch_map: np.ndarray, frame_size: tuple[int, int], border_patches: int, level: float) -> Region:
    """The region around the interior peak of ``patch_map`` (h, w) for a frame of ``frame_size`` (W, H).

    ``level`` in (0, 1): a cell joins when its score is at least median +
    level * (peak - median), and it is connected (8-neighbourhood) to the peak.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    scores = np.asarray(patch_map, dtype=np.float64)
    height, width = scores.shape
    b = border_patches
    if b and (height <= 2 * b or width <= 2 * b):
        raise ValueError(f"a {height}x{width} patch map has no interior with border_patches={b}")
    interior = np.zeros_like(scores, dtype=bool)
    interior[b : height - b, b : width - b] = True
    values = scores[interior]
    median = float(np.median(values))
    spread = float(np.median(np.abs(values - median))) or 1e-12
    masked = np.where(interior, scores, -np.inf)
    peak = np.unravel_index(int(np.argmax(masked)), scores.shape)
    top = float(scores[peak])
    above = interior & (scores >= median + level * (top - median))
    labels, _ = ndimage.label(above, structure=np.ones((3, 3), dtype=bool))
    cells = labels == labels[peak]
    stride = (frame_size[0] / width, frame_size[1] / height)
    return Region(cells=cells, peak=(int(peak[0]), int(peak[1])), stride=stride, contrast=(top - median) / spread)


def shape_cues(region: Region, frame_size: tuple[int, int]) -> np.ndarray:
    """The region's shape as :data:`SHAPE_CUES` (float32): extent, aspect, fill, orientation, size, contrast.

    Orientation is the principal axis of the region's cells (in pixels), as
    (cos 2a, sin 2a) so that a line at 0 and 180 degrees read the same.
    """
    rows, cols = np.nonzero(region.cells)
    sx, sy = region.stride
    x0, y0, x1, y1 = region.box
    width_px, height_px = float(x1 - x0), float(y1 - y0)
    xs, ys = (cols + 0.5) * sx, (rows + 0.5) * sy
    if len(xs) > 1:
        cov = np.cov(np.stack([xs, ys]))
        angle = 0.5 * np.arctan2(2 * cov[0, 1], cov[0, 0] - cov[1, 1])
        smallest, largest = np.linalg.eigvalsh(cov)  # ascending
        elongation = 1.0 - smallest / max(largest, 1e-12)
    else:
        angle, elongation = 0.0, 0.0
    box_cells = ((x1 - x0) / sx) * ((y1 - y0) / sy)
    return np.array(
        [
            np.log(width_px),
            np.log(height_px),
            np.log(width_px / height_px),
            width_px / frame_size[0],
            height_px / frame_size[1],
            len(xs) / box_cells,
            elongation * np.cos(2 * angle),
            elongation * np.sin(2 * angle),
            np.log(len(xs)),
            np.log1p(max(region.contrast, 0.0)),
        ],
        dtype=np.float32,
    )


def window_box(centre: tuple[float, float], frame_size: tuple[int, int], side: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): a ``side`` x ``side`` window centred on ``centre`` (x, y), moved inside the frame.

    A frame smaller than ``side`` gives its whole extent on that axis.
    """
    boxes = []
    for position, extent in zip(centre, frame_size, strict=True):
        length = min(side, extent)
        start = int(round(position - length / 2))
        start = max(0, min(start, extent - length))
        boxes.append((start, start + length))
    (x0, x1), (y0, y1) = boxes
    return x0, y0, x1, y1


def crop(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The (y1-y0, x1-x0, 3) pixels of ``frame`` (H, W, 3) inside ``box``, as a contiguous copy."""
    x0, y0, x1, y1 = box
    return np.ascontiguousarray(frame[y0:y1, x0:x1])
