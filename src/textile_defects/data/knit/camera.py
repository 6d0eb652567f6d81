"""What the camera adds to a clean render: uneven light, optical blur, sensor noise."""

from __future__ import annotations

import numpy as np

from textile_defects.data.knit.style import REFERENCE_WIDTH, FabricStyle


def illumination(style: FabricStyle, width: int, height: int) -> np.ndarray:
    """Light falling on the fabric, float32 ``(height, width)``, about 1 on average.

    A linear gradient (a lamp off to one side), vignetting and a soft hot spot,
    all scaled by the photo's exposure.
    """
    aspect = height / width
    x = (np.arange(width, dtype=np.float32) + 0.5) / width - 0.5
    y = ((np.arange(height, dtype=np.float32) + 0.5) / height - 0.5) * aspect
    x, y = x[None, :], y[:, None]
    spot_x, spot_y, spot_size, spot_gain = style.hotspot
    spot = np.exp(-((x - (spot_x - 0.5)) ** 2 + (y - (spot_y - 0.5) * aspect) ** 2) / (2 * spot_size**2))
    light = (
        1.0
        + style.gradient[0] * x
        + style.gradient[1] * y
        - style.vignette * 2.0 * (x * x + y * y)
        + spot_gain * spot
    )
    return (style.exposure * light).astype(np.float32)


def photograph(clean_rgb: np.ndarray, style: FabricStyle, rng: np.random.Generator) -> np.ndarray:
    """Light, blur, add noise to and quantise a clean render.

    ``clean_rgb``: float32 ``(height, width, 3)`` in 0..1. Returns uint8 of the
    same shape. Blur is given in reference pixels, so it shrinks with the image.
    """
    height, width, _ = clean_rgb.shape
    rgb = clean_rgb * illumination(style, width, height)[..., None]
    blur_sigma = style.blur_px * width / REFERENCE_WIDTH
    if blur_sigma >= 0.3:  # below that a blur kernel is a no-op on a pixel grid
        rgb = _soften(rgb, blur_sigma)
    # Read noise everywhere plus shot noise that grows with brightness.
    sigma = np.sqrt(np.float32(style.read_noise**2) + np.float32(style.shot_noise) * np.clip(rgb, 0.0, None))
    rgb += sigma * _normal_noise(rng, rgb.shape)
    return np.rint(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


def _soften(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """Separable 3-tap blur ``[w, 1 - 2w, w]`` of standard deviation ``sigma`` px (<= 0.8), edges repeated.

    A lens's slight softness is well under a pixel here; three taps model it
    at a third of the cost of a general Gaussian filter on interleaved RGB.
    """
    side = np.float32(min(sigma, 0.8) ** 2 / 2)
    centre = np.float32(1.0) - 2 * side
    padded = np.pad(rgb, ((1, 1), (0, 0), (0, 0)), mode="edge")
    rgb = centre * padded[1:-1] + side * (padded[:-2] + padded[2:])
    padded = np.pad(rgb, ((0, 0), (1, 1), (0, 0)), mode="edge")
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
