"""What the camera adds to a clean render: uneven light, optical blur, sensor noise."""

from __future__ import annotations

import numpy as np

from textile_defects.data.knit.style import REFERENCE_WIDTH, FabricStyle
from textile_defects.utils import stable_math


def illumination(style: FabricStyle, width: int, height: int) -> np.ndarray:
    """Light falling on the fabric, float32 ``(height, width)``, about 1 on average.

    A linear gradient (a lamp off to one side), vignetting and a soft hot spot,
    all scaled by the photo's exposure.
    """
    aspect = height / width
    x = (np.arange(width, dtype=np.float64) + 0.5) / width - 0.5
    y = ((np.arange(height, dtype=np.float64) + 0.5) / height - 0.5) * aspect
    x, y = x[None, :], y[:, None]
    spot_x, spot_y, spot_size, spot_gain = style.hotspot
    # A round Gaussian is the product of one along x and one along y: W + H
    # exponentials instead of W * H.
    spread = 2 * spot_size**2
    spot = stable_math.exp(-((x - (spot_x - 0.5)) ** 2) / spread) * stable_math.exp(
        -((y - (spot_y - 0.5) * aspect) ** 2) / spread
    )
    light = (
        1.0
        + style.gradient[0] * x
        + style.gradient[1] * y
        - style.vignette * 2.0 * (x * x + y * y)
        + spot_gain * spot
    )
    return (style.exposure * light).astype(np.float32)


_BLOCK_ROWS = 32
"""Rows processed at a time: the block's temporaries stay in cache (about twice as fast)."""


def photograph(clean_rgb: np.ndarray, style: FabricStyle, rng: np.random.Generator) -> np.ndarray:
    """Light, blur, add noise to and quantise a clean render.

    ``clean_rgb``: float32 ``(height, width, 3)`` in 0..1. Returns uint8 of the
    same shape. Blur is given in reference pixels, so it shrinks with the image.
    """
    height, width, _ = clean_rgb.shape
    light = illumination(style, width, height)[..., None]
    # A lens's slight softness, well under a pixel here: a 3-tap kernel
    # [w, 1 - 2w, w] (variance 2w) per axis; below 0.3 px it is a no-op.
    blur_sigma = min(style.blur_px * width / REFERENCE_WIDTH, 0.8)
    side = np.float32(blur_sigma**2 / 2 if blur_sigma >= 0.3 else 0.0)
    out = np.empty((height, width, 3), dtype=np.uint8)
    for top in range(0, height, _BLOCK_ROWS):
        bottom = min(height, top + _BLOCK_ROWS)
        # One row of context either side for the vertical blur; the image's
        # own first and last rows stand in beyond its edges.
        rows = np.arange(top - 1, bottom + 1).clip(0, height - 1)
        rgb = _blur_rows(clean_rgb[rows] * light[rows], side)
        # Read noise everywhere plus shot noise that grows with brightness.
        sigma = np.sqrt(np.float32(style.read_noise**2) + np.float32(style.shot_noise) * np.clip(rgb, 0.0, None))
        rgb += sigma * _normal_noise(rng, rgb.shape)
        rgb = _highlight_shoulder(rgb)
        np.clip(rgb, 0.0, 1.0, out=rgb)
        rgb *= np.float32(255.0)
        out[top:bottom] = np.rint(rgb)
    return out


_KNEE = np.float32(0.8)
"""Signal level above which the sensor response rolls off (see :func:`_highlight_shoulder`)."""


def _highlight_shoulder(rgb: np.ndarray) -> np.ndarray:
    """Compress highlights above :data:`_KNEE` smoothly towards 1, as a camera's tone curve does.

    Slope 1 at the knee, approaching 1 only as the input grows without bound,
    so bright yarn keeps its texture instead of clipping to flat white.
    """
    excess = np.clip(rgb - _KNEE, 0.0, None)
    return rgb - excess + excess / (np.float32(1.0) + excess / (np.float32(1.0) - _KNEE))


def _blur_rows(rows: np.ndarray, side: np.float32) -> np.ndarray:
    """Blur ``(n + 2, width, 3)`` rows with ``[side, 1 - 2 side, side]`` per axis; returns the inner ``n`` rows."""
    centre = np.float32(1.0) - 2 * side
    vertical = centre * rows[1:-1] + side * (rows[:-2] + rows[2:])
    padded = np.concatenate([vertical[:, :1], vertical, vertical[:, -1:]], axis=1)
    return centre * padded[:, 1:-1] + side * (padded[:, :-2] + padded[:, 2:])


def _normal_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Float32 noise of mean 0 and standard deviation 1, close to Gaussian.

    The sum of four uniform random bytes (Irwin-Hall): as sensor noise it is
    indistinguishable from ``rng.standard_normal`` and twice as fast.
    """
    count = int(np.prod(shape))
    uniform_bytes = np.frombuffer(rng.bytes(4 * count), dtype=np.uint8).reshape(4, count)
    total = uniform_bytes.sum(axis=0, dtype=np.uint16).astype(np.float32)
    # Four bytes: mean 4 * 255 / 2, variance 4 * (256**2 - 1) / 12.
    return ((total - np.float32(510.0)) * np.float32(1.0 / np.sqrt(4 * (256**2 - 1) / 12))).reshape(shape)
