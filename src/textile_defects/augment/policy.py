"""The probabilistic policy: which operations a copy gets, and with what parameters.

For every operation, in :data:`~textile_defects.augment.ops.OPERATIONS`
order, one uniform number decides whether it applies (with the class's
probability) and its parameters are drawn from the configured ranges,
whether it applies or not. Every round therefore consumes the same draws, so
changing one operation's probability never changes the parameters another
operation gets.

A copy whose round applied only flips (or nothing) would be the original
again, mirrored at most: about 7% of copies with the default policy. Such a
round is discarded and the next one drawn from the same stream, until some
other operation applies, so a copy stays a pure function of its generator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from textile_defects.augment.ops import OPERATIONS, Operation

Range = tuple[float, float]

RANGE_KEYS: tuple[str, ...] = (
    "rotation_deg",
    "zoom",
    "translate",
    "brightness",
    "contrast",
    "saturation",
    "hue_deg",
    "sharpness",
    "blur_sigma_px",
    "noise_sigma",
)
"""The ``ranges`` settings, each ``[low, high]`` drawn uniformly."""

FLIP_OPS: tuple[str, ...] = ("hflip", "vflip", "rotate180")
"""Operations that only move pixels: a copy with nothing else is the original, mirrored or turned."""

# Drawn values are rounded before use, so the record in the manifest is
# exactly what was applied (and short enough to read).
_DECIMALS = 4
_NOISE_SEED_BOUND = 2**32


def _uniform(rng: np.random.Generator, bounds: Range) -> float:
    return round(float(rng.uniform(bounds[0], bounds[1])), _DECIMALS)


def _factor(key: str) -> Callable[[np.random.Generator, Mapping[str, Range]], dict[str, float | int]]:
    return lambda rng, ranges: {"factor": _uniform(rng, ranges[key])}


_PARAMETER_DRAWS: dict[str, Callable[[np.random.Generator, Mapping[str, Range]], dict[str, float | int]]] = {
    "hflip": lambda rng, ranges: {},
    "vflip": lambda rng, ranges: {},
    "rotate180": lambda rng, ranges: {},
    "rotate": lambda rng, ranges: {"angle_deg": _uniform(rng, ranges["rotation_deg"])},
    "zoom": _factor("zoom"),
    "translate": lambda rng, ranges: {
        "dx": _uniform(rng, ranges["translate"]),
        "dy": _uniform(rng, ranges["translate"]),
    },
    "brightness": _factor("brightness"),
    "contrast": _factor("contrast"),
    "saturation": _factor("saturation"),
    "hue": lambda rng, ranges: {"shift_deg": _uniform(rng, ranges["hue_deg"])},
    "sharpness": _factor("sharpness"),
    "blur": lambda rng, ranges: {"sigma_px": _uniform(rng, ranges["blur_sigma_px"])},
    "noise": lambda rng, ranges: {
        "sigma": _uniform(rng, ranges["noise_sigma"]),
        "seed": int(rng.integers(_NOISE_SEED_BOUND)),
    },
}


def draw_operations(
    probabilities: Mapping[str, float], ranges: Mapping[str, Range], rng: np.random.Generator
) -> list[Operation]:
    """The operation records for one copy, in application order.

    ``probabilities`` maps every operation name to its chance in [0, 1] (one
    class's row of the policy); ``ranges`` maps every :data:`RANGE_KEYS`
    entry to ``(low, high)``. Rounds are drawn until one applies an
    operation beyond :data:`FLIP_OPS` (unless the class gives all of those
    probability 0). The result depends only on these and the state of ``rng``.
    """
    can_change_pixels = any(probabilities[name] > 0 for name in OPERATIONS if name not in FLIP_OPS)
    while True:
        operations = _draw_round(probabilities, ranges, rng)
        if not can_change_pixels or any(operation["op"] not in FLIP_OPS for operation in operations):
            return operations


def _draw_round(
    probabilities: Mapping[str, float], ranges: Mapping[str, Range], rng: np.random.Generator
) -> list[Operation]:
    """One decision and one parameter draw per operation, in :data:`OPERATIONS` order."""
    operations: list[Operation] = []
    for name in OPERATIONS:
        applies = rng.random() < probabilities[name]
        params = _PARAMETER_DRAWS[name](rng, ranges)
        if applies:
            operations.append({"op": name, "params": params})
    return operations
