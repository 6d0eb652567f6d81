"""Photometric operations and additive noise, on 8-bit RGB Pillow images.

Brightness, contrast, saturation and hue are affine maps of the colour
vector, so whatever subset is drawn composes into one 3x4 matrix applied in
a single pass (``Image.convert`` with a matrix). Sharpness and a mild blur
are 3x3 convolutions. Noise is drawn from its own recorded seed.

Definitions follow Pillow's ``ImageEnhance`` (factor 1 = unchanged):
brightness blends with black, contrast with the mean grey level, saturation
with the grey version of each pixel (ITU-R 601 luma, as Pillow's "L" mode),
sharpness with Pillow's SMOOTH filter. Hue turns colours about the grey axis
by an angle, as SVG/CSS ``hue-rotate``. Composing the maps before rounding
skips the clipping between steps; only pixels driven past 0 or 255 by one
step and back by the next can differ from applying them one by one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from statistics import NormalDist
from typing import Any

import numpy as np
from PIL import Image, ImageChops, ImageFilter, ImageStat

COLOR_OPS: tuple[str, ...] = ("brightness", "contrast", "saturation", "hue")
"""Operations folded into one colour matrix, in the order they compose."""

LUMA = np.array([0.299, 0.587, 0.114])
"""ITU-R 601-2 luma weights, as Pillow's RGB -> "L" conversion."""

# Pillow's ImageFilter.SMOOTH, the "degenerate" image of ImageEnhance.Sharpness.
_SMOOTH = np.array([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0
_IDENTITY_3X3 = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])

MAX_KERNEL_BLUR_SIGMA_PX = 0.8
"""Up to this sigma a 3x3 kernel holds the Gaussian well (truncated near 2 sigma); wider blurs use Pillow's."""

# 256 equally likely values: the quantiles of N(0, 1) at the centre of each
# 1/256 probability bin, so one random byte per sample gives Gaussian noise
# (truncated at +-2.9 sigma, which rounding to 8 bits hardly notices).
_UNIT_GAUSSIAN_BY_BYTE = np.array([NormalDist().inv_cdf((i + 0.5) / 256.0) for i in range(256)])
_NOISE_OFFSET = 128


def _hue_rotation(shift_deg: float) -> np.ndarray:
    """3x3 hue rotation about the grey axis (the SVG ``feColorMatrix hueRotate`` matrix)."""
    cos, sin = math.cos(math.radians(shift_deg)), math.sin(math.radians(shift_deg))
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
            mean_grey = float(LUMA @ (linear @ mean_rgb + offset))
            step, shift = factor * np.eye(3), np.full(3, (1.0 - factor) * mean_grey)
        elif name == "saturation":
            factor = float(params["factor"])
            step, shift = factor * np.eye(3) + (1.0 - factor) * np.outer(np.ones(3), LUMA), np.zeros(3)
        else:
            step, shift = _hue_rotation(float(params["shift_deg"])), np.zeros(3)
        linear, offset = step @ linear, step @ offset + shift
    return np.column_stack([linear, offset]) if found else None


def apply_color(image: Image.Image, operations: Iterable[Mapping[str, Any]]) -> Image.Image:
    """``image`` with its colour operations applied in one pass (unchanged if there are none)."""
    operations = list(operations)
    names = {operation["op"] for operation in operations}
    # Only contrast needs the image's mean colour; the histogram costs a pass.
    mean_rgb = np.array(ImageStat.Stat(image).mean[:3]) if "contrast" in names else np.zeros(3)
    matrix = color_matrix(operations, mean_rgb)
    if matrix is None:
        return image
    lut = _per_channel_lut(matrix)
    if lut is not None:
        return image.point(lut)
    return image.convert("RGB", tuple(float(v) for v in matrix.ravel()))


def _per_channel_lut(matrix: np.ndarray) -> list[int] | None:
    """The 768-entry lookup table equal to ``matrix`` when it mixes no channels (brightness, contrast), else None.

    Pillow's matrix conversion computes ``m @ rgb + t + 0.5`` in float32 and
    truncates into 0..255; the table repeats that arithmetic, so both paths
    give the same pixels, the table ~4x faster.
    """
    linear = matrix[:, :3]
    if np.count_nonzero(linear - np.diag(np.diag(linear))):
        return None
    levels = np.arange(256, dtype=np.float32)
    table: list[int] = []
    for channel in range(3):
        values = levels * np.float32(matrix[channel, channel]) + np.float32(matrix[channel, 3]) + np.float32(0.5)
        table.extend(np.clip(np.floor(values), 0, 255).astype(int).tolist())
    return table


def _apply_kernel(image: Image.Image, kernel: np.ndarray) -> Image.Image:
    """Convolve with a normalised 3x3 kernel (Pillow's filter: edges keep their pixels)."""
    return image.filter(ImageFilter.Kernel((3, 3), [float(v) for v in kernel.ravel()], scale=1.0))


def sharpen(image: Image.Image, factor: float) -> Image.Image:
    """Pillow's ``ImageEnhance.Sharpness(image).enhance(factor)`` as one 3x3 convolution.

    factor < 1 softens, 1 leaves the image as it is, > 1 sharpens.
    """
    return _apply_kernel(image, factor * _IDENTITY_3X3 + (1.0 - factor) * _SMOOTH)


def gaussian_blur(image: Image.Image, sigma_px: float) -> Image.Image:
    """Gaussian blur with standard deviation ``sigma_px`` pixels."""
    if sigma_px <= MAX_KERNEL_BLUR_SIGMA_PX:
        offsets = np.array([-1.0, 0.0, 1.0])
        weights = np.exp(-(offsets**2) / (2.0 * sigma_px**2))
        kernel = np.outer(weights, weights)
        return _apply_kernel(image, kernel / kernel.sum())
    return image.filter(ImageFilter.GaussianBlur(sigma_px))


def add_noise(image: Image.Image, sigma: float, seed: int) -> Image.Image:
    """Add Gaussian noise of standard deviation ``sigma`` (0..255 units), independently per pixel and channel.

    The noise is a pure function of ``seed``. One random byte per sample,
    looked up in a quantile table scaled by ``sigma``, keeps this cheap.
    """
    width, height = image.size
    samples = width * height * 3
    words = np.random.default_rng(seed).bit_generator.random_raw(-(-samples // 8))
    # Little-endian bytes of the 64-bit words: the same noise on any platform, no copy here.
    random_bytes = words.astype("<u8", copy=False).view(np.uint8)[:samples]
    shifted = np.clip(np.rint(_NOISE_OFFSET + sigma * _UNIT_GAUSSIAN_BY_BYTE), 0, 255).astype(np.uint8)
    indices = Image.frombuffer("RGB", (width, height), random_bytes, "raw", "RGB", 0, 1)
    noise = indices.point(shifted.tolist() * 3)
    # add() computes clip(a + b - 128): the table is centred on 128.
    return ImageChops.add(image, noise, scale=1.0, offset=-_NOISE_OFFSET)
