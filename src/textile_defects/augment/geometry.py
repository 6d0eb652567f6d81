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
resampled by OpenCV (``cv2.remap``, which reflects while it samples, with no
padded copy), masks by Pillow.

The same bytes on every CPU: matrices are multiplied and inverted here in a
fixed order (``@`` and ``np.linalg`` go to BLAS, whose kernels differ per
CPU), and the sampling positions are computed here and rounded to OpenCV's
1/32 px grid before ``cv2.remap`` sees them. ``cv2.warpAffine`` computes
them itself, in float code that OpenCV picks by CPU (AVX2 with fused
multiply-adds, or SSE without): on one rotation 711 of 914,400 bilinear and
44 nearest-neighbour values came out different with AVX2 off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import cv2
import numpy as np
from PIL import Image

from textile_defects.utils import stable_math

GEOMETRIC_OPS: tuple[str, ...] = ("hflip", "vflip", "rotate180", "rotate", "zoom", "translate")
"""Geometric operation names, in the order they are applied."""

INTERPOLATIONS: dict[str, int] = {"bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}
"""Resampling choices for rotations, zooms and translations (OpenCV flags)."""

MAX_SIDE_PX = 32767
"""The largest width or height the warp takes: ``cv2.remap`` samples through 16-bit coordinates."""

_SUBPIXEL_STEPS = 32
"""Sampling positions per pixel (OpenCV's INTER_TAB_SIZE): bilinear weights come from this grid."""

# (x sign, y sign) of a pure flip -> cv2.flip's code (None: no flip).
_FLIP_CODES: dict[tuple[int, int], int | None] = {(1, 1): None, (-1, 1): 1, (1, -1): 0, (-1, -1): -1}


def _about_centre(linear: np.ndarray, width: int, height: int) -> np.ndarray:
    """The 3x3 map applying the 2x2 ``linear`` map about the frame's centre."""
    cx, cy = width / 2.0, height / 2.0
    to_centre = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    back = np.array([[1.0, 0.0, cx], [0.0, 1.0, cy], [0.0, 0.0, 1.0]])
    lifted = np.eye(3)
    lifted[:2, :2] = linear
    return stable_math.matmul(back, stable_math.matmul(lifted, to_centre))


def _op_matrix(name: str, params: Mapping[str, Any], width: int, height: int) -> np.ndarray:
    """The 3x3 forward map of one geometric operation."""
    if name == "hflip":
        return _about_centre(np.diag([-1.0, 1.0]), width, height)
    if name == "vflip":
        return _about_centre(np.diag([1.0, -1.0]), width, height)
    if name == "rotate180":
        return _about_centre(np.diag([-1.0, -1.0]), width, height)
    if name == "rotate":
        sin, cos = (float(v) for v in stable_math.sin_cos(np.radians(float(params["angle_deg"]))))
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
            matrix = stable_math.matmul(_op_matrix(operation["op"], operation["params"], width, height), matrix)
    return matrix


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 3x3 affine map (last row 0, 0, 1), in closed form."""
    (a, b, c), (d, e, f) = matrix[0], matrix[1]
    det = a * e - b * d
    return np.array(
        [[e / det, -b / det, (b * f - c * e) / det], [-d / det, a / det, (c * d - a * f) / det], [0.0, 0.0, 1.0]]
    )


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
    return stable_math.matmul(invert_affine(half), stable_math.matmul(invert_affine(matrix), half))[:2]


def _sampling_maps(
    inverse: np.ndarray, width: int, height: int, interpolation: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """``cv2.remap``'s fixed-point maps for the 2x3 output -> input map ``inverse``.

    ``map1`` holds the whole source pixel (x, y) as int16. Nearest takes the
    pixel whose centre is closest and needs no ``map2``. Bilinear rounds the
    position to 1/:data:`_SUBPIXEL_STEPS` px, as OpenCV's own warp does, and
    ``map2`` holds the sub-pixel cell ``32 * y_step + x_step``.
    """
    columns = np.arange(width, dtype=np.float64)[None, :]
    rows = np.arange(height, dtype=np.float64)[:, None]
    # float64 along one row and one column, float32 over the image (1/8000 px
    # at 32767 px: ample for a 1/32 px grid); beyond +-2**20 px nothing changes,
    # cv2.remap saturates at the int16 range anyway.
    positions = [
        ((m0 * columns + m2).astype(np.float32) + (m1 * rows).astype(np.float32)).clip(-(2.0**20), 2.0**20)
        for m0, m1, m2 in inverse
    ]
    if interpolation == "nearest":
        whole = np.stack([np.floor(position + np.float32(0.5)) for position in positions], axis=-1)
        return whole.clip(-(2**15), 2**15 - 1).astype(np.int16), None
    x_steps, y_steps = (np.rint(position * np.float32(_SUBPIXEL_STEPS)).astype(np.int32) for position in positions)
    shift = _SUBPIXEL_STEPS.bit_length() - 1
    whole = np.stack([x_steps >> shift, y_steps >> shift], axis=-1).clip(-(2**15), 2**15 - 1).astype(np.int16)
    cells = ((y_steps & (_SUBPIXEL_STEPS - 1)) * _SUBPIXEL_STEPS + (x_steps & (_SUBPIXEL_STEPS - 1))).astype(np.uint16)
    return whole, cells


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
    whole, cells = _sampling_maps(_opencv_inverse(matrix), width, height, interpolation)
    return cv2.remap(pixels, whole, cells, INTERPOLATIONS[interpolation], borderMode=cv2.BORDER_REFLECT)


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
    warp = geometry_matrix(operations, width, height)
    canvas_matrix = stable_math.matmul(shift, stable_math.matmul(warp, invert_affine(shift)))
    canvas = mask
    if margin_px:
        canvas = Image.new("L", (width + 2 * margin_px, height + 2 * margin_px), 0)
        canvas.paste(mask, (margin_px, margin_px))
    return canvas.transform(
        canvas.size,
        Image.Transform.AFFINE,
        _pillow_affine(invert_affine(canvas_matrix)),
        resample=Image.Resampling.NEAREST,
        fillcolor=0,
    )


def fraction_in_frame(points_xy: np.ndarray, matrix: np.ndarray, width: int, height: int) -> float:
    """Share of ``points_xy`` ((N, 2) input coordinates) that ``matrix`` maps inside the frame."""
    x, y = points_xy[:, 0], points_xy[:, 1]
    mapped_x = (matrix[0, 0] * x + matrix[0, 1] * y) + matrix[0, 2]
    mapped_y = (matrix[1, 0] * x + matrix[1, 1] * y) + matrix[1, 2]
    inside = (mapped_x >= 0) & (mapped_x <= width) & (mapped_y >= 0) & (mapped_y <= height)
    return float(inside.mean())

