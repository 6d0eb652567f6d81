"""The probabilistic policy, the settings it reads from params.yaml, and the Step 5 counts."""

from __future__ import annotations

import copy
import logging
import math
from pathlib import Path

import pytest
import yaml

from textile_defects.augment.counts import balanced_copies
from textile_defects.augment.ops import OPERATIONS
from textile_defects.augment.policy import RANGE_KEYS, draw_operations
from textile_defects.augment.settings import AugmentSettings, parse_settings
from textile_defects.augment.writer import copy_operations
from textile_defects.errors import ConfigError
from textile_defects.utils.seeding import rng_for

PARAMS = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text(encoding="utf-8"))
CLASSES = PARAMS["classes"]
SECTIONS = ("augment_train", "augment_val", "augment_test")


def default_settings(section: str = "augment_train") -> AugmentSettings:
    return parse_settings(PARAMS[section], CLASSES, section)


# ---- frequencies ----


# augment_test shares augment_val's probabilities (checked below).
@pytest.mark.parametrize("section", ["augment_train", "augment_val"])
def test_each_operation_is_drawn_as_often_as_its_class_probability(section: str) -> None:
    settings = default_settings(section)
    draws = 2000
    for label in CLASSES:
        counts = dict.fromkeys(OPERATIONS, 0)
        for copy_index in range(draws):
            for operation in copy_operations(settings, label, f"{label}__freq", copy_index + 1):
                counts[operation["op"]] += 1
        for name in OPERATIONS:
            chance = settings.probabilities[label][name]
            expected = draws * chance
            # 4.5 binomial standard deviations: a false alarm about once in 150,000 checks.
            tolerance = 4.5 * math.sqrt(draws * chance * (1 - chance)) + 1
            assert abs(counts[name] - expected) <= tolerance, (
                f"{section} {label} {name}: drawn {counts[name]} of {draws}, expected {expected:.0f} +- {tolerance:.0f}"
            )


def test_probability_zero_and_one_are_never_and_always() -> None:
    settings = default_settings()
    probabilities = {name: 0.0 for name in OPERATIONS} | {"rotate": 1.0, "noise": 1.0}
    for copy_index in range(200):
        names = [op["op"] for op in draw_operations(probabilities, settings.ranges, rng_for(1, "x", copy_index))]
        assert names == ["rotate", "noise"]


def test_drawn_parameters_stay_inside_their_ranges() -> None:
    settings = default_settings()
    always = dict.fromkeys(OPERATIONS, 1.0)
    keys = {
        "rotate": [("angle_deg", "rotation_deg")],
        "zoom": [("factor", "zoom")],
        "translate": [("dx", "translate"), ("dy", "translate")],
        "brightness": [("factor", "brightness")],
        "contrast": [("factor", "contrast")],
        "saturation": [("factor", "saturation")],
        "hue": [("shift_deg", "hue_deg")],
        "sharpness": [("factor", "sharpness")],
        "blur": [("sigma_px", "blur_sigma_px")],
        "noise": [("sigma", "noise_sigma")],
    }
    for copy_index in range(300):
        for operation in draw_operations(always, settings.ranges, rng_for(2, "x", copy_index)):
            for param, range_key in keys.get(operation["op"], []):
                low, high = settings.ranges[range_key]
                assert low <= operation["params"][param] <= high


def test_changing_one_probability_leaves_other_operations_parameters_alone() -> None:
    settings = default_settings()
    always = dict.fromkeys(OPERATIONS, 1.0)
    without_hue = always | {"hue": 0.0}
    for copy_index in range(50):
        full = draw_operations(always, settings.ranges, rng_for(3, "x", copy_index))
        fewer = draw_operations(without_hue, settings.ranges, rng_for(3, "x", copy_index))
        assert [op for op in full if op["op"] != "hue"] == fewer


def test_copies_are_a_pure_function_of_seed_original_and_index() -> None:
    settings = default_settings()
    first = [copy_operations(settings, "hole", "hole__a", k) for k in range(1, 40)]
    again = [copy_operations(settings, "hole", "hole__a", k) for k in range(39, 0, -1)][::-1]
    assert first == again
    other_original = [copy_operations(settings, "hole", "hole__b", k) for k in range(1, 40)]
    other_seed = parse_settings(PARAMS["augment_train"] | {"seed": 102}, CLASSES, "augment_train")
    assert first != other_original
    assert first != [copy_operations(other_seed, "hole", "hole__a", k) for k in range(1, 40)]


def test_keep_original_makes_copy_zero_unaltered() -> None:
    assert copy_operations(default_settings("augment_train"), "hole", "hole__a", 0) == []
    assert default_settings("augment_val").keep_original is False


# ---- settings ----


