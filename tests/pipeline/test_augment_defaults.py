"""The committed augment defaults in params.yaml: they parse, keep defects in frame, follow Step 5.

These tests read params.yaml on purpose: they check the file, not the code.
"""

from __future__ import annotations

import logging

import pytest
import yaml

from textile_defects.augment.counts import balanced_copies
from textile_defects.augment.frame import MIN_IN_FRAME
from textile_defects.augment.settings import POLICY_SECTION, load_settings
from textile_defects.augment.writer import copy_operations

from tests.helpers.augment import POLICY, sample_defect_masks, share_in_frame
from tests.helpers.repo import REPO_ROOT

PARAMS = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
SETS = ("augment_train", "augment_val", "augment_test")


def test_the_default_sections_parse_without_warnings(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        for section in (*SETS, *(["augment_cv"] if "augment_cv" in PARAMS else [])):
            load_settings(PARAMS, section, PARAMS["classes"])
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_the_policy_is_written_once_and_the_sets_hold_only_their_own_keys() -> None:
    for section in SETS:
        assert set(PARAMS[section]) == {"seed", "copies_per_original", "keep_original"}, section
    assert PARAMS[POLICY_SECTION] == POLICY, "tests/helpers/augment.py mirrors the default policy; update it too"


def test_test_set_differs_from_validation_only_by_its_seed() -> None:
    val, test = dict(PARAMS["augment_val"]), dict(PARAMS["augment_test"])
    assert val.pop("seed") != test.pop("seed")
    assert val == test


def test_default_copies_are_the_step5_arithmetic_with_factor_10() -> None:
    train, val = balanced_copies(PARAMS["sample"]["counts"], PARAMS["split"]["val_originals"], scale=10)
    assert PARAMS["augment_train"]["copies_per_original"] == train
    assert PARAMS["augment_val"]["copies_per_original"] == val
    assert PARAMS["augment_test"]["copies_per_original"] == val


@pytest.mark.parametrize("section", SETS)
def test_every_default_augmented_defect_keeps_90_percent_in_frame(section: str) -> None:
    """The sample's defect masks under each set's own draws (see tests/augment/test_masks.py)."""
    sample = PARAMS["sample"]
    defect_counts = {label: count for label, count in sample["counts"].items() if label != PARAMS["good_class"]}
    settings = load_settings(PARAMS, section, PARAMS["classes"])
    checked = 0
    for original_id, (label, mask) in sample_defect_masks(defect_counts, sample["seed"]).items():
        for copy_index in range(settings.copies_per_original[label]):
            operations = copy_operations(settings, label, original_id, copy_index)
            share = share_in_frame(mask, operations)
            assert share >= MIN_IN_FRAME, f"{section} {original_id} copy {copy_index}: {share:.1%} in frame, {operations}"
            checked += 1
    assert checked >= 12
