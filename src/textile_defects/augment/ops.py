"""The augmentation operations: their names, order, and one function that applies a drawn list.

An operation record is ``{"op": name, "params": {...}}``, exactly what the
manifest's ``operations`` column stores, so a manifest row is enough to
recompute its image from the original (:func:`apply_operations`).

Records are applied in :data:`OPERATIONS` order, each at most once:
geometry first (one warp), then colour (one matrix), sharpness, blur, and
noise last, so noise is never blurred or recoloured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from textile_defects.augment.geometry import GEOMETRIC_OPS, geometry_matrix, warp_image
from textile_defects.augment.photometric import COLOR_OPS, add_noise, apply_color, gaussian_blur, sharpen

Operation = dict[str, Any]
"""``{"op": str, "params": dict[str, float | int]}``: one applied operation and its drawn parameters."""

OPERATIONS: tuple[str, ...] = (*GEOMETRIC_OPS, *COLOR_OPS, "sharpness", "blur", "noise")
"""Every operation, in the order they are applied (and drawn)."""

def apply_operations(
    pixels: np.ndarray, operations: Sequence[Mapping[str, Any]], interpolation: str = "bilinear"
) -> np.ndarray:
    """The augmented copy of an (H, W, 3) uint8 RGB array (same shape) under the operation records.

    ``pixels`` itself is never modified. Raises ValueError for an unknown or
    repeated operation name.
    """
    names = [operation["op"] for operation in operations]
    unknown = sorted(set(names) - set(OPERATIONS))
    if unknown:
        raise ValueError(f"unknown operation(s) {unknown}; known: {', '.join(OPERATIONS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"each operation may appear once, got {names}")
    params = {operation["op"]: operation["params"] for operation in operations}
    ordered = sorted(operations, key=lambda operation: OPERATIONS.index(operation["op"]))

    if any(name in GEOMETRIC_OPS for name in names):
        height, width = pixels.shape[:2]
        pixels = warp_image(pixels, geometry_matrix(ordered, width, height), interpolation)
    pixels = apply_color(pixels, ordered)
    if "sharpness" in params:
        pixels = sharpen(pixels, float(params["sharpness"]["factor"]))
    if "blur" in params:
        pixels = gaussian_blur(pixels, float(params["blur"]["sigma_px"]))
    if "noise" in params:
        pixels = add_noise(pixels, float(params["noise"]["sigma"]), int(params["noise"]["seed"]))
    return pixels
