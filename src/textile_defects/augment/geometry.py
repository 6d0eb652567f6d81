"""Geometric operations as one affine map, applied in a single resampling pass.

Coordinates are continuous pixel coordinates, as Pillow uses them: x to the
right, y down, the centre of pixel (row i, column j) at (j + 0.5, i + 0.5).
Flips, rotations and zooms act about the centre of the frame; a rotation by a
positive angle turns the picture counter-clockwise on screen (as
``PIL.Image.rotate``). All of an image's geometric operations compose into one
3x3 matrix, so the picture is resampled once, whatever the number of
operations.

Borders that a rotation, a zoom out or a translation exposes are filled by
reflecting the picture about its edges (never by black bars): the source is
reflect-padded by just enough before the warp.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from PIL import Image

GEOMETRIC_OPS: tuple[str, ...] = ("hflip", "vflip", "rotate180", "rotate", "zoom", "translate")
"""Geometric operation names, in the order they are applied."""

# Bilinear sampling reads one pixel beyond the sampled position; one more
# guards against rounding of the corner coordinates.
_BILINEAR_GUARD_PX = 2

_FLIP_TRANSPOSES: dict[tuple[int, int], Image.Transpose | None] = {
    (1, 1): None,
    (-1, 1): Image.Transpose.FLIP_LEFT_RIGHT,
    (1, -1): Image.Transpose.FLIP_TOP_BOTTOM,
    (-1, -1): Image.Transpose.ROTATE_180,
}


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
    for (sx, sy), _ in _FLIP_TRANSPOSES.items():
        if np.allclose(matrix, _about_centre(np.diag([float(sx), float(sy)]), width, height), atol=1e-9):
            return sx, sy
    return None


def _pillow_affine(inverse: np.ndarray, offset_x: float = 0.0, offset_y: float = 0.0) -> tuple[float, ...]:
    """Pillow's AFFINE data (output -> input), with the input shifted by an offset (padding)."""
    a, b, c = inverse[0]
    d, e, f = inverse[1]
    return (float(a), float(b), float(c + offset_x), float(d), float(e), float(f + offset_y))


def _reflect_padding(inverse: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """Pixels ``(left, top, right, bottom)`` the source needs so that every sample lands inside it."""
    corners = np.array([[0.0, 0.0, 1.0], [width, 0.0, 1.0], [0.0, height, 1.0], [width, height, 1.0]]).T
    source = inverse @ corners
    min_x, max_x = source[0].min(), source[0].max()
    min_y, max_y = source[1].min(), source[1].max()

    def need(overshoot: float) -> int:
        return 0 if overshoot <= 0 else math.ceil(overshoot) + _BILINEAR_GUARD_PX

    return need(-min_x), need(-min_y), need(max_x - width), need(max_y - height)


def reflect_pad(image: Image.Image, left: int, top: int, right: int, bottom: int) -> Image.Image:
    """``image`` grown by the given pixels on each side, mirrored about its edges (edge pixels repeated).

    Mirroring about the edge line is the reflection of the continuous picture
    in pixel-centre coordinates (NumPy's "symmetric" padding).
    """
    if not (left or top or right or bottom):
        return image
    width, height = image.size
    if max(left, right) > width or max(top, bottom) > height:
        # Wider than one reflection (a strong zoom out): NumPy repeats the mirror as often as needed.
        padded = np.pad(np.asarray(image), ((top, bottom), (left, right), (0, 0)), mode="symmetric")
        return Image.fromarray(padded)
    # One reflection: mirrored strips pasted around a copy, ~3x cheaper than the NumPy round trip.
    canvas = Image.new(image.mode, (left + width + right, top + height + bottom))
    canvas.paste(image, (left, top))
    if left:
        canvas.paste(image.crop((0, 0, left, height)).transpose(Image.Transpose.FLIP_LEFT_RIGHT), (0, top))
    if right:
        strip = image.crop((width - right, 0, width, height)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        canvas.paste(strip, (left + width, top))
    if top:
        strip = canvas.crop((0, top, canvas.width, 2 * top)).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        canvas.paste(strip, (0, 0))
    if bottom:
        strip = canvas.crop((0, top + height - bottom, canvas.width, top + height))
        canvas.paste(strip.transpose(Image.Transpose.FLIP_TOP_BOTTOM), (0, top + height))
    return canvas


def warp_image(
    image: Image.Image, matrix: np.ndarray, resample: Image.Resampling = Image.Resampling.BILINEAR
) -> Image.Image:
    """Apply the forward map ``matrix`` to an RGB image: same size, reflection-filled borders.

    ``resample`` is BILINEAR or NEAREST. A pure flip (or none) is an exact
    pixel transpose, with no resampling.
    """
    width, height = image.size
    signs = _flip_signs(matrix, width, height)
    if signs is not None:
        transpose = _FLIP_TRANSPOSES[signs]
        return image.copy() if transpose is None else image.transpose(transpose)
    inverse = np.linalg.inv(matrix)
    left, top, right, bottom = _reflect_padding(inverse, width, height)
    source = reflect_pad(image, left, top, right, bottom)
    data = _pillow_affine(inverse, float(left), float(top))
    return source.transform((width, height), Image.Transform.AFFINE, data, resample=resample)


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

