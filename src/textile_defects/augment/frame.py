"""Do the geometric ranges keep defects in the picture? A worst-case check.

Masks are not available when augmenting a user's photos, so the check runs
on reference defects placed as in the built-in sample (and as in the
report's photos): lines that run through the whole frame near its edges
(needle, twoply) and small defects away from the edges (hole). Each is
pushed through every corner of the parameter box (largest rotation, zoom and
translation at once, in every direction); a range is flagged when some
corner leaves less than :data:`MIN_IN_FRAME` of a reference defect inside
the frame.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from textile_defects.augment.geometry import fraction_in_frame, geometry_matrix

MIN_IN_FRAME = 0.9
"""Share of a defect that must stay in frame (area for masks, length for lines)."""

FRAME_WIDTH, FRAME_HEIGHT = 1270, 720
"""The report's photo size: rotations move corners by an amount that depends on the aspect ratio."""

GEOMETRY_RANGES: tuple[str, ...] = ("rotation_deg", "zoom", "translate")
"""The range settings the check covers."""

_NEUTRAL: dict[str, tuple[float, float]] = {"rotation_deg": (0.0, 0.0), "zoom": (1.0, 1.0), "translate": (0.0, 0.0)}
_POINTS_PER_LINE = 721


@dataclass(frozen=True)
class ReferenceDefect:
    """A defect shape in frame fractions: the segment from ``start`` to ``end`` (a point if equal)."""

    name: str
    start: tuple[float, float]
    end: tuple[float, float]

    def points(self, width: int, height: int) -> np.ndarray:
        """``(N, 2)`` pixel coordinates sampled along the shape."""
        t = np.linspace(0.0, 1.0, _POINTS_PER_LINE)[:, None]
        start = np.array([self.start[0] * width, self.start[1] * height])
        end = np.array([self.end[0] * width, self.end[1] * height])
        return start + t * (end - start)


# The built-in sample places needles 8-92% across, twoply bands 15-85% down,
# holes 15-85% across and 20-80% down; the extremes are the worst cases.
REFERENCE_DEFECTS: tuple[ReferenceDefect, ...] = (
    ReferenceDefect("a needle line through the full height, 8% from a side edge", (0.08, 0.0), (0.08, 1.0)),
    ReferenceDefect("a twoply band across the full width, 15% from the top", (0.0, 0.15), (1.0, 0.15)),
    ReferenceDefect("a hole 15% from a side edge and 20% from the top", (0.15, 0.2), (0.15, 0.2)),
)


def _corner_cases(ranges: Mapping[str, Sequence[float]]) -> list[list[dict[str, object]]]:
    """Geometric operation lists at every corner of the rotation/zoom/translation box."""
    rotations, zooms, shifts = (sorted(set(ranges[key])) for key in GEOMETRY_RANGES)
    return [
        [
            {"op": "rotate", "params": {"angle_deg": angle}},
            {"op": "zoom", "params": {"factor": factor}},
            {"op": "translate", "params": {"dx": dx, "dy": dy}},
        ]
        for angle, factor, dx, dy in itertools.product(rotations, zooms, shifts, shifts)
    ]


def worst_in_frame(ranges: Mapping[str, Sequence[float]]) -> tuple[float, str]:
    """The smallest share of a reference defect left in frame, and which defect that is.

    ``ranges`` maps ``rotation_deg``, ``zoom`` and ``translate`` to ``[low, high]``.
    By the frame's symmetry the mirrored placements (right edge, bottom)
    are covered by the signed corners of the box.
    """
    worst, worst_name = 1.0, ""
    for operations in _corner_cases(ranges):
        matrix = geometry_matrix(operations, FRAME_WIDTH, FRAME_HEIGHT)
        for defect in REFERENCE_DEFECTS:
            share = fraction_in_frame(defect.points(FRAME_WIDTH, FRAME_HEIGHT), matrix, FRAME_WIDTH, FRAME_HEIGHT)
            if share < worst:
                worst, worst_name = share, defect.name
    return worst, worst_name


def frame_problems(ranges: Mapping[str, Sequence[float]], section: str) -> list[str]:
    """Messages naming each geometric range that can push a defect out of the frame.

    A setting that is too wide on its own is named alone; when only the
    combination is, all of the geometric settings are named together.
    Empty when the ranges are safe.
    """
    worst, defect = worst_in_frame(ranges)
    if worst >= MIN_IN_FRAME:
        return []
    problems = []
    for key in GEOMETRY_RANGES:
        alone = {**_NEUTRAL, key: ranges[key]}
        share, alone_defect = worst_in_frame(alone)
        if share < MIN_IN_FRAME:
            problems.append(
                f"{section}.ranges.{key}={list(ranges[key])} can push a defect out of the frame on its own: "
                f"{alone_defect} keeps only {share:.0%} in frame (need {MIN_IN_FRAME:.0%}); narrow this range."
            )
    if not problems:
        named = ", ".join(f"{section}.ranges.{key}={list(ranges[key])}" for key in GEOMETRY_RANGES)
        problems.append(
            f"{named} together can push a defect out of the frame: at their extremes {defect} keeps only "
            f"{worst:.0%} in frame (need {MIN_IN_FRAME:.0%}); narrow one of them."
        )
    return problems
