"""The probabilistic policy, the settings it reads (sections ``augment`` and ``augment_<set>``), the Step 5 counts."""

from __future__ import annotations

import copy
import logging
import math

import pytest

from textile_defects.augment.counts import balanced_copies
from textile_defects.augment.ops import OPERATIONS
from textile_defects.augment.policy import FLIP_OPS, RANGE_KEYS, _draw_round, draw_operations
from textile_defects.augment.settings import AugmentPolicy, AugmentSettings, load_settings
from textile_defects.augment.writer import copy_operations
from textile_defects.errors import ConfigError
from textile_defects.utils.seeding import rng_for

from tests.helpers.augment import CLASSES, POLICY, SETS, policy, settings

# ---- frequencies ----


def chance_with_redraw(row: dict[str, float], name: str) -> float:
    """How often ``name`` applies once rounds of flips only are redrawn.

    Flips are drawn independently of the rest, so their chance is unchanged;
    every other operation is conditioned on at least one of them applying.
    """
    if name in FLIP_OPS:
        return row[name]
    none_applies = math.prod(1.0 - row[other] for other in OPERATIONS if other not in FLIP_OPS)
    return row[name] / (1.0 - none_applies)


@pytest.mark.parametrize("section", ["augment_train", "augment_val"])
def test_each_operation_is_drawn_as_often_as_its_class_probability(section: str) -> None:
    current = settings(section)
    draws = 2000
    for label in CLASSES:
        counts = dict.fromkeys(OPERATIONS, 0)
        for copy_index in range(draws):
            for operation in copy_operations(current, label, f"{label}__freq", copy_index + 1):
                counts[operation["op"]] += 1
        for name in OPERATIONS:
            chance = chance_with_redraw(current.policy.probabilities[label], name)
            expected = draws * chance
            # 4.5 binomial standard deviations: a false alarm about once in 150,000 checks.
            tolerance = 4.5 * math.sqrt(draws * chance * (1 - chance)) + 1
            assert abs(counts[name] - expected) <= tolerance, (
                f"{section} {label} {name}: drawn {counts[name]} of {draws}, expected {expected:.0f} +- {tolerance:.0f}"
            )


def test_probability_zero_and_one_are_never_and_always() -> None:
    ranges = policy().ranges
    probabilities = {name: 0.0 for name in OPERATIONS} | {"rotate": 1.0, "noise": 1.0}
    for copy_index in range(200):
        names = [op["op"] for op in draw_operations(probabilities, ranges, rng_for(1, "x", copy_index))]
        assert names == ["rotate", "noise"]


def test_drawn_parameters_stay_inside_their_ranges() -> None:
    ranges = policy().ranges
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
        for operation in draw_operations(always, ranges, rng_for(2, "x", copy_index)):
            for param, range_key in keys.get(operation["op"], []):
                low, high = ranges[range_key]
                assert low <= operation["params"][param] <= high


def test_changing_one_probability_leaves_other_operations_parameters_alone() -> None:
    ranges = policy().ranges
    always = dict.fromkeys(OPERATIONS, 1.0)
    without_hue = always | {"hue": 0.0}
    for copy_index in range(50):
        full = draw_operations(always, ranges, rng_for(3, "x", copy_index))
        fewer = draw_operations(without_hue, ranges, rng_for(3, "x", copy_index))
        assert [op for op in full if op["op"] != "hue"] == fewer


def test_copies_are_a_pure_function_of_seed_original_and_index() -> None:
    current = settings()
    first = [copy_operations(current, "hole", "hole__a", k) for k in range(1, 40)]
    again = [copy_operations(current, "hole", "hole__a", k) for k in range(39, 0, -1)][::-1]
    assert first == again
    other_original = [copy_operations(current, "hole", "hole__b", k) for k in range(1, 40)]
    other_seed = settings(seed=102)
    assert first != other_original
    assert first != [copy_operations(other_seed, "hole", "hole__a", k) for k in range(1, 40)]


def test_keep_original_makes_copy_zero_unaltered() -> None:
    assert copy_operations(settings("augment_train"), "hole", "hole__a", 0) == []
    assert copy_operations(settings("augment_val"), "hole", "hole__a", 0) != []


