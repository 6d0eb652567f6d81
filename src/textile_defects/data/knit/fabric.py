"""Where stitches are and what each one looks like.

Two coordinate systems:

- *frame* coordinates: reference pixels (see :mod:`.style`) in one photo,
  ``x`` to the right, ``y`` down, origin at the top-left corner;
- *stitch* coordinates ``(u, v)``: ``u`` counts wales (stitch columns) and
  ``v`` courses (stitch rows); stitch ``(i, j)`` occupies
  ``i <= u < i + 1, j <= v < j + 1``.

:class:`FabricFrame` maps the first to the second (skew, spirality, a gentle
warp). :class:`StitchTables` holds per-stitch properties that the renderer
reads and that defects edit. :class:`Opening` and :class:`Strand` are the
two things a hole adds that the stitch lattice cannot express.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from textile_defects.data.knit.style import REFERENCE_WIDTH, FabricStyle
from textile_defects.utils import stable_math

_MARGIN_STITCHES = 3
"""Table cells beyond the frame's stitch range: legs reach into neighbours."""


@dataclass(frozen=True)
class FabricFrame:
    """One photo's view of the fabric: a ``width_px`` x ``height_px`` window."""

    style: FabricStyle
    width_px: float
    height_px: float

    @classmethod
    def for_image(cls, style: FabricStyle, width: int, height: int) -> FabricFrame:
        """The frame of a ``width`` x ``height`` image (same field of view at any size)."""
        return cls(style, REFERENCE_WIDTH, height * REFERENCE_WIDTH / width)

    def to_stitches(self, x_px: np.ndarray, y_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stitch coordinates ``(u, v)`` of frame points; arrays broadcast together."""
        s = self.style
        xc = np.asarray(x_px, dtype=np.float32) - np.float32(self.width_px / 2)
        yc = np.asarray(y_px, dtype=np.float32) - np.float32(self.height_px / 2)
        sin, cos = (np.float32(value) for value in stable_math.sin_cos(np.radians(s.skew_deg)))
        xr = xc * cos + yc * sin
        yr = yc * cos - xc * sin
        # Fabric on a machine is never flat: a slow sideways and lengthwise wave.
        xr = xr + np.float32(s.warp_stitches[0] * s.wale_px) * _sin32(
            yr * np.float32(2 * np.pi / s.warp_wavelength_px[0]) + np.float32(s.warp_phase[0])
        )
        yr = yr + np.float32(s.warp_stitches[1] * s.course_px) * _sin32(
            xr * np.float32(2 * np.pi / s.warp_wavelength_px[1]) + np.float32(s.warp_phase[1])
        )
        # Spirality: courses run slightly off square to the wales.
        sin_spiral, cos_spiral = stable_math.sin_cos(np.radians(s.spirality_deg))
        yr = yr + xr * np.float32(sin_spiral / cos_spiral)
        u = xr / np.float32(s.wale_px) + np.float32(s.origin[0])
        v = yr / np.float32(s.course_px) + np.float32(s.origin[1])
        return u, v

    def stitch_at(self, fx: float, fy: float) -> tuple[float, float]:
        """Stitch coordinates of the point at fractions ``(fx, fy)`` of the frame size."""
        u, v = self.to_stitches(np.array(fx * self.width_px), np.array(fy * self.height_px))
        return float(u), float(v)

    def stitch_bounds(self) -> tuple[int, int, int, int]:
        """``(wale_min, wale_max, course_min, course_max)`` covering the frame, with margin."""
        xs = np.linspace(0, self.width_px, 65, dtype=np.float32)
        ys = np.linspace(0, self.height_px, 37, dtype=np.float32)
        u, v = self.to_stitches(xs[None, :], ys[:, None])
        m = _MARGIN_STITCHES
        return (
            int(np.floor(u.min())) - m,
            int(np.floor(u.max())) + m,
            int(np.floor(v.min())) - m,
            int(np.floor(v.max())) + m,
        )


def _sin32(x: np.ndarray) -> np.ndarray:
    """sin of a float32 array as float32, the same on every CPU (see :mod:`~textile_defects.utils.stable_math`)."""
    return stable_math.sin(x).astype(np.float32)


@dataclass
class StitchTables:
    """Per-stitch properties, indexed ``[row, col]`` = ``[course - course0, wale - wale0]``.

    - ``thickness``: ``(2, rows, cols)`` multiplier of the left/right leg's
      half-width; 0 means the leg is missing (broken or dropped).
    - ``shift``: ``(2, rows, cols)`` displacement of the stitch, in wales
      (index 0) and courses (index 1).
    - ``tone``: ``(rows, cols, 3)`` RGB multiplier of the yarn colour.
    - ``twist_phase``: ``(rows, cols)`` radians; offsets the yarn's ply stripes.
    - ``defect``: ``(rows, cols)`` bool; the stitch belongs to a defect (mask).
    """

    wale0: int
    course0: int
    thickness: np.ndarray
    shift: np.ndarray
    tone: np.ndarray
    twist_phase: np.ndarray
    defect: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``: courses by wales."""
        return self.defect.shape

    def col(self, wale: float) -> int:
        """Column of the stitch containing wale coordinate ``wale``, clipped into the table."""
        return int(np.clip(np.floor(wale) - self.wale0, 0, self.shape[1] - 1))

    def row(self, course: float) -> int:
        """Row of the stitch containing course coordinate ``course``, clipped into the table."""
        return int(np.clip(np.floor(course) - self.course0, 0, self.shape[0] - 1))

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Stitch-centre coordinates ``(u, v)`` as ``(1, cols)`` and ``(rows, 1)`` arrays."""
        rows, cols = self.shape
        u = self.wale0 + np.arange(cols, dtype=np.float64)[None, :] + 0.5
        v = self.course0 + np.arange(rows, dtype=np.float64)[:, None] + 0.5
        return u, v


def draw_stitch_tables(frame: FabricFrame, rng: np.random.Generator) -> StitchTables:
    """Defect-free stitches covering ``frame``: small random irregularities only.

    Each course is knitted from one yarn end, so its tone varies as a whole
    ("barre"); each stitch also varies a little in tone, size and position.
    """
    style = frame.style
    wale_min, wale_max, course_min, course_max = frame.stitch_bounds()
    rows, cols = course_max - course_min + 1, wale_max - wale_min + 1
    course_tone = rng.normal(0.0, style.course_tone_sd, size=(rows, 1, 1))
    stitch_tone = rng.normal(0.0, style.stitch_tone_sd, size=(rows, cols, 1))
    tone = stable_math.exp(course_tone + stitch_tone) * np.ones((1, 1, 3))
    thickness = 1.0 + rng.normal(0.0, style.thickness_sd, size=(2, rows, cols))
    shift = rng.normal(0.0, style.shift_sd, size=(2, rows, cols))
    return StitchTables(
        wale0=wale_min,
        course0=course_min,
        thickness=thickness.astype(np.float32),
        shift=shift.astype(np.float32),
        tone=tone.astype(np.float32),
        twist_phase=rng.uniform(0, 2 * np.pi, size=(rows, cols)).astype(np.float32),
        defect=np.zeros((rows, cols), dtype=bool),
    )


@dataclass(frozen=True)
class Opening:
    """A ragged hole through the fabric, centred at stitch ``(u, v)``.

    Its radius (reference px) at angle ``t`` is
    ``radius_px * (1 + sum(amps * cos(orders * t + phases)))``. Inside it,
    and fading out over ``fray_px`` beyond it, the gaps between whatever
    loops remain show the dark ``background_rgb`` of the machine bed.
    """

    u: float
    v: float
    radius_px: float
    orders: np.ndarray
    amps: np.ndarray
    phases: np.ndarray
    fray_px: float
    background_rgb: tuple[float, float, float]

    def radius_ratio(self, u: np.ndarray, v: np.ndarray, style: FabricStyle) -> np.ndarray:
        """Distance from the centre over the ragged radius: < 1 inside; arrays broadcast."""
        dx = (u - np.float32(self.u)) * np.float32(style.wale_px)
        dy = (v - np.float32(self.v)) * np.float32(style.course_px)
        angle = stable_math.atan2(dy, dx)[..., None]
        wobble = (self.amps * stable_math.cos(self.orders * angle + self.phases)).sum(axis=-1)
        ratio = np.sqrt(dx * dx + dy * dy) / (self.radius_px * (1.0 + wobble))
        return ratio.astype(np.result_type(dx), copy=False)

    def see_through(self, u: np.ndarray, v: np.ndarray, style: FabricStyle) -> np.ndarray:
        """How much of the background shows in a gap, 0..1: 1 inside, 0 beyond the fray."""
        ratio = self.radius_ratio(u, v, style)
        fray = np.float32(self.fray_px / self.radius_px)
        return np.clip((1.0 + fray - ratio) / fray, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class Strand:
    """A loose piece of yarn (a broken loop end) lying on top of the fabric.

    Centred at stitch ``(u, v)``, running at ``angle_rad`` from the wale
    axis, an ellipse ``half_length_px`` by ``half_width_px`` (reference px),
    coloured like the stitch at ``cell`` (``(row, col)`` in the tables).
    """

    u: float
    v: float
    angle_rad: float
    half_length_px: float
    half_width_px: float
    cell: tuple[int, int]


@dataclass
class Overlay:
    """What a defect adds beyond stitch-table edits (only holes use it)."""

    opening: Opening | None = None
    strands: list[Strand] = field(default_factory=list)
