"""Defects stay in the picture: the sample's ground-truth masks under the default augmentation.

Each defect mask is warped with exactly the geometry its augmented copies
get (the same draws as the stage) and must keep at least 90% of its area
inside the frame. Masks are made at a fifth of the report's size; the
ranges are fractions of the frame, so the geometry is the same.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from textile_defects.augment.frame import MIN_IN_FRAME
from textile_defects.augment.geometry import warp_mask
from textile_defects.augment.ops import Operation
from textile_defects.augment.settings import load_settings
from textile_defects.augment.writer import copy_operations
from textile_defects.data.ingest import assign_original_ids
from textile_defects.data.sample import image_name, make_image

PARAMS = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text(encoding="utf-8"))
WIDTH, HEIGHT = 254, 144
SECTIONS = ("augment_train", "augment_val", "augment_test")


def share_in_frame(mask: Image.Image, operations: list[Operation]) -> float:
    """Share of the warped defect that lies inside the frame.

    The mask is warped onto a canvas wide enough to hold all of it, so the
    part inside the frame and the whole come from the same sampling.
    """
    margin = max(mask.size) // 2  # far more than any range here moves a pixel
    warped = np.asarray(warp_mask(mask, operations, margin_px=margin)) > 0
    inside = warped[margin:-margin, margin:-margin]
    return np.count_nonzero(inside) / np.count_nonzero(warped)


@pytest.fixture(scope="module")
def defect_masks() -> dict[str, tuple[str, Image.Image]]:
    """original_id (as ingest names the sample files) -> (label, mask), for every defect photo of the sample."""
    masks = {}
    for label, count in PARAMS["sample"]["counts"].items():
        if label == PARAMS["good_class"]:
            continue
        for index in range(count):
            _, mask = make_image(label, index, PARAMS["sample"]["seed"], WIDTH, HEIGHT)
            assert mask is not None
            source_file = f"{label}/{image_name(label, index)}"
            original_id = assign_original_ids(label, [source_file])[source_file]
            masks[original_id] = (label, mask)
    return masks


@pytest.mark.parametrize("section", SECTIONS)
def test_every_default_augmented_defect_keeps_90_percent_in_frame(section: str, defect_masks) -> None:
    settings = load_settings(PARAMS, section, PARAMS["classes"])
    checked = 0
    for original_id, (label, mask) in defect_masks.items():
        for copy_index in range(settings.copies_per_original[label]):
            operations = copy_operations(settings, label, original_id, copy_index)
            share = share_in_frame(mask, operations)
            assert share >= MIN_IN_FRAME, f"{section} {original_id} copy {copy_index}: {share:.1%} in frame, {operations}"
            checked += 1
    assert checked >= 12


def test_defects_stay_in_frame_when_every_geometric_operation_applies(defect_masks) -> None:
    """Beyond the default draws: rotation, zoom and shift all at once, many times, over the default ranges."""
    settings = load_settings(PARAMS, "augment_train", PARAMS["classes"])
    always = {
        label: row | {"rotate": 1.0, "zoom": 1.0, "translate": 1.0} for label, row in settings.policy.probabilities.items()
    }
    policy = dataclasses.replace(settings.policy, probabilities=always)
    stressed = dataclasses.replace(settings, policy=policy, keep_original=False)
    worst = 1.0
    for original_id, (label, mask) in defect_masks.items():
        for copy_index in range(60):
            worst = min(worst, share_in_frame(mask, copy_operations(stressed, label, f"{original_id}-stress", copy_index)))
    assert worst >= MIN_IN_FRAME


def test_the_check_would_catch_a_range_that_loses_defects(defect_masks) -> None:
    """The same measure fails for a rotation the warning also flags."""
    label, needle = next(value for value in defect_masks.values() if value[0] == "needle")
    shares = [share_in_frame(needle, [{"op": "rotate", "params": {"angle_deg": angle}}]) for angle in (-20.0, 20.0)]
    assert min(shares) < MIN_IN_FRAME