def test_the_default_sections_parse_without_warnings(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        for section in SECTIONS:
            default_settings(section)
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_test_set_differs_from_validation_only_by_its_seed() -> None:
    val, test = dict(PARAMS["augment_val"]), dict(PARAMS["augment_test"])
    assert val.pop("seed") != test.pop("seed")
    assert val == test


def edited(path: str, value) -> dict:
    """The train section with the setting at dotted ``path`` replaced (or removed when value is ...)."""
    section = copy.deepcopy(PARAMS["augment_train"])
    *parents, last = path.split(".")
    target = section
    for key in parents:
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return section


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("probabilities.hole.rotate", 1.5, "augment_train.probabilities.hole.rotate = 1.5"),
        ("probabilities.hole.rotate", -0.1, "in [0, 1]"),
        ("probabilities.hole.rotate", "often", "in [0, 1]"),
        ("probabilities.hole.perspective", 0.5, "unknown operations ['perspective']"),
        ("probabilities.hole.blur", ..., "missing operations ['blur']"),
        ("probabilities.stain", {name: 0.5 for name in OPERATIONS}, "unknown classes ['stain']"),
        ("copies_per_original.stain", 3, "unknown classes ['stain']"),
        ("copies_per_original.needle", ..., "missing classes ['needle']"),
        ("copies_per_original.needle", -1, "augment_train.copies_per_original.needle = -1"),
        ("copies_per_original.needle", 2.5, "whole number >= 0"),
        ("ranges.zoom", [1.1, 0.9], "augment_train.ranges.zoom = [1.1, 0.9]"),
        ("ranges.zoom", [0.0, 1.0], "0.1 <= low <= high <= 10"),
        ("ranges.blur_sigma_px", [-1.0, 0.5], "augment_train.ranges.blur_sigma_px"),
        ("ranges.noise_sigma", 3.0, "expected [low, high]"),
        ("ranges.shear", [0.0, 1.0], "unknown ranges ['shear']"),
        ("jpeg_quality", 101, "jpeg_quality = 101"),
        ("workers", -2, "workers = -2"),
        ("interpolation", "bicubic", "interpolation = 'bicubic'"),
        ("keep_original", "yes", "keep_original = 'yes'"),
        ("seed", ..., "missing settings ['seed']"),
        ("colour_jitter", 0.2, "unknown settings ['colour_jitter']"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(path: str, value, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings(edited(path, value), CLASSES, "augment_train")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("key", "value"),
    [("rotation_deg", [-20.0, 20.0]), ("zoom", [0.9, 1.3]), ("translate", [-0.1, 0.1])],
)
def test_a_range_that_pushes_defects_out_of_frame_is_a_warning_naming_it(
    key: str, value: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        settings = parse_settings(edited(f"ranges.{key}", value), CLASSES, "augment_train")
    assert settings.ranges[key] == tuple(value)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"augment_train.ranges.{key}={value}" in warnings[0]
    assert "on its own" in warnings[0]


def test_ranges_safe_alone_but_not_together_are_named_together(caplog: pytest.LogCaptureFixture) -> None:
    section = edited("ranges.zoom", [0.92, 1.07])
    section["ranges"]["translate"] = [-0.04, 0.04]
    with caplog.at_level(logging.WARNING):
        parse_settings(section, CLASSES, "augment_train")
    (warning,) = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert "together" in warning
    for key in ("rotation_deg", "zoom", "translate"):
        assert f"augment_train.ranges.{key}=" in warning


def test_every_range_key_is_in_the_defaults() -> None:
    for section in SECTIONS:
        assert set(PARAMS[section]["ranges"]) == set(RANGE_KEYS)


# ---- counts (the report's Step 5) ----

SAMPLE_COUNTS = PARAMS["sample"]["counts"]
VAL_ORIGINALS = PARAMS["split"]["val_originals"]


def test_default_copies_are_the_step5_arithmetic_with_factor_10() -> None:
    train, val = balanced_copies(SAMPLE_COUNTS, VAL_ORIGINALS, scale=10)
    assert PARAMS["augment_train"]["copies_per_original"] == train
    assert PARAMS["augment_val"]["copies_per_original"] == val
    assert PARAMS["augment_test"]["copies_per_original"] == val


@pytest.mark.parametrize(("scale", "total"), [(10, 620), (200, 12_400)])
def test_counts_keep_the_class_distribution_and_an_80_20_split(scale: int, total: int) -> None:
    train, val = balanced_copies(SAMPLE_COUNTS, VAL_ORIGINALS, scale=scale)
    images = 0
    for label, originals in SAMPLE_COUNTS.items():
        held_out = VAL_ORIGINALS[label]
        train_images = train[label] * (originals - held_out)
        val_images = val[label] * held_out
        assert train_images + val_images == scale * originals  # every class grows by the same factor
        assert train_images / (train_images + val_images) == pytest.approx(0.8)
        images += train_images + val_images
    assert images == total


def test_counts_need_originals_on_both_sides() -> None:
    with pytest.raises(ConfigError, match="hole"):
        balanced_copies({"hole": 2}, {"hole": 2}, scale=10)
