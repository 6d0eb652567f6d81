"""Augment settings for tests, written here so that editing params.yaml cannot break a unit test.

The values mirror the committed defaults (the report's policy) at the time
of writing; ``test_augment_defaults.py`` is where params.yaml itself is checked.
"""

from __future__ import annotations

import copy
from typing import Any

from textile_defects.augment.settings import AugmentPolicy, AugmentSettings

CLASSES: tuple[str, ...] = ("non_defect", "hole", "lycra_cut", "needle", "twoply")

_GEOMETRY = {"hflip": 0.5, "vflip": 0.5, "rotate180": 0.25}
_COLOUR = {"brightness": 0.3, "contrast": 0.3, "saturation": 0.2, "hue": 0.1}
_PLAIN = {"rotate": 0.4, "zoom": 0.3, "translate": 0.3}
_DEFECT = {"rotate": 0.5, "zoom": 0.4, "translate": 0.4}
_SUBTLE = {"sharpness": 0.25, "blur": 0.05, "noise": 0.1}
_USUAL = {"sharpness": 0.2, "blur": 0.1, "noise": 0.15}

POLICY: dict[str, Any] = {
    "probabilities": {
        "non_defect": _GEOMETRY | _PLAIN | _COLOUR | _USUAL,
        "hole": _GEOMETRY | _DEFECT | _COLOUR | _USUAL,
        "lycra_cut": _GEOMETRY | _DEFECT | _COLOUR | _SUBTLE,
        "needle": _GEOMETRY | _DEFECT | _COLOUR | _SUBTLE,
        "twoply": _GEOMETRY | _DEFECT | _COLOUR | {"saturation": 0.1, "hue": 0.05} | _USUAL,
    },
    "ranges": {
        "rotation_deg": [-5.0, 5.0],
        "zoom": [0.95, 1.03],
        "translate": [-0.015, 0.015],
        "brightness": [0.85, 1.15],
        "contrast": [0.85, 1.15],
        "saturation": [0.85, 1.15],
        "hue_deg": [-6.0, 6.0],
        "sharpness": [0.5, 1.8],
        "blur_sigma_px": [0.3, 0.7],
        "noise_sigma": [1.0, 4.0],
    },
    "interpolation": "nearest",
    "jpeg_quality": 95,
    "workers": 0,
    "grid_originals": 2,
    "grid_copies": 5,
}
"""Section ``augment``: the shared policy."""

SETS: dict[str, dict[str, Any]] = {
    "augment_train": {
        "seed": 101,
        "copies_per_original": {"non_defect": 10, "hole": 16, "lycra_cut": 16, "needle": 10, "twoply": 12},
        "keep_original": True,
    },
    "augment_val": {
        "seed": 202,
        "copies_per_original": {"non_defect": 10, "hole": 4, "lycra_cut": 4, "needle": 10, "twoply": 6},
        "keep_original": False,
    },
}
"""Per-set sections."""


def params(**sections: dict[str, Any]) -> dict[str, Any]:
    """A params mapping: classes, ``augment`` and the sets, with ``sections`` replacing whole sections."""
    return {"classes": list(CLASSES), "augment": copy.deepcopy(POLICY), **copy.deepcopy(SETS), **sections}


def policy(**changes: Any) -> AugmentPolicy:
    """:data:`POLICY`, validated, with top-level keys replaced by ``changes``."""
    return AugmentPolicy.from_section(copy.deepcopy(POLICY) | changes, CLASSES)


def settings(
    section: str = "augment_train", policy_changes: dict[str, Any] | None = None, **changes: Any
) -> AugmentSettings:
    """The settings of set ``section``, with its own keys replaced by ``changes``."""
    values = copy.deepcopy(SETS[section]) | changes
    return AugmentSettings.from_section(values, policy(**(policy_changes or {})), CLASSES, section)
