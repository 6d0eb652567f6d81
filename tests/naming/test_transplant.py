"""Transplanted defects: only training photos go in, the paste lands inside the frame, the seam is blended."""

from __future__ import annotations

import numpy as np
import pytest

from textile_defects.gate.regions import Region
from textile_defects.naming.profile import knit_period
from textile_defects.naming.transplant import (
    TransplantSettings,
    composite_sheet,
    plan_composites,
    segment,
    transplant,
)
from tests.helpers.gate import knit_texture

SETTINGS = TransplantSettings(
    seed=1, composites_per_class={"hole": 4, "lycra_cut": 3}, segment_probability={"lycra_cut": 1.0},
    segment_fraction=(0.3, 0.6), margin_px=2, align_px=3,
)  # fmt: skip


def _rgb(seed: int, width: int = 192, height: int = 112) -> np.ndarray:
    return knit_texture(seed, width, height)


def _region(rows: slice, cols: slice, shape: tuple[int, int] = (7, 12)) -> Region:
    cells = np.zeros(shape, dtype=bool)
    cells[rows, cols] = True
    return Region(cells=cells, peak=(rows.start, cols.start), stride=(16.0, 16.0), contrast=5.0)


def test_the_plan_uses_only_the_training_photos_it_is_given() -> None:
    fold_train = {"hole": ["h1"], "lycra_cut": ["l1", "l2"]}
    backgrounds = ["g1", "g2", "g3"]
    plan = plan_composites(fold_train, backgrounds, SETTINGS)
    assert [label for _, label, _, _ in plan] == ["hole"] * 4 + ["lycra_cut"] * 3
    # No composite of a fold may carry a scored photo's region or background: only these ids appear.
    assert {source for _, _, source, _ in plan} <= {"h1", "l1", "l2"} and {b for *_, b in plan} <= set(backgrounds)
    assert plan == plan_composites(fold_train, backgrounds, SETTINGS), "a pure function of its inputs"
    periods = {"h1": (8.0, 12.0), "l1": (8.0, 12.0), "l2": (8.0, 12.0), "g1": (8.0, 12.0), "g2": (16.0, 12.0), "g3": (8.2, 12.0)}
    matched = plan_composites(fold_train, backgrounds, SETTINGS, periods, nearest=2)
    assert {b for *_, b in matched} <= {"g1", "g3"}, "backgrounds of the source's stitch size only"
    with pytest.raises(ValueError, match="no training photo of it"):
        plan_composites({"hole": []}, backgrounds, SETTINGS)


def test_a_composite_carries_the_defect_into_the_background_and_only_there() -> None:
    source, background = _rgb(1), _rgb(2)
    source[40:56, 80:100] = 20  # a dark hole, 16 x 20 px, in cells (2-3, 5-6)
    composite = transplant(source, _region(slice(2, 4), slice(5, 7)), background, label="hole", settings=SETTINGS, index=0)
    assert composite.pixels.shape == background.shape and composite.pixels.dtype == np.uint8
    inside = composite.mask > 0
    assert inside.any() and not inside[0].any() and not inside[-1].any()
    outside = ~np.pad(inside, 8)[8:-8, 8:-8]
    far = np.ones_like(inside)
    ys, xs = np.nonzero(inside)
    far[max(0, ys.min() - 12) : ys.max() + 12, max(0, xs.min() - 12) : xs.max() + 12] = False
    assert np.array_equal(composite.pixels[far], background[far]), "away from the paste the background is untouched"
    # Poisson blending keeps the hole's gradients: its dark core stands out of the new fabric.
    assert np.percentile(composite.pixels[inside], 5) < np.percentile(background[inside], 5) - 30, "the hole went in"
    assert outside.any() and set(composite.record) == {"segment_fraction", "shift", "box"}


def test_a_segment_keeps_a_stretch_along_the_long_axis() -> None:
    mask = np.zeros((50, 200), dtype=np.uint8)
    mask[20:24, 10:190] = 255
    part = segment(mask, 0.5, np.random.default_rng(0))
    ys, xs = np.nonzero(part)
    assert 85 <= xs.max() - xs.min() + 1 <= 95 and set(ys) <= set(range(20, 24))


def test_the_knit_period_is_read_from_the_fabric() -> None:
    px, _ = knit_period(_rgb(3, 384, 224))  # knit_texture repeats every 6 px across
    assert px == pytest.approx(6.0, abs=0.5)


def test_the_sheet_draws_every_composite() -> None:
    tiles = [(_rgb(k), np.zeros((112, 192), np.uint8), f"tile {k}") for k in range(5)]
    sheet = composite_sheet(tiles, columns=3, thumb_width=96)
    assert sheet.shape == (2 * (56 + 14), 3 * 96, 3)
