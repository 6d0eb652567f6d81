"""Defects stay in the picture: the sample's ground-truth masks under the report's augmentation policy.

Each defect mask is warped with exactly the geometry its augmented copies
get (the same draws as the stage) and must keep at least 90% of its area
inside the frame. The committed sets' own draws are checked in
``tests/pipeline/test_augment_defaults.py``.
"""

from __future__ import annotations

import dataclasses

import pytest
from PIL import Image

from textile_defects.augment.frame import MIN_IN_FRAME
from textile_defects.augment.writer import copy_operations

from tests.helpers import augment
from tests.helpers.augment import sample_defect_masks, share_in_frame

DEFECT_COUNTS = {"hole": 2, "lycra_cut": 2, "needle": 5, "twoply": 3}
"""The report's defect photos."""
SAMPLE_SEED = 20240611


@pytest.fixture(scope="module")
def defect_masks() -> dict[str, tuple[str, Image.Image]]:
    return sample_defect_masks(DEFECT_COUNTS, SAMPLE_SEED)


def test_defects_stay_in_frame_when_every_geometric_operation_applies(defect_masks) -> None:
    """Rotation, zoom and shift all at once, many times, over the report's ranges."""
    settings = augment.settings("augment_train")
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
