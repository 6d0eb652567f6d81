"""An augment section of params.yaml, checked and turned into :class:`AugmentSettings`.

Every problem names the setting (``augment_train.probabilities.hole.rotate``),
the value found and what is accepted. Geometric ranges that could push a
defect out of the frame are not errors (a user may want them) but are
logged as warnings naming the setting.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from textile_defects.augment.frame import frame_problems
from textile_defects.augment.geometry import INTERPOLATIONS
from textile_defects.augment.ops import OPERATIONS
from textile_defects.augment.policy import RANGE_KEYS, Range
from textile_defects.errors import ConfigError

log = logging.getLogger(__name__)

# What each range may span at most: beyond these an operation stops meaning
# what its name says (a zoom of 0, a negative blur, a shift off the frame).
RANGE_LIMITS: dict[str, Range] = {
    "rotation_deg": (-180.0, 180.0),
    "zoom": (0.1, 10.0),
    "translate": (-0.5, 0.5),
    "brightness": (0.0, 10.0),
    "contrast": (0.0, 10.0),
    "saturation": (0.0, 10.0),
    "hue_deg": (-180.0, 180.0),
    "sharpness": (-10.0, 10.0),
    "blur_sigma_px": (0.0, 50.0),
    "noise_sigma": (0.0, 255.0),
}

SETTING_KEYS: tuple[str, ...] = (
    "seed",
    "copies_per_original",
    "keep_original",
    "probabilities",
    "ranges",
    "interpolation",
    "jpeg_quality",
    "workers",
    "grid_originals",
    "grid_copies",
)


@dataclass(frozen=True)
class AugmentSettings:
    """One augment section, validated.

    Attributes:
        seed: copy k of original o is a pure function of (seed, o, k).
        copies_per_original: images written per original, by class.
        keep_original: copy 0 is the original itself, unaltered (counted in the copies).
        probabilities: class -> operation -> chance in [0, 1].
        ranges: range key -> (low, high), see :data:`RANGE_LIMITS`.
        interpolation: resampling for rotation, zoom and translation.
        jpeg_quality: 1..100 (libjpeg's scale, as Pillow and OpenCV use it).
        workers: processes; 0 = one per available CPU core.
        grid_originals, grid_copies: what the per-class picture grid shows.
    """

    seed: int
    copies_per_original: dict[str, int]
    keep_original: bool
    probabilities: dict[str, dict[str, float]]
    ranges: dict[str, Range]
    interpolation: str
    jpeg_quality: int
    workers: int
    grid_originals: int
    grid_copies: int


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int_at_least(value: Any, minimum: int, where: str) -> int:
    if not _is_int(value) or value < minimum:
        raise ConfigError(f"params.yaml: {where} = {value!r}; expected a whole number >= {minimum}.")
    return int(value)


def _check_keys(found: Mapping[str, Any], expected: Sequence[str], where: str, what: str) -> None:
    """Unknown and missing keys of a mapping are both errors, listed together."""
    unknown = [key for key in found if key not in expected]
    missing = [key for key in expected if key not in found]
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"unknown {what} {unknown}")
        if missing:
            parts.append(f"missing {what} {missing}")
        raise ConfigError(f"params.yaml: {where}: {'; '.join(parts)}. Known {what}: {', '.join(expected)}.")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"params.yaml: {where} must be a mapping, got {value!r}.")
    return value


def _parse_copies(raw: Any, classes: Sequence[str], where: str) -> dict[str, int]:
    copies = _mapping(raw, where)
    _check_keys(copies, classes, where, "classes")
    return {label: _int_at_least(copies[label], 0, f"{where}.{label}") for label in classes}


def _parse_probabilities(raw: Any, classes: Sequence[str], where: str) -> dict[str, dict[str, float]]:
    table = _mapping(raw, where)
    _check_keys(table, classes, where, "classes")
    parsed: dict[str, dict[str, float]] = {}
    for label in classes:
        row = _mapping(table[label], f"{where}.{label}")
        _check_keys(row, OPERATIONS, f"{where}.{label}", "operations")
        for name in OPERATIONS:
            chance = row[name]
            if not _is_number(chance) or not 0.0 <= chance <= 1.0:
                raise ConfigError(
                    f"params.yaml: {where}.{label}.{name} = {chance!r}; a probability must be a number in [0, 1]."
                )
        parsed[label] = {name: float(row[name]) for name in OPERATIONS}
    return parsed


def _parse_ranges(raw: Any, where: str) -> dict[str, Range]:
    table = _mapping(raw, where)
    _check_keys(table, RANGE_KEYS, where, "ranges")
    parsed: dict[str, Range] = {}
    for key in RANGE_KEYS:
        value, (lowest, highest) = table[key], RANGE_LIMITS[key]
        accepted = f"expected [low, high] with {lowest:g} <= low <= high <= {highest:g}"
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
            raise ConfigError(f"params.yaml: {where}.{key} = {value!r}; {accepted}.")
        low, high = value
        if not (_is_number(low) and _is_number(high) and lowest <= low <= high <= highest):
            raise ConfigError(f"params.yaml: {where}.{key} = {list(value)!r}; {accepted}.")
        parsed[key] = (float(low), float(high))
    return parsed


def parse_settings(raw: Mapping[str, Any], classes: Sequence[str], section: str) -> AugmentSettings:
    """Check one augment section of params.yaml and return it as :class:`AugmentSettings`.

    ``classes`` are the project's class names (params ``classes``); counts
    and probabilities must be given for exactly these. Raises
    :class:`ConfigError` naming the first bad setting; logs a warning for
    geometric ranges that can push defects out of the frame.
    """
    _check_keys(_mapping(raw, section), SETTING_KEYS, section, "settings")
    if not _is_int(raw["seed"]):
        raise ConfigError(f"params.yaml: {section}.seed = {raw['seed']!r}; expected a whole number.")
    if not isinstance(raw["keep_original"], bool):
        raise ConfigError(f"params.yaml: {section}.keep_original = {raw['keep_original']!r}; expected true or false.")
    if raw["interpolation"] not in INTERPOLATIONS:
        raise ConfigError(
            f"params.yaml: {section}.interpolation = {raw['interpolation']!r}; expected one of {sorted(INTERPOLATIONS)}."
        )
    quality = _int_at_least(raw["jpeg_quality"], 1, f"{section}.jpeg_quality")
    if quality > 100:
        raise ConfigError(f"params.yaml: {section}.jpeg_quality = {quality}; expected 1..100 (95 keeps detail).")
    settings = AugmentSettings(
        seed=int(raw["seed"]),
        copies_per_original=_parse_copies(raw["copies_per_original"], classes, f"{section}.copies_per_original"),
        keep_original=raw["keep_original"],
        probabilities=_parse_probabilities(raw["probabilities"], classes, f"{section}.probabilities"),
        ranges=_parse_ranges(raw["ranges"], f"{section}.ranges"),
        interpolation=raw["interpolation"],
        jpeg_quality=quality,
        workers=_int_at_least(raw["workers"], 0, f"{section}.workers"),
        grid_originals=_int_at_least(raw["grid_originals"], 1, f"{section}.grid_originals"),
        grid_copies=_int_at_least(raw["grid_copies"], 1, f"{section}.grid_copies"),
    )
    for problem in frame_problems(settings.ranges, section):
        log.warning("%s", problem)
    return settings
