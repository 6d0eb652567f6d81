"""Where the gate looks: masks read for defect photos only, checked against their photo, and the figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from textile_defects.errors import DataError
from textile_defects.gate.localisation import find_mask, interior_map, localisation_figures, read_masks

from tests.helpers.gate import write_png


def _row(label: str, name: str, width: int = 40, height: int = 20) -> dict[str, str]:
    return {"label": label, "source_file": f"{label}/{name}.png", "width": str(width), "height": str(height)}


def test_masks_are_read_for_defect_photos_that_have_one(tmp_path: Path) -> None:
    mask = np.zeros((20, 40, 3), dtype=np.uint8)
    mask[5:10, 30:35] = 255
    write_png(tmp_path / "hole" / "a.png", mask)
    write_png(tmp_path / "non_defect" / "g.png", mask)  # a good photo's "mask" is never read
    rows = {"a": _row("hole", "a"), "b": _row("hole", "b"), "g": _row("non_defect", "g")}
    masks = read_masks(tmp_path, rows, "non_defect")
    assert set(masks) == {"a"} and masks["a"].shape == (20, 40) and masks["a"][7, 32] == 255


def test_a_png_mask_of_a_jpeg_photo_is_found_by_its_name(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    mask = np.zeros((20, 40, 3), dtype=np.uint8)
    mask[2:4, 2:4] = 255
    write_png(tmp_path / "hole" / "a.png", mask)
    write_png(tmp_path / "needle" / "n.PNG", mask)  # any letter case
    rows = {
        "a": {**_row("hole", "a"), "source_file": "hole/a.JPG"},
        "n": {**_row("needle", "n"), "source_file": "needle/n.jpeg"},
    }
    assert set(read_masks(tmp_path, rows, "non_defect")) == {"a", "n"}
    assert find_mask(tmp_path, "hole/a.jpg") == tmp_path / "hole" / "a.png"
    assert find_mask(tmp_path, "hole/ab.jpg") is None and "No defect mask" not in caplog.text


def test_no_matching_mask_at_all_warns_with_the_expected_names(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_png(tmp_path / "masks_elsewhere" / "a.png", np.zeros((20, 40, 3), dtype=np.uint8))
    with caplog.at_level("WARNING"):
        masks = read_masks(tmp_path, {"a": _row("hole", "a"), "g": _row("non_defect", "g")}, "non_defect")
    assert masks == {}
    assert "No defect mask found" in caplog.text and str(tmp_path / "hole" / "a.png") in caplog.text


def test_a_mask_of_another_size_than_its_photo_is_refused(tmp_path: Path) -> None:
    write_png(tmp_path / "hole" / "a.png", np.zeros((10, 40, 3), dtype=np.uint8))
    with pytest.raises(DataError, match=r"hole/a.png: mask is 40x10, its photo hole/a.png is 40x20"):
        read_masks(tmp_path, {"a": _row("hole", "a")}, "non_defect")


def test_localisation_counts_masked_photos_and_scores_every_pixel() -> None:
    mask = np.zeros((20, 40), dtype=np.uint8)
    mask[0:10, 20:40] = 255  # the top-right quarter
    on, off = np.zeros((2, 4)), np.zeros((2, 4))
    on[0, 3], off[1, 0] = 5.0, 5.0  # peaks: top-right patch (inside), bottom-left (outside)
    maps = {"on": on, "off": off, "good": np.zeros((2, 4))}
    figures = localisation_figures(maps, {"on": mask, "off": mask}, ["good", "off", "on"], 0, 0.95)
    assert (figures["peak_in_mask"]["successes"], figures["peak_in_mask"]["trials"]) == (1, 2)
    assert figures["per_original"] == {"off": False, "on": True}
    assert 0.0 <= figures["pixel_auroc"] <= 1.0
    assert localisation_figures(maps, {}, ["good"], 0, 0.95) is None


def test_localisation_looks_where_the_score_looks_not_at_the_hot_frame_edge() -> None:
    mask = np.zeros((40, 80), dtype=np.uint8)
    mask[10:20, 40:60] = 255
    patch_map = np.zeros((4, 8))
    patch_map[1, 5] = 3.0  # on the defect
    patch_map[0, 0] = 9.0  # a hot corner (zero padding), in the ring the image score leaves out
    assert interior_map(patch_map, 1)[0, 0] == 0.0 and interior_map(patch_map, 0)[0, 0] == 9.0
    with_ring = localisation_figures({"d": patch_map}, {"d": mask}, ["d"], 0, 0.95, border_patches=0)
    without = localisation_figures({"d": patch_map}, {"d": mask}, ["d"], 0, 0.95, border_patches=1)
    assert with_ring["per_original"] == {"d": False} and without["per_original"] == {"d": True}
    with pytest.raises(ValueError, match="no interior"):
        interior_map(np.zeros((2, 8)), 1)
