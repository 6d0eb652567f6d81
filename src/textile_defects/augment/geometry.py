"""Geometric operations as one affine map, applied in a single resampling pass.

Coordinates are continuous pixel coordinates, as Pillow uses them: x to the
right, y down, the centre of pixel (row i, column j) at (j + 0.5, i + 0.5).
Flips, rotations and zooms act about the centre of the frame; a rotation by a
positive angle turns the picture counter-clockwise on screen (as
``PIL.Image.rotate``). All of an image's geometric operations compose into one
3x3 matrix, so the picture is resampled once, whatever the number of
operations.

Borders that a rotation, a zoom out or a translation exposes are filled by
reflecting the picture about its edges (never by black bars). Images are
warped by OpenCV (``cv2.warpAffine``, which reflects while it samples, with
no padded copy), masks by Pillow.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import cv2
import numpy as np
from PIL import Image

GEOMETRIC_OPS: tuple[str, ...] = ("hflip", "vflip", "rotate180", "rotate", "zoom", "translate")
"""Geometric operation names, in the order they are applied."""

INTERPOLATIONS: dict[str, int] = {"bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}
"""Resampling choices for rotations, zooms and translations (OpenCV flags)."""

MAX_SIDE_PX = 32767
"""The largest width or height ``cv2.warpAffine`` takes: it samples through 16-bit coordinates."""

# (x sign, y sign) of a pure flip -> cv2.flip's code (None: no flip).
_FLIP_CODES: dict[tuple[int, int], int | None] = {(1, 1): None, (-1, 1): 1, (1, -1): 0, (-1, -1): -1}


def _about_centre(linear: np.ndarray, width: int, height: int) -> np.ndarray:
    """The 3x3 map applying the 2x2 ``linear`` map about the frame's centre."""
    cx, cy = width / 2.0, height / 2.0
    to_centre = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    back = np.array([[1.0, 0.0, cx], [0.0, 1.0, cy], [0.0, 0.0, 1.0]])
    lifted = np.eye(3)
    lifted[:2, :2] = linear
    return back @ lifted @ to_centre


def _op_matrix(name: str, params: Mapping[str, Any], width: int, height: int) -> np.ndarray:
    """The 3x3 forward map of one geometric operation."""
    if name == "hflip":
        return _about_centre(np.diag([-1.0, 1.0]), width, height)
    if name == "vflip":
        return _about_centre(np.diag([1.0, -1.0]), width, height)
    if name == "rotate180":
        return _about_centre(np.diag([-1.0, -1.0]), width, height)
    if name == "rotate":
        theta = math.radians(float(params["angle_deg"]))
        cos, sin = math.cos(theta), math.sin(theta)
        # y points down, so this turns the picture counter-clockwise on screen.
        return _about_centre(np.array([[cos, sin], [-sin, cos]]), width, height)
    if name == "zoom":
        factor = float(params["factor"])
        return _about_centre(np.diag([factor, factor]), width, height)
    if name == "translate":
        shift = np.eye(3)
        shift[0, 2] = float(params["dx"]) * width
        shift[1, 2] = float(params["dy"]) * height
        return shift
    raise ValueError(f"not a geometric operation: {name!r} (known: {', '.join(GEOMETRIC_OPS)})")


def geometry_matrix(operations: Iterable[Mapping[str, Any]], width: int, height: int) -> np.ndarray:
    """The 3x3 forward map (input pixel coordinates -> output) of the geometric operations.

    ``operations`` are records ``{"op": name, "params": {...}}`` in the order
    applied; photometric records are ignored. The identity when there are none.
    """
    matrix = np.eye(3)
    for operation in operations:
        if operation["op"] in GEOMETRIC_OPS:
            matrix = _op_matrix(operation["op"], operation["params"], width, height) @ matrix
    return matrix


def _flip_signs(matrix: np.ndarray, width: int, height: int) -> tuple[int, int] | None:
    """``(sx, sy)`` when ``matrix`` is exactly a flip of the frame (no resampling needed), else None."""
    for sx, sy in _FLIP_CODES:
        if np.allclose(matrix, _about_centre(np.diag([float(sx), float(sy)]), width, height), atol=1e-9):
            return sx, sy
    return None


def _pillow_affine(inverse: np.ndarray) -> tuple[float, ...]:
    """Pillow's AFFINE data (output -> input) of a 3x3 inverse map."""
    return tuple(float(v) for v in inverse[:2].ravel())


def _opencv_inverse(matrix: np.ndarray) -> np.ndarray:
    """The 2x3 output -> input map of ``matrix`` in OpenCV's pixel coordinates (pixel centres on integers)."""
    half = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    return (np.linalg.inv(half) @ np.linalg.inv(matrix) @ half)[:2]


def warp_image(pixels: np.ndarray, matrix: np.ndarray, interpolation: str = "bilinear") -> np.ndarray:
    """Apply the forward map ``matrix`` to an (H, W, 3) uint8 image: same size, reflection-filled borders.

    ``interpolation`` is "bilinear" or "nearest". A pure flip (or none) is an
    exact pixel move, with no resampling. Borders are mirrored about the
    frame's edges, edge pixels repeated (NumPy's "symmetric" padding), as
    often as a strong zoom out needs.
    """
    height, width = pixels.shape[:2]
    signs = _flip_signs(matrix, width, height)
    if signs is not None:
        code = _FLIP_CODES[signs]
        return pixels.copy() if code is None else cv2.flip(pixels, code)
    return cv2.warpAffine(
        pixels,
        _opencv_inverse(matrix),
        (width, height),
        flags=INTERPOLATIONS[interpolation] | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )


def warp_mask(mask: Image.Image, operations: Iterable[Mapping[str, Any]], margin_px: int = 0) -> Image.Image:
    """Apply the geometric operations of ``operations`` to a defect mask ("L", 255 = defect).

    Nearest-neighbour, so the mask stays binary. Borders are filled with 0,
    not reflected: reflected pixels mirror the defect, they are not the
    defect itself, so the warped mask holds exactly what of it stays in frame.

    With ``margin_px`` > 0 the result is a canvas ``margin_px`` larger on
    every side, the frame at its centre warped exactly as without a margin:
    what the operations push out of the frame lands in the margin, so the
    share kept in frame can be measured with the same sampling.
    """
    width, height = mask.size
    shift = np.array([[1.0, 0.0, margin_px], [0.0, 1.0, margin_px], [0.0, 0.0, 1.0]])
    canvas_matrix = shift @ geometry_matrix(operations, width, height) @ np.linalg.inv(shift)
    canvas = mask
    if margin_px:
        canvas = Image.new("L", (width + 2 * margin_px, height + 2 * margin_px), 0)
        canvas.paste(mask, (margin_px, margin_px))
    return canvas.transform(
        canvas.size,
        Image.Transform.AFFINE,
        _pillow_affine(np.linalg.inv(canvas_matrix)),
        resample=Image.Resampling.NEAREST,
        fillcolor=0,
    )


def fraction_in_frame(points_xy: np.ndarray, matrix: np.ndarray, width: int, height: int) -> float:
    """Share of ``points_xy`` ((N, 2) input coordinates) that ``matrix`` maps inside the frame."""
    homogeneous = np.column_stack([points_xy, np.ones(len(points_xy))])
    mapped = homogeneous @ matrix.T
    inside = (mapped[:, 0] >= 0) & (mapped[:, 0] <= width) & (mapped[:, 1] >= 0) & (mapped[:, 1] <= height)
    return float(inside.mean())

