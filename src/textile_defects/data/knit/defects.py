"""Knitting defects, each an edit of a fabric's stitch tables.

Every drawer takes the tables, the photo's frame and a random generator,
edits the tables in place (marking the affected stitches in
``tables.defect``, which becomes the mask) and returns what it adds beyond
the stitch lattice. Position, size, contrast and direction of contrast are
random; the orientation follows the fabric (courses and wales), which is
itself skewed per photo.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from textile_defects.data.knit.fabric import FabricFrame, Opening, Overlay, StitchTables, Strand
from textile_defects.utils import stable_math

DefectDrawer = Callable[[StitchTables, FabricFrame, np.random.Generator], Overlay]


def _contrast(rng: np.random.Generator, low: float, high: float) -> float:
    """A factor in ``[1 - high, 1 - low]`` or ``[1 + low, 1 + high]``, either side equally likely."""
    size = rng.uniform(low, high)
    return 1.0 - size if rng.random() < 0.5 else 1.0 + size


def _taper(length: int, rng: np.random.Generator) -> np.ndarray:
    """Weights ``(length,)`` in 0..1 that rise and fall smoothly over a few stitches at each end."""
    ramp = rng.uniform(2.0, 6.0)
    t = np.arange(length, dtype=np.float64)
    return np.clip(np.minimum(t + 1, length - t) / ramp, 0.0, 1.0)


def draw_hole(tables: StitchTables, frame: FabricFrame, rng: np.random.Generator) -> Overlay:
    """A ragged opening: loops gone, the dark machine bed showing through.

    Legs whose centre falls inside the opening are gone; around it, in a
    frayed ring, legs are missing at random (more often nearer the opening),
    thinned, and pulled away by the fabric's tension. Broken yarn ends curl
    from the rim into the opening.
    """
    style = frame.style
    u, v = frame.stitch_at(rng.uniform(0.15, 0.85), rng.uniform(0.2, 0.8))
    radius_px = rng.uniform(1.0, 3.5) * style.wale_px
    orders = np.arange(2, 7, dtype=np.float32)
    opening = Opening(
        u=u,
        v=v,
        radius_px=radius_px,
        orders=orders,
        amps=(rng.uniform(0.04, 0.22, size=orders.size) / (orders / 2)).astype(np.float32),
        phases=rng.uniform(0, 2 * np.pi, size=orders.size).astype(np.float32),
        fray_px=rng.uniform(1.0, 2.0) * style.wale_px,
        background_rgb=tuple(float(c) for c in rng.uniform(0.02, 0.07) * rng.uniform(0.9, 1.1, size=3)),
    )
    centre_u, centre_v = tables.centres()
    fray = opening.fray_px / radius_px
    for leg, side in ((0, -1), (1, 1)):
        ratio = opening.radius_ratio(centre_u + side * style.leg_offset, centre_v, style)
        inside = ratio < 1.0
        frayed = ~inside & (ratio < 1.0 + fray)
        broken = frayed & (rng.random(ratio.shape) < 0.7 * (1.0 + fray - ratio) / fray)
        tables.thickness[leg][inside | broken] = 0.0
        tables.thickness[leg][frayed] *= np.float32(rng.uniform(0.75, 0.95))
        tables.defect |= inside | frayed
    dx = (centre_u - u) * style.wale_px
    dy = (centre_v - v) * style.course_px
    distance = np.sqrt(dx * dx + dy * dy) + 1e-6
    pull_px = (
        rng.uniform(0.15, 0.4)
        * style.wale_px
        * stable_math.exp(-np.clip(distance - radius_px, 0, None) / opening.fray_px)
    )
    tables.shift[0] += (pull_px * dx / distance / style.wale_px).astype(np.float32)
    tables.shift[1] += (pull_px * dy / distance / style.course_px).astype(np.float32)
    return Overlay(opening=opening, strands=_loose_ends(tables, opening, frame, rng))


def _loose_ends(tables: StitchTables, opening: Opening, frame: FabricFrame, rng: np.random.Generator) -> list[Strand]:
    """Broken yarn ends from the rim of ``opening`` into it, each a curling chain of short strands."""
    style = frame.style
    scale = np.array([style.wale_px, style.course_px])
    strands = []
    for angle in rng.uniform(0, 2 * np.pi, size=rng.integers(2, 7)):
        point = np.array([opening.u, opening.v]) * scale + opening.radius_px * rng.uniform(0.9, 1.2) * _unit(angle)
        cell = (tables.row(point[1] / scale[1]), tables.col(point[0] / scale[0]))
        heading = angle + np.pi + rng.normal(0.0, 0.5)  # roughly toward the centre
        curl = rng.normal(0.0, 0.4)
        half_length = rng.uniform(0.5, 0.8) * style.course_px
        half_width = rng.uniform(0.14, 0.19) * style.wale_px
        for _ in range(int(rng.integers(1, 5))):
            direction = _unit(heading)
            centre = point + direction * half_length
            strands.append(
                Strand(
                    u=float(centre[0] / scale[0]),
                    v=float(centre[1] / scale[1]),
                    # Strand angles are measured from the wale axis (image down).
                    angle_rad=float(stable_math.atan2(direction[0], direction[1])),
                    half_length_px=float(half_length),
                    half_width_px=float(half_width),
                    cell=cell,
                )
            )
            point = point + direction * half_length * 1.5
            heading += curl
    return strands


def _unit(angle: float) -> np.ndarray:
    """The unit vector ``(cos, sin)`` of ``angle`` radians."""
    sin, cos = stable_math.sin_cos(angle)
    return np.array([float(cos), float(sin)])


def draw_lycra_cut(tables: StitchTables, frame: FabricFrame, rng: np.random.Generator) -> Overlay:
    """A streak along one course where the elastane broke.

    Without the elastane's grip the loops of that course open (thinner,
    further apart from the courses either side) and pucker irregularly.
    """
    style = frame.style
    u, v = frame.stitch_at(rng.uniform(0.25, 0.75), rng.uniform(0.15, 0.85))
    row = int(np.clip(tables.row(v), 1, tables.shape[0] - 2))
    length = max(8, int(rng.uniform(0.3, 1.1) * frame.width_px / style.wale_px))
    first = max(0, tables.col(u) - length // 2)
    cols = slice(first, min(tables.shape[1], first + length))
    weight = _taper(cols.stop - cols.start, rng).astype(np.float32)
    opened = rng.uniform(0.25, 0.5)
    tables.thickness[:, row, cols] *= 1.0 - opened * weight
    gap = rng.uniform(0.12, 0.3) * weight
    tables.shift[1, row - 1, cols] -= gap
    tables.shift[1, row + 1, cols] += gap
    # A moving average over 5 stitches, summed in a fixed order (np.convolve's
    # dot product goes through BLAS, whose kernels differ between CPUs).
    jitter = rng.normal(0.0, 0.25, size=weight.size + 4)
    pucker = sum(jitter[k : k + weight.size] for k in range(5)) / 5
    tables.shift[1, row, cols] += (pucker * weight).astype(np.float32)
    tables.shift[0, row, cols] += rng.normal(0.0, 0.08, size=weight.size).astype(np.float32) * weight
    tables.tone[row, cols] *= (1.0 + (_contrast(rng, 0.03, 0.1) - 1.0) * weight)[:, None]
    tables.defect[row - 1 : row + 2, cols] |= weight > 0.3
    return Overlay()


def draw_needle(tables: StitchTables, frame: FabricFrame, rng: np.random.Generator) -> Overlay:
    """A line along one wale, through the whole frame: every loop of a damaged needle.

    A bent or rough needle forms its loops too tight or too slack and off
    centre, so that wale shows as a thin darker or brighter line.
    """
    u, _ = frame.stitch_at(rng.uniform(0.08, 0.92), 0.5)
    col = tables.col(u)
    rows = tables.shape[0]
    size = _contrast(rng, 0.3, 0.5)
    tables.thickness[:, :, col] *= (size * (1.0 + rng.normal(0.0, 0.08, size=rows))).astype(np.float32)
    # Off centre: a gap opens on one side of the wale and the loops crowd the other.
    off_centre = (_contrast(rng, 0.12, 0.25) - 1.0) + rng.normal(0.0, 0.05, size=rows)
    tables.shift[0, :, col] += off_centre.astype(np.float32)
    tables.tone[:, col] *= np.float32(_contrast(rng, 0.08, 0.2))
    tables.defect[:, col] = True
    return Overlay()


def draw_twoply(tables: StitchTables, frame: FabricFrame, rng: np.random.Generator) -> Overlay:
    """A band of courses knitted with a doubled (thicker) yarn, across the width.

    The thicker yarn fills the loops (denser knit, courses drawn together)
    and takes the dye differently, so the band's tone and hue shift.
    """
    _, v = frame.stitch_at(0.5, rng.uniform(0.15, 0.85))
    band = int(rng.integers(2, 7))
    first = int(np.clip(tables.row(v), 0, tables.shape[0] - band))
    rows = slice(first, first + band)
    tables.thickness[:, rows] *= np.float32(rng.uniform(1.25, 1.45))
    tint = _contrast(rng, 0.07, 0.18) * rng.uniform(0.95, 1.05, size=3)
    tables.tone[rows] *= tint.astype(np.float32)
    squeeze = rng.uniform(0.05, 0.15)
    tables.shift[1, rows] -= (squeeze * (np.arange(band) - (band - 1) / 2)).astype(np.float32)[:, None]
    tables.defect[rows] = True
    return Overlay()


DEFECT_DRAWERS: dict[str, DefectDrawer] = {
    "hole": draw_hole,
    "lycra_cut": draw_lycra_cut,
    "needle": draw_needle,
    "twoply": draw_twoply,
}
"""The defect classes the generator can draw, by class name."""
