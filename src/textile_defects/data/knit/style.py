"""The random look of one fabric photo: stitch geometry, yarn, light and camera.

Lengths are in *reference pixels*: pixels of a photo :data:`REFERENCE_WIDTH`
wide (the report's 1270 x 720). A smaller image shows the same field of view,
so a 254 px wide image is a 5x downscale of the same scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REFERENCE_WIDTH = 1270
"""Width in pixels of the report's photos; all lengths below are in its pixels."""

# Dyed yarns a jersey knitter commonly runs (sRGB, 0..1) with their odds.
# Dark shades are rarer on purpose: a hole's dark background is hardest to
# see on black yarn, as it is in real photos.
_YARN_PALETTE = np.array(
    [
        (0.86, 0.84, 0.78),  # greige / undyed
        (0.93, 0.93, 0.91),  # bleached white
        (0.58, 0.58, 0.60),  # heather grey
        (0.30, 0.31, 0.34),  # charcoal
        (0.16, 0.21, 0.40),  # navy
        (0.55, 0.68, 0.82),  # sky blue
        (0.66, 0.16, 0.18),  # red
        (0.18, 0.42, 0.30),  # bottle green
        (0.80, 0.64, 0.26),  # mustard
        (0.86, 0.66, 0.68),  # dusty pink
    ],
    dtype=np.float32,
)
_YARN_ODDS = np.array([3, 2, 3, 1, 1.5, 1.5, 1, 1, 1, 1], dtype=np.float64)


@dataclass(frozen=True)
class FabricStyle:
    """Everything random about one photo except its stitch table and noise.

    Stitch geometry (reference px): ``wale_px`` is the distance between
    stitch columns (wales), ``course_px`` between rows (courses). A stitch is
    a "V" of two yarn legs, each an ellipse ``leg_half_length`` courses long
    and ``leg_half_width`` wales thick, tilted ``leg_tilt_deg`` off vertical
    and centred ``leg_offset`` wales either side of the wale's axis.
    """

    wale_px: float
    course_px: float
    skew_deg: float
    spirality_deg: float
    origin: tuple[float, float]
    warp_stitches: tuple[float, float]
    warp_wavelength_px: tuple[float, float]
    warp_phase: tuple[float, float]
    leg_half_length: float
    leg_half_width: float
    leg_tilt_deg: float
    leg_offset: float
    yarn_rgb: tuple[float, float, float]
    gap_shade: float
    stitch_tone_sd: float
    course_tone_sd: float
    thickness_sd: float
    shift_sd: float
    twist_pitch_px: float
    twist_deg: float
    twist_depth: float
    light_azimuth_rad: float
    light_elevation_rad: float
    sheen: float
    shininess: float
    exposure: float
    gradient: tuple[float, float]
    vignette: float
    hotspot: tuple[float, float, float, float]
    blur_px: float
    read_noise: float
    shot_noise: float


def draw_style(rng: np.random.Generator) -> FabricStyle:
    """Draw one photo's style; every draw is uniform over a plausible range."""
    wale_px = rng.uniform(14.0, 19.0)
    yarn = _YARN_PALETTE[rng.choice(len(_YARN_PALETTE), p=_YARN_ODDS / _YARN_ODDS.sum())]
    # Per-lot dye variation: a few percent per channel and overall.
    yarn = np.clip(yarn * rng.uniform(0.9, 1.1) * rng.uniform(0.96, 1.04, size=3), 0.03, 0.97)
    return FabricStyle(
        wale_px=wale_px,
        course_px=wale_px * rng.uniform(0.72, 0.88),
        skew_deg=rng.uniform(-3.0, 3.0),
        spirality_deg=rng.uniform(-1.5, 1.5),
        # A far-apart origin in stitch space: each image is another patch of fabric.
        origin=(rng.uniform(0, 5000), rng.uniform(0, 5000)),
        warp_stitches=(rng.uniform(0.1, 0.5), rng.uniform(0.1, 0.6)),
        warp_wavelength_px=(rng.uniform(300, 1200), rng.uniform(300, 1200)),
        warp_phase=(rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi)),
        leg_half_length=rng.uniform(0.72, 0.80),
        leg_half_width=rng.uniform(0.21, 0.25),
        leg_tilt_deg=rng.uniform(14.0, 22.0),
        leg_offset=rng.uniform(0.20, 0.24),
        yarn_rgb=tuple(float(c) for c in yarn),
        gap_shade=rng.uniform(0.15, 0.4),
        stitch_tone_sd=rng.uniform(0.02, 0.06),
        course_tone_sd=rng.uniform(0.005, 0.04),
        thickness_sd=rng.uniform(0.02, 0.05),
        shift_sd=rng.uniform(0.015, 0.04),
        twist_pitch_px=rng.uniform(2.5, 4.5),
        twist_deg=rng.uniform(20.0, 40.0),
        twist_depth=rng.uniform(0.04, 0.12),
        light_azimuth_rad=rng.uniform(0, 2 * np.pi),
        light_elevation_rad=rng.uniform(np.radians(35), np.radians(65)),
        sheen=rng.uniform(0.03, 0.25),
        shininess=rng.uniform(6.0, 24.0),
        # Exposure and light fall-off vary per photo as much as a defect
        # shifts global colour statistics, as they do on a factory floor.
        # An operator would not leave pale yarn blown out: the crown of a lit
        # leg (about 1.1 x yarn colour) stays under 0.9 before light fall-off.
        exposure=min(rng.uniform(0.7, 1.2), 0.9 / (1.1 * float(yarn.max()))),
        gradient=(rng.uniform(-0.35, 0.35), rng.uniform(-0.35, 0.35)),
        vignette=rng.uniform(0.0, 0.4),
        hotspot=(rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.15, 0.5), rng.uniform(0.0, 0.3)),
        blur_px=rng.uniform(0.5, 0.8),
        read_noise=rng.uniform(0.006, 0.02),
        shot_noise=rng.uniform(0.0005, 0.002),
    )
