"""Photometric operations and additive noise, on (H, W, 3) uint8 RGB arrays.

Brightness, contrast, saturation and hue are affine maps of the colour
vector, so whatever subset is drawn composes into one 3x4 matrix applied in
a single pass. Sharpness is a 3x3 convolution, a mild blur OpenCV's Gaussian
filter (about 6x cheaper than Pillow's ``ImageFilter``). Noise is drawn from
its own recorded seed.

Every result is the same bytes on every CPU. The colour map and the
sharpness filter are computed here in float32 NumPy, one IEEE operation
(exactly rounded on every vector unit) at a time in a fixed order: OpenCV's ``transform`` and ``filter2D`` run float
code picked by CPU (and BLAS, behind ``@``, picks kernels by CPU too).
OpenCV's 8-bit Gaussian blur is fixed-point by design, and the noise is
integer arithmetic.

Definitions follow Pillow's ``ImageEnhance`` (factor 1 = unchanged):
brightness blends with black, contrast with the mean grey level, saturation
with the grey version of each pixel (ITU-R 601 luma, as Pillow's "L" mode),
sharpness with Pillow's SMOOTH filter. Hue turns colours about the grey axis
by an angle, as SVG/CSS ``hue-rotate``. Composing the maps before rounding
skips the clipping between steps; only pixels driven past 0 or 255 by one
step and back by the next can differ from applying them one by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from statistics import NormalDist
from typing import Any

import cv2
import numpy as np

from textile_defects.utils import stable_math

COLOR_OPS: tuple[str, ...] = ("brightness", "contrast", "saturation", "hue")
"""Operations folded into one colour matrix, in the order they compose."""

LUMA = np.array([0.299, 0.587, 0.114])
"""ITU-R 601-2 luma weights, as Pillow's RGB -> "L" conversion."""

# Pillow's ImageFilter.SMOOTH, the "degenerate" image of ImageEnhance.Sharpness:
# centre weight 5/13, each of the 8 neighbours 1/13.
_SMOOTH_CENTRE, _SMOOTH_NEIGHBOUR = 5.0 / 13.0, 1.0 / 13.0

MAX_KERNEL_BLUR_SIGMA_PX = 0.8
"""Up to this sigma a 3x3 kernel holds the Gaussian well (truncated near 2 sigma); wider blurs get a kernel sized from sigma."""

# 256 equally likely values: the quantiles of N(0, 1) at the centre of each
# 1/256 probability bin, so one random byte per sample gives Gaussian noise
# (truncated at +-2.9 sigma, which rounding to 8 bits hardly notices).
_UNIT_GAUSSIAN_BY_BYTE = np.array([NormalDist().inv_cdf((i + 0.5) / 256.0) for i in range(256)])
_NOISE_OFFSET = 128


def _hue_rotation(shift_deg: float) -> np.ndarray:
    """3x3 hue rotation about the grey axis (the SVG ``feColorMatrix hueRotate`` matrix)."""
    sin, cos = (float(v) for v in stable_math.sin_cos(np.radians(shift_deg)))
    base = np.array([[0.213, 0.715, 0.072]] * 3)
    cos_part = np.array([[0.787, -0.715, -0.072], [-0.213, 0.285, -0.072], [-0.213, -0.715, 0.928]])
    sin_part = np.array([[-0.213, -0.715, 0.928], [0.143, 0.140, -0.283], [-0.787, 0.715, 0.072]])
    return base + cos * cos_part + sin * sin_part


def color_matrix(operations: Iterable[Mapping[str, Any]], mean_rgb: np.ndarray) -> np.ndarray | None:
    """The 3x4 affine colour map ``[M | t]`` (out = M @ rgb + t, 0..255 units) of the colour operations.

    ``mean_rgb`` (3,) is the image's mean colour, which contrast needs (it
    blends towards the mean grey level of the image it acts on). None when
    ``operations`` hold no colour operation.
    """
    linear, offset = np.eye(3), np.zeros(3)
    found = False
    for operation in operations:
        name, params = operation["op"], operation["params"]
        if name not in COLOR_OPS:
            continue
        found = True
        if name == "brightness":
            step, shift = float(params["factor"]) * np.eye(3), np.zeros(3)
        elif name == "contrast":
            factor = float(params["factor"])
            mean_grey = float(stable_math.matmul(LUMA[None, :], stable_math.matmul(linear, mean_rgb) + offset)[0])
            step, shift = factor * np.eye(3), np.full(3, (1.0 - factor) * mean_grey)
        elif name == "saturation":
            factor = float(params["factor"])
            step, shift = factor * np.eye(3) + (1.0 - factor) * np.outer(np.ones(3), LUMA), np.zeros(3)
        else:
            step, shift = _hue_rotation(float(params["shift_deg"])), np.zeros(3)
        linear, offset = stable_math.matmul(step, linear), stable_math.matmul(step, offset) + shift
    return np.column_stack([linear, offset]) if found else None


