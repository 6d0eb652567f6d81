"""The thickness cue: a band's width across its long axis, in knit periods, on fabrics of any stitch size."""

from __future__ import annotations

import numpy as np
import pytest

from textile_defects.gate.regions import Region
from textile_defects.naming.profile import PROFILE_CUES, profile_cues

STRIDE = 16


def knit(period: float, height: int = 720, width: int = 1270, seed: int = 0) -> np.ndarray:
    """A grey knit-like texture: loops every ``period`` px both ways, with sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    return 128 + 40 * np.sin(2 * np.pi * y / period) * np.sin(2 * np.pi * x / period) + rng.normal(0, 5, (height, width))


def with_band(grey: np.ndarray, start: int, thickness: int, span: tuple[int, int], shift: float, vertical: bool) -> tuple[np.ndarray, Region]:
    grey = grey.copy()
    if vertical:
        grey[span[0] : span[1], start : start + thickness] += shift
    else:
        grey[start : start + thickness, span[0] : span[1]] += shift
    frame = np.clip(np.repeat(grey[..., None], 3, axis=2), 0, 255).astype(np.uint8)
    cells = np.zeros((grey.shape[0] // STRIDE, grey.shape[1] // STRIDE + 1), dtype=bool)
    across = slice(start // STRIDE, (start + thickness) // STRIDE + 1)
    along = slice(span[0] // STRIDE, span[1] // STRIDE)
    cells[(along, across) if vertical else (across, along)] = True
    rows, cols = np.nonzero(cells)
    stride = (grey.shape[1] / cells.shape[1], grey.shape[0] / cells.shape[0])
    return frame, Region(cells=cells, peak=(int(rows[0]), int(cols[0])), stride=stride, contrast=5.0)


@pytest.mark.parametrize("period", [7.0, 11.0])
@pytest.mark.parametrize("courses", [1, 2, 4, 6])
def test_thickness_is_counted_in_knit_periods_whatever_the_stitch_size(period: float, courses: int) -> None:
    frame, region = with_band(knit(period), 352, int(round(courses * period)), (200, 1000), -25.0, vertical=False)
    cues = dict(zip(PROFILE_CUES, profile_cues(frame, region), strict=True))
    assert np.exp(cues["log_thickness_periods"]) == pytest.approx(courses, abs=0.5)
    assert cues["signed_contrast"] < -2.0  # darker than the fabric around it, clearly


def test_a_vertical_line_is_measured_across_its_columns_and_a_brighter_one_reads_positive() -> None:
    frame, region = with_band(knit(9.0), 600, 9, (40, 700), +30.0, vertical=True)
    cues = dict(zip(PROFILE_CUES, profile_cues(frame, region), strict=True))
    assert np.exp(cues["log_thickness_periods"]) == pytest.approx(1.0, abs=0.5)
    assert cues["signed_contrast"] > 2.0
