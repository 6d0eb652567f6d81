"""Stitch tables -> a clean (noise-free, evenly lit) RGB image and a defect mask.

Every stitch is a "V" of two yarn legs; each leg is an ellipse shaded as a
round yarn (diffuse light, a specular sheen, slanted ply stripes). A pixel
shows the leg it is deepest inside; pixels outside every leg show the gap
between loops (shadowed yarn) or, inside a hole, the dark machine bed.

Work is vectorised over blocks of rows so the arrays stay in cache, and an
image smaller than the reference is rendered ``supersample`` times larger and
box-filtered down, so it looks like a downscaled photo rather than aliasing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from textile_defects.data.knit.fabric import FabricFrame, Overlay, StitchTables, Strand
from textile_defects.data.knit.style import REFERENCE_WIDTH, FabricStyle
from textile_defects.utils import stable_math

_BLOCK_PIXELS = 1 << 15
"""Pixels rendered per block: small enough for the temporaries to stay in cache."""

_MISSING = np.float32(1e6)
"""Inverse half-width of a missing leg: no pixel is ever inside it."""

_MIN_RENDER_PX_PER_WALE = 4.0
"""Render resolution needed to resolve a stitch's two legs and the gap between them."""


def supersample_factor(width: int, style: FabricStyle) -> int:
    """Render pixels per output pixel (per axis) for a ``width`` px image: 1 at full size, at most 4."""
    px_per_wale = style.wale_px * width / REFERENCE_WIDTH
    return int(np.clip(np.ceil(_MIN_RENDER_PX_PER_WALE / px_per_wale), 1, 4))


@dataclass
class _Nearest:
    """Per pixel, the yarn ellipse the pixel is deepest inside so far."""

    r2: np.ndarray  # normalised squared distance to the centre; < 1 inside
    along: np.ndarray  # coordinate along the yarn, in half-lengths
    across: np.ndarray  # coordinate across the yarn, in half-widths
    cell: np.ndarray  # flat table index of the stitch that owns the ellipse
    kind: np.ndarray  # 0 left leg, 1 right leg, 2 + k strand k

    @classmethod
    def empty(cls, shape: tuple[int, ...]) -> _Nearest:
        return cls(
            r2=np.full(shape, np.inf, dtype=np.float32),
            along=np.zeros(shape, dtype=np.float32),
            across=np.zeros(shape, dtype=np.float32),
            cell=np.zeros(shape, dtype=np.intp),
            kind=np.zeros(shape, dtype=np.uint8),
        )

    def offer(self, along: np.ndarray, across: np.ndarray, cell: np.ndarray | int, kind: int) -> None:
        r2 = along * along + across * across
        closer = r2 < self.r2
        np.copyto(self.r2, r2, where=closer)
        np.copyto(self.along, along, where=closer)
        np.copyto(self.across, across, where=closer)
        np.copyto(self.cell, cell, where=closer)
        np.copyto(self.kind, np.uint8(kind), where=closer)