# ---- no copy is the original again (issue 11, 6d) ----


@pytest.mark.parametrize("label", CLASSES)
def test_every_copy_gets_an_operation_beyond_flips(label: str) -> None:
    current = settings("augment_val")
    for copy_index in range(3000):
        names = {operation["op"] for operation in copy_operations(current, label, f"{label}__x", copy_index)}
        assert names - set(FLIP_OPS), f"copy {copy_index} of {label}: only {sorted(names)}"


@pytest.mark.parametrize(("label", "share"), [("non_defect", 0.0635), ("hole", 0.0389)])
def test_without_the_redraw_some_copies_would_be_flips_only(label: str, share: float) -> None:
    """What the redraw fixes: one round per copy, default policy (6.4% of good copies, 3.9% of holes)."""
    ranges = policy().ranges
    row = POLICY["probabilities"][label]
    assert math.prod(1.0 - row[name] for name in OPERATIONS if name not in FLIP_OPS) == pytest.approx(share, abs=5e-4)
    draws = 4000
    rounds = [_draw_round(row, ranges, rng_for(202, f"{label}__x", k)) for k in range(draws)]
    flips_only = sum(all(op["op"] in FLIP_OPS for op in ops) for ops in rounds)
    assert abs(flips_only - draws * share) <= 4.5 * math.sqrt(draws * share * (1 - share))


def test_a_redrawn_copy_continues_its_own_stream() -> None:
    """The first round is discarded and the next one drawn from the same generator: reproducible, and kept."""
    ranges = policy().ranges
    row = POLICY["probabilities"]["hole"]
    flips_only = [all(op["op"] in FLIP_OPS for op in _draw_round(row, ranges, rng_for(5, "o", k))) for k in range(1000)]
    index = flips_only.index(True)
    rng = rng_for(5, "o", index)
    _draw_round(row, ranges, rng)
    expected = _draw_round(row, ranges, rng)
    while all(op["op"] in FLIP_OPS for op in expected):
        expected = _draw_round(row, ranges, rng)
    assert draw_operations(row, ranges, rng_for(5, "o", index)) == expected


def test_flips_only_policy_is_allowed_and_not_redrawn_forever() -> None:
    row = {name: (0.5 if name in FLIP_OPS else 0.0) for name in OPERATIONS}
    ranges = policy().ranges
    drawn = [draw_operations(row, ranges, rng_for(1, "o", k)) for k in range(200)]
    assert [] in drawn and all(op["op"] in FLIP_OPS for ops in drawn for op in ops)


# ---- settings ----


