"""The augment settings of params.yaml, checked and turned into frozen dataclasses.

The policy (probabilities, ranges, interpolation, JPEG quality, workers,
grids) is written once, in section ``augment``; each augmented set has its
own small section (``augment_train``, ``augment_val``, ``augment_test``,
``augment_cv``, ...) with its seed, copies per original and
``keep_original``. A stage lists both sections in dvc.yaml, so editing one
set's seed re-runs that set only, and editing the policy re-runs them all.

Every problem names its key path (``augment.probabilities.hole.rotate``),
the value found and what is accepted, all problems of a section at once.
Geometric ranges that could push a defect out of the frame are not errors
(a user may want them) but are logged as warnings naming the setting.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from textile_defects.augment.frame import frame_problems
from textile_defects.augment.geometry import INTERPOLATIONS
from textile_defects.augment.ops import OPERATIONS
from textile_defects.augment.policy import RANGE_KEYS, Range
from textile_defects.errors import ConfigError
from textile_defects.utils.params import SectionReader

log = logging.getLogger(__name__)

POLICY_SECTION = "augment"
"""The params.yaml section holding the policy every augmented set shares."""

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


@dataclass(frozen=True)
class AugmentPolicy:
    """Section ``augment``: what every augmented set shares.

    Attributes:
        probabilities: class -> operation -> chance in [0, 1].
        ranges: range key -> (low, high), see :data:`RANGE_LIMITS`.
        interpolation: resampling for rotation, zoom and translation.
        jpeg_quality: 1..100 (libjpeg's scale, as Pillow and OpenCV use it).
        workers: processes; 0 = one per available CPU core.
        grid_originals, grid_copies: what the per-class picture grid shows.
    """

    probabilities: dict[str, dict[str, float]]
    ranges: dict[str, Range]
    interpolation: str
    jpeg_quality: int
    workers: int
    grid_originals: int
    grid_copies: int

    @classmethod
    def from_section(cls, values: Any, classes: Sequence[str], path: str = POLICY_SECTION) -> AugmentPolicy:
        """Check section ``path`` against the project's ``classes``; one :class:`ConfigError` lists every problem.

        Logs a warning for geometric ranges that can push defects out of the frame.
        """
        reader = SectionReader(values, path)
        policy = cls(
            probabilities=reader.per_class("probabilities", classes, _read_probability_row),
            ranges=_read_ranges(reader),
            interpolation=reader.choice("interpolation", sorted(INTERPOLATIONS)),
            jpeg_quality=reader.integer("jpeg_quality", minimum=1, maximum=100),
            workers=reader.integer("workers", minimum=0),
            grid_originals=reader.integer("grid_originals", minimum=1),
            grid_copies=reader.integer("grid_copies", minimum=1),
        )
        reader.finish()
        for problem in frame_problems(policy.ranges, path):
            log.warning("%s", problem)
        return policy


@dataclass(frozen=True)
class AugmentSettings:
    """One augmented set: its own section (seed, counts, ``keep_original``) and the shared policy.

    Attributes:
        seed: copy k of original o is a pure function of (seed, o, k).
        copies_per_original: images written per original, by class.
        keep_original: copy 0 is the original itself, unaltered (counted in the copies).
        policy: the shared section ``augment``.
    """

    seed: int
    copies_per_original: dict[str, int]
    keep_original: bool
    policy: AugmentPolicy

    @classmethod
    def from_section(cls, values: Any, policy: AugmentPolicy, classes: Sequence[str], path: str) -> AugmentSettings:
        """Check the set's section ``path`` (e.g. ``augment_val``); one :class:`ConfigError` lists every problem."""
        reader = SectionReader(values, path)
        settings = cls(
            seed=reader.integer("seed"),
            copies_per_original=reader.per_class(
                "copies_per_original", classes, lambda sub, label: sub.integer(label, minimum=0)
            ),
            keep_original=reader.boolean("keep_original"),
            policy=policy,
        )
        for key in POLICY_KEYS:
            if key in reader.values:
                reader.raw(key)
                reader.problems.append(
                    f"{reader.key_path(key)}: shared by every augmented set; set it once in section {POLICY_SECTION}"
                )
        reader.finish()
        return settings


POLICY_KEYS: tuple[str, ...] = tuple(field.name for field in fields(AugmentPolicy))
"""Keys of section ``augment``; a set's own section may not hold them."""


def load_settings(params: Mapping[str, Any], section: str, classes: Sequence[str]) -> AugmentSettings:
    """The settings of set ``section`` from the whole params mapping (its section plus ``augment``).

    Problems in both sections are reported together, in one :class:`ConfigError`.
    """
    problems = []
    policy = None
    try:
        policy = AugmentPolicy.from_section(params.get(POLICY_SECTION), classes)
    except ConfigError as exc:
        problems.append(str(exc))
    try:
        settings = AugmentSettings.from_section(params.get(section), policy, classes, section)  # type: ignore[arg-type]
    except ConfigError as exc:
        problems.append(str(exc))
    if problems:
        raise ConfigError("\n".join(problems))
    return settings


def _read_probability_row(reader: SectionReader, label: str) -> dict[str, float]:
    row = reader.sub_section(label)
    chances = {name: row.number(name, minimum=0.0, maximum=1.0) for name in OPERATIONS}
    row.finish_into(reader)
    return chances


def _read_ranges(reader: SectionReader) -> dict[str, Range]:
    ranges = reader.sub_section("ranges")
    parsed: dict[str, Range] = {}
    for key in RANGE_KEYS:
        lowest, highest = RANGE_LIMITS[key]
        problems_before = len(ranges.problems)
        low, high = ranges.number_range(key)
        if len(ranges.problems) == problems_before and not lowest <= low <= high <= highest:
            ranges.problem(key, [low, high], f"[low, high] with {lowest:g} <= low <= high <= {highest:g}")
        parsed[key] = (low, high)
    ranges.finish_into(reader)
    return parsed