class FabricRenderer:
    """Renders one fabric (style + stitch tables + overlay) at one image size."""

    def __init__(self, frame: FabricFrame, tables: StitchTables, overlay: Overlay) -> None:
        self.frame = frame
        self.tables = tables
        self.overlay = overlay
        style = frame.style
        self._wale = np.float32(style.wale_px)
        self._course = np.float32(style.course_px)
        half_width = style.leg_half_width * style.wale_px
        self._inv_half_length = np.float32(1.0 / (style.leg_half_length * style.course_px))
        with np.errstate(divide="ignore"):
            inv = 1.0 / (tables.thickness.reshape(2, -1) * half_width)
        self._inv_half_width = np.where(np.isfinite(inv) & (inv > 0), inv, _MISSING).astype(np.float32)
        self._shift_px = (tables.shift.reshape(2, -1) * np.array([[style.wale_px], [style.course_px]])).astype(
            np.float32
        )
        # One flat table per colour channel: gathering from (n, 3) is far slower.
        self._tone = [np.ascontiguousarray(tables.tone[..., c].ravel()) for c in range(3)]
        self._twist_phase = tables.twist_phase.ravel()
        self._defect = tables.defect.ravel()
        # Unit vectors along each ellipse (pointing down the leg) and across it.
        tilt = np.radians(style.leg_tilt_deg)
        angles = [tilt, -tilt] + [strand.angle_rad for strand in overlay.strands]
        self._along_dir = np.stack(stable_math.sin_cos(np.array(angles)), axis=1).astype(np.float32)
        self._across_dir = np.stack([self._along_dir[:, 1], -self._along_dir[:, 0]], axis=1)
        sin_elevation, cos_elevation = (float(v) for v in stable_math.sin_cos(style.light_elevation_rad))
        sin_azimuth, cos_azimuth = (float(v) for v in stable_math.sin_cos(style.light_azimuth_rad))
        self._light = np.array(
            [cos_elevation * cos_azimuth, cos_elevation * sin_azimuth, sin_elevation], dtype=np.float32
        )
        halfway = self._light + np.array([0, 0, 1], dtype=np.float32)
        # Not np.linalg.norm: its dot product runs in BLAS, whose kernels differ between CPUs.
        self._halfway = halfway / np.sqrt(halfway[0] ** 2 + halfway[1] ** 2 + halfway[2] ** 2)

    def render(self, width: int, height: int, supersample: int) -> tuple[np.ndarray, np.ndarray]:
        """``(rgb, mask)``: float32 ``(height, width, 3)`` in 0..1, bool ``(height, width)``."""
        rgb = np.empty((height, width, 3), dtype=np.float32)
        mask = np.empty((height, width), dtype=bool)
        rows_per_block = max(1, _BLOCK_PIXELS // (width * supersample * supersample))
        step = np.float32(self.frame.width_px / (width * supersample))
        xs = (np.arange(width * supersample, dtype=np.float32) + 0.5) * step
        for top in range(0, height, rows_per_block):
            bottom = min(height, top + rows_per_block)
            ys = (np.arange(top * supersample, bottom * supersample, dtype=np.float32) + 0.5) * step
            block_rgb, block_mask = self._render_block(xs[None, :], ys[:, None])
            if supersample > 1:
                n = bottom - top
                block_rgb = block_rgb.reshape(n, supersample, width, supersample, 3).mean(axis=(1, 3))
                block_mask = block_mask.reshape(n, supersample, width, supersample).mean(axis=(1, 3)) >= 0.5
            rgb[top:bottom] = block_rgb
            mask[top:bottom] = block_mask
        return rgb, mask

    def _render_block(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u, v = self.frame.to_stitches(xs, ys)
        wale, course = np.floor(u), np.floor(v)
        cols = self.tables.shape[1]
        own_cell = ((course - self.tables.course0) * cols + (wale - self.tables.wale0)).astype(np.intp)
        local_x = (u - wale - np.float32(0.5)) * self._wale
        local_y = (v - course) * self._course
        nearest = _Nearest.empty(u.shape)
        self._offer_legs(nearest, local_x, local_y, own_cell, cols)
        # A hole is small: blocks of rows out of its reach skip its work.
        courses = (float(v.min()), float(v.max()))
        for k, strand in enumerate(self.overlay.strands):
            if self._reaches(courses, strand.v, strand.half_length_px):
                self._offer_strand(nearest, u, v, strand, kind=2 + k)
        mask = self._defect[own_cell] | ((nearest.r2 < 1) & self._defect[nearest.cell])
        see_through = None
        opening = self.overlay.opening
        if opening is not None and self._reaches(courses, opening.v, 2 * (opening.radius_px + opening.fray_px)):
            see_through = opening.see_through(u, v, self.frame.style)
            mask |= see_through > 0.5
        return self._shade(nearest, own_cell, see_through), mask

    def _reaches(self, courses: tuple[float, float], course: float, reach_px: float) -> bool:
        """Whether something at ``course`` reaching ``reach_px`` can touch the course range ``courses``."""
        return abs(course - np.clip(course, *courses)) * self.frame.style.course_px < reach_px

    def _offer_legs(
        self, nearest: _Nearest, local_x: np.ndarray, local_y: np.ndarray, own_cell: np.ndarray, cols: int
    ) -> None:
        # A leg reaches about a quarter course into the courses above and
        # below, so a pixel checks its own course and the nearer neighbour.
        # Legs of one kind never overlap sideways, so of the wales it checks
        # only the one whose (tilted) leg axis passes closest.
        offset = np.float32(self.frame.style.leg_offset) * self._wale
        half_course = np.float32(0.5) * self._course
        above = local_y < half_course
        neighbour_rel_y = local_y - half_course + np.where(above, self._course, -self._course)
        neighbour_cell = own_cell + np.where(above, -cols, cols)
        for rel_y, course_cell in ((local_y - half_course, own_cell), (neighbour_rel_y, neighbour_cell)):
            for leg, side in ((0, -1), (1, 1)):
                along_x, along_y = self._along_dir[leg]
                across_x, across_y = self._across_dir[leg]
                axis_x = local_x - (rel_y * (along_x / along_y) + side * offset)
                d_wale = np.rint(axis_x * (np.float32(1.0) / self._wale))
                cell = course_cell + d_wale.astype(np.intp)
                dx = local_x - (d_wale * self._wale + side * offset) - self._shift_px[0][cell]
                dy = rel_y - self._shift_px[1][cell]
                along = (dx * along_x + dy * along_y) * self._inv_half_length
                across = (dx * across_x + dy * across_y) * self._inv_half_width[leg][cell]
                nearest.offer(along, across, cell, leg)

    def _offer_strand(self, nearest: _Nearest, u: np.ndarray, v: np.ndarray, strand: Strand, kind: int) -> None:
        # A capsule (a straight piece of yarn with round ends), not an
        # ellipse: chained capsules read as one continuous curling yarn.
        dx = (u - np.float32(strand.u)) * self._wale
        dy = (v - np.float32(strand.v)) * self._course
        along_px = dx * self._along_dir[kind, 0] + dy * self._along_dir[kind, 1]
        across_px = dx * self._across_dir[kind, 0] + dy * self._across_dir[kind, 1]
        straight_px = np.float32(max(strand.half_length_px - strand.half_width_px, 0.0))
        inv_half_width = np.float32(1.0 / strand.half_width_px)
        along = np.sign(along_px) * np.clip(np.abs(along_px) - straight_px, 0.0, None) * inv_half_width
        row, col = strand.cell
        nearest.offer(along, across_px * inv_half_width, row * self.tables.shape[1] + col, kind)

    def _shade(self, nearest: _Nearest, own_cell: np.ndarray, see_through: np.ndarray | None) -> np.ndarray:
        """Colour ``(..., 3)``: lit yarn where a pixel is inside one, the gap colour elsewhere."""
        style = self.frame.style
        light, sheen = self._yarn_light(nearest)
        # Anti-aliased yarn edge: full cover in the inner part of the ellipse.
        cover = np.clip((1.0 - nearest.r2) * np.float32(3.0), 0.0, 1.0)
        background = None if see_through is None else self.overlay.opening.background_rgb
        channels = []
        for c, yarn_value in enumerate(style.yarn_rgb):
            tone = self._tone[c]
            yarn = tone[nearest.cell] * (np.float32(yarn_value) * light) + sheen
            gap = tone[own_cell] * np.float32(yarn_value * style.gap_shade)
            if background is not None:
                # Where loops are missing the gaps look through to the machine bed.
                gap += see_through * (np.float32(background[c]) - gap)
            channels.append(gap + cover * (yarn - gap))
        return np.stack(channels, axis=-1)

    def _yarn_light(self, nearest: _Nearest) -> tuple[np.ndarray, np.ndarray]:
        """``(light, sheen)`` per pixel: a multiplier of the yarn colour and an added highlight."""
        style = self.frame.style
        depth = np.sqrt(np.clip(1.0 - nearest.r2, 0.0, 1.0))
        # Surface normal of a round yarn: across the yarn it curves fully, along
        # it only as much as its width/length ratio (a long leg is nearly flat).
        aspect = np.float32(style.leg_half_width * style.wale_px / (style.leg_half_length * style.course_px))
        along = nearest.along * aspect
        across = nearest.across
        kind = nearest.kind
        normal_x = along * self._along_dir[:, 0].take(kind) + across * self._across_dir[:, 0].take(kind)
        normal_y = along * self._along_dir[:, 1].take(kind) + across * self._across_dir[:, 1].take(kind)
        inv_norm = np.float32(1.0) / (np.sqrt(normal_x * normal_x + normal_y * normal_y + depth * depth) + 1e-6)
        diffuse = (normal_x * self._light[0] + normal_y * self._light[1] + depth * self._light[2]) * inv_norm
        np.clip(diffuse, 0.0, None, out=diffuse)
        specular = (normal_x * self._halfway[0] + normal_y * self._halfway[1] + depth * self._halfway[2]) * inv_norm
        # Phong lobe cos^n approximated as (1 - n(1 - cos)/4)^4: the same
        # highlight at a fraction of the cost of a float power.
        specular = np.float32(1.0) - np.float32(style.shininess / 4) * (np.float32(1.0) - specular)
        np.clip(specular, 0.0, None, out=specular)
        specular *= specular
        specular *= specular
        # Plied yarn: slanted stripes along each leg, offset per stitch.
        sin_twist, cos_twist = (np.float32(v) for v in stable_math.sin_cos(np.radians(style.twist_deg)))
        along_px = nearest.along / self._inv_half_length
        across_px = nearest.across * np.float32(style.leg_half_width * style.wale_px)
        ply = stable_math.sin(
            (along_px * cos_twist + across_px * sin_twist) * np.float32(2 * np.pi / style.twist_pitch_px)
            + self._twist_phase[nearest.cell]
        ).astype(np.float32)
        # Edges of a yarn are darker (self-shadowing), its crown is lit.
        light = (np.float32(0.3) + np.float32(0.8) * diffuse) * (np.float32(0.55) + np.float32(0.45) * depth)
        light *= np.float32(1.0) + np.float32(style.twist_depth) * ply
        return light, np.float32(style.sheen) * specular