def edited(values: dict, path: str, value) -> dict:
    """A copy of ``values`` with the setting at dotted ``path`` replaced (or removed when value is ...)."""
    edited_values = copy.deepcopy(values)
    *parents, last = path.split(".")
    target = edited_values
    for key in parents:
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return edited_values


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("probabilities.hole.rotate", 1.5, "augment.probabilities.hole.rotate: got 1.5; expected a number >= 0.0"),
        ("probabilities.hole.rotate", -0.1, "augment.probabilities.hole.rotate: got -0.1"),
        ("probabilities.hole.rotate", "often", "augment.probabilities.hole.rotate: got 'often'"),
        ("probabilities.hole.perspective", 0.5, "augment.probabilities.hole.perspective: unknown key"),
        ("probabilities.hole.blur", ..., "augment.probabilities.hole.blur: missing"),
        ("probabilities.stain", dict.fromkeys(OPERATIONS, 0.5), "augment.probabilities.stain: unknown key"),
        ("probabilities.needle", ..., "augment.probabilities.needle: missing"),
        ("ranges.zoom", [1.1, 0.9], "augment.ranges.zoom: got [1.1, 0.9]"),
        ("ranges.zoom", [0.0, 1.0], "0.1 <= low <= high <= 10"),
        ("ranges.blur_sigma_px", [-1.0, 0.5], "augment.ranges.blur_sigma_px: got [-1.0, 0.5]"),
        ("ranges.noise_sigma", 3.0, "augment.ranges.noise_sigma: got 3.0; expected [low, high]"),
        ("ranges.shear", [0.0, 1.0], "augment.ranges.shear: unknown key"),
        ("jpeg_quality", 101, "augment.jpeg_quality: got 101"),
        ("workers", -2, "augment.workers: got -2"),
        ("workers", 1.5, "augment.workers: got 1.5; expected an integer"),
        ("interpolation", "bicubic", "augment.interpolation: got 'bicubic'"),
        ("grid_copies", ..., "augment.grid_copies: missing"),
        ("colour_jitter", 0.2, "augment.colour_jitter: unknown key"),
    ],
)
def test_bad_policy_settings_are_refused_with_the_key_path_named(path: str, value, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        AugmentPolicy.from_section(edited(POLICY, path, value), CLASSES)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("copies_per_original.stain", 3, "augment_val.copies_per_original.stain: unknown key"),
        ("copies_per_original.needle", ..., "augment_val.copies_per_original.needle: missing"),
        ("copies_per_original.needle", -1, "augment_val.copies_per_original.needle: got -1"),
        ("copies_per_original.needle", 2.5, "augment_val.copies_per_original.needle: got 2.5; expected an integer"),
        ("keep_original", "yes", "augment_val.keep_original: got 'yes'; expected true or false"),
        ("seed", ..., "augment_val.seed: missing"),
        ("seed", 4.7, "augment_val.seed: got 4.7; expected an integer"),
        ("interpolation", "nearest", "augment_val.interpolation: shared by every augmented set; set it once in"),
    ],
)
def test_bad_set_settings_are_refused_with_the_key_path_named(path: str, value, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        AugmentSettings.from_section(edited(SETS["augment_val"], path, value), policy(), CLASSES, "augment_val")
    assert message in str(raised.value)


def test_every_problem_of_a_section_is_reported_at_once() -> None:
    values = edited(edited(POLICY, "jpeg_quality", 0), "ranges.zoom", [2.0, 1.0])
    with pytest.raises(ConfigError) as raised:
        AugmentPolicy.from_section(values, CLASSES)
    assert "augment.jpeg_quality" in str(raised.value) and "augment.ranges.zoom" in str(raised.value)


def test_load_settings_combines_the_shared_policy_and_the_set() -> None:
    params = {"classes": list(CLASSES), "augment": POLICY, "augment_cv": {**SETS["augment_train"], "seed": 404}}
    loaded = load_settings(params, "augment_cv", CLASSES)
    assert loaded.seed == 404 and loaded.keep_original is True
    assert loaded.policy == policy()
    with pytest.raises(ConfigError, match=r"augment_other: expected a mapping"):
        load_settings(params, "augment_other", CLASSES)


@pytest.mark.parametrize(
    ("key", "value"),
    [("rotation_deg", [-20.0, 20.0]), ("zoom", [0.9, 1.3]), ("translate", [-0.1, 0.1])],
)
def test_a_range_that_pushes_defects_out_of_frame_is_a_warning_naming_it(
    key: str, value: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        checked = AugmentPolicy.from_section(edited(POLICY, f"ranges.{key}", value), CLASSES)
    assert checked.ranges[key] == tuple(value)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"augment.ranges.{key}={value}" in warnings[0]
    assert "on its own" in warnings[0]


def test_ranges_safe_alone_but_not_together_are_named_together(caplog: pytest.LogCaptureFixture) -> None:
    values = edited(edited(POLICY, "ranges.zoom", [0.92, 1.07]), "ranges.translate", [-0.04, 0.04])
    with caplog.at_level(logging.WARNING):
        AugmentPolicy.from_section(values, CLASSES)
    (warning,) = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert "together" in warning
    for key in ("rotation_deg", "zoom", "translate"):
        assert f"augment.ranges.{key}=" in warning


def test_every_range_key_is_read() -> None:
    assert set(policy().ranges) == set(RANGE_KEYS)


# ---- counts (the report's Step 5) ----

SAMPLE_COUNTS = {"non_defect": 50, "hole": 2, "lycra_cut": 2, "needle": 5, "twoply": 3}
VAL_ORIGINALS = {"non_defect": 10, "hole": 1, "lycra_cut": 1, "needle": 1, "twoply": 1}


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
