"""The ``evaluate`` params section, validated once at the boundary."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from textile_defects.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    """How the evaluate stage scores models and draws its pictures."""

    batch_size: int
    """Images per forward pass."""
    workers: int
    """Threads decoding images; 0 = one per available core."""
    device: str
    """auto (CUDA when present), cpu or cuda."""
    confidence: float
    """Coverage of the exact intervals on defect recall, specificity and precision (e.g. 0.95)."""
    misclassified_max: int
    """Most images in one misclassified grid (the most confident mistakes are kept)."""
    thumb_width: int
    """Width in pixels of each image in the misclassified grid."""

    @classmethod
    def from_section(cls, values: Mapping[str, Any]) -> EvaluateConfig:
        """Validate params section ``evaluate``; any problem is a :class:`ConfigError` naming the key."""
        fields = {field.name for field in dataclasses.fields(cls)}
        unknown, missing = sorted(set(values) - fields), sorted(fields - set(values))
        if unknown or missing:
            raise ConfigError(
                f"params.yaml [evaluate]: unknown key(s) {unknown}, missing key(s) {missing}; "
                f"the section has exactly {sorted(fields)}."
            )
        config = cls(**values)
        config._check()
        return config

    def _check(self) -> None:
        integers = {"batch_size": 1, "workers": 0, "misclassified_max": 1, "thumb_width": 16}
        for key, minimum in integers.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise _invalid(key, value, f"an integer >= {minimum}")
        if self.device not in DEVICES:
            raise _invalid("device", self.device, f"one of {list(DEVICES)}")
        if isinstance(self.confidence, bool) or not isinstance(self.confidence, float) or not 0.5 <= self.confidence < 1:
            raise _invalid("confidence", self.confidence, "a number in [0.5, 1), e.g. 0.95")


def _invalid(key: str, value: object, expected: str) -> ConfigError:
    return ConfigError(f"params.yaml [evaluate] {key}: got {value!r}; expected {expected}.")