def apply_color(pixels: np.ndarray, operations: Iterable[Mapping[str, Any]]) -> np.ndarray:
    """``pixels`` with its colour operations applied in one pass (the same array if there are none).

    Rounds to the nearest level (half to even) and clips into 0..255 once, after the whole map.
    """
    operations = list(operations)
    names = {operation["op"] for operation in operations}
    # Only contrast needs the image's mean colour; it costs a pass (an exact integer sum).
    mean_rgb = (
        pixels.reshape(-1, 3).sum(axis=0, dtype=np.int64) / (pixels.size // 3) if "contrast" in names else np.zeros(3)
    )
    matrix = color_matrix(operations, mean_rgb)
    if matrix is None:
        return pixels
    channels = [pixels[..., c].astype(np.float32) for c in range(3)]
    out = np.empty_like(pixels)
    for c, (red, green, blue, offset) in enumerate(matrix.astype(np.float32)):
        value = red * channels[0]
        value += green * channels[1]
        value += blue * channels[2]
        value += offset
        out[..., c] = _to_uint8(value)
    return out


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Round to the nearest level (half to even, as OpenCV's saturate_cast) and clip into 0..255."""
    np.rint(values, out=values)
    np.clip(values, 0, 255, out=values)
    return values.astype(np.uint8)


def sharpen(pixels: np.ndarray, factor: float) -> np.ndarray:
    """Pillow's ``ImageEnhance.Sharpness(image).enhance(factor)`` as one 3x3 convolution.

    factor < 1 softens, 1 leaves the image as it is, > 1 sharpens. Inside the
    frame it agrees with Pillow to one grey level; Pillow leaves the
    outermost pixels unfiltered, this filters them too (borders mirrored, as
    the geometric operations mirror them).
    """
    # The kernel factor * identity + (1 - factor) * SMOOTH weighs the centre
    # and its 8 neighbours; the neighbours' sum is an exact integer.
    centre_weight = np.float32(factor + (1.0 - factor) * _SMOOTH_CENTRE)
    neighbour_weight = np.float32((1.0 - factor) * _SMOOTH_NEIGHBOUR)
    height, width = pixels.shape[:2]
    padded = np.pad(pixels, ((1, 1), (1, 1), (0, 0)), mode="symmetric").astype(np.int16)
    rows = padded[:-2] + padded[1:-1] + padded[2:]
    centre = padded[1 : height + 1, 1 : width + 1]
    neighbours = rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:] - centre  # at most 8 * 255: fits int16
    value = neighbours.astype(np.float32)
    value *= neighbour_weight
    value += centre_weight * centre.astype(np.float32)
    return _to_uint8(value)


def gaussian_blur(pixels: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma_px`` pixels (3x3 up to :data:`MAX_KERNEL_BLUR_SIGMA_PX`)."""
    size = (3, 3) if sigma_px <= MAX_KERNEL_BLUR_SIGMA_PX else (0, 0)  # (0, 0): OpenCV sizes it from sigma
    return cv2.GaussianBlur(pixels, size, sigma_px, borderType=cv2.BORDER_REFLECT)


def add_noise(pixels: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Add Gaussian noise of standard deviation ``sigma`` (0..255 units), independently per pixel and channel.

    The noise is a pure function of ``seed``. One random byte per sample,
    looked up in a quantile table scaled by ``sigma``, keeps this cheap.
    """
    samples = pixels.size
    words = np.random.default_rng(seed).bit_generator.random_raw(-(-samples // 8))
    # Little-endian bytes of the 64-bit words: the same noise on any platform, no copy here.
    random_bytes = words.astype("<u8", copy=False).view(np.uint8)[:samples].reshape(pixels.shape)
    shifted = np.clip(np.rint(_NOISE_OFFSET + sigma * _UNIT_GAUSSIAN_BY_BYTE), 0, 255).astype(np.uint8)
    noise = cv2.LUT(random_bytes, shifted)
    # Integers in, so the float sum is exact: clip(pixel + noise - 128).
    return cv2.addWeighted(pixels, 1.0, noise, 1.0, -float(_NOISE_OFFSET))
