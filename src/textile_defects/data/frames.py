"""One camera frame read once, checked as ingest checks a photo, and prepared for every model that reads it.

predict judges a frame with two models at two sizes (the classifier at its
``image_size``, the gate at the full frame): the file is decoded once
(:func:`~textile_defects.data.images.read_checked`, ingest's own checks:
format, truncation, decompression bombs, colour modes) and the upright pixels
resized once per size (:func:`~textile_defects.data.images.resize_rgb`, the
last step of the preprocessing every stage shares), so each model sees exactly
the pixels :func:`~textile_defects.data.images.prepare_image` would give it.

A frame ingest would refuse (a 12x12 file, a GIF named .jpg, a cut-off PNG)
is not judged: :func:`read_frame` returns why, in ingest's words, with the
kind of problem, so predict writes it in the row's error column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textile_defects.data.images import ImageProblem, read_checked, resize_rgb

DEFAULT_MIN_FRAME_SIZE: tuple[int, int] = (224, 224)
"""Ingest's smallest photo by default (params.yaml ``ingest.min_width``, ``min_height``; a test keeps them equal):
what predict applies when neither ``--min-size`` nor an engine file's record of the pipeline's own says otherwise."""

TRUNCATED = "truncated"
"""The problem kind of a file that ends early: also what a file still being written looks like."""


@dataclass(frozen=True)
class FrameProblem:
    """Why a frame is not judged: ``kind`` (ingest's problem names, plus ``too_small``) and the message."""

    path: Path
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}: {self.message}"


@dataclass(frozen=True)
class Frame:
    """A readable frame: its (H, W, 3) uint8 pixels at each requested (W, H) size, and its size as stored (upright)."""

    path: Path
    pixels: dict[tuple[int, int], np.ndarray]
    width: int
    height: int
    notes: tuple[str, ...] = ()


def too_small(width: int, height: int, min_size: tuple[int, int]) -> str | None:
    """Ingest's size rule: the message when an upright ``width`` x ``height`` photo is below ``min_size`` = (W, H)."""
    min_width, min_height = min_size
    if width < min_width or height < min_height:
        return f"is {width}x{height} px, below the minimum {min_width}x{min_height} (ingest.min_width x ingest.min_height)"
    return None


def read_frame(path: str | Path, sizes: Sequence[tuple[int, int]], min_size: tuple[int, int]) -> Frame | FrameProblem:
    """Decode ``path`` once with ingest's checks and prepare it at each of ``sizes``; or say why not.

    ``min_size`` is ingest's smallest accepted (W, H), measured upright. Never raises for
    a bad file: unreadable, foreign, truncated and too small files come back as a :class:`FrameProblem`.
    """
    source = Path(path)
    try:
        checked = read_checked(source)
    except ImageProblem as problem:
        return FrameProblem(source, problem.kind, f"{problem.message}; {problem.action}")
    width, height = checked.rgb.size
    small = too_small(width, height, min_size)
    if small is not None:
        return FrameProblem(source, "too_small", small)
    pixels = {tuple(size): resize_rgb(checked.rgb, tuple(size)) for size in dict.fromkeys(tuple(s) for s in sizes)}
    return Frame(source, pixels, width, height, checked.notes)  # type: ignore[arg-type]
