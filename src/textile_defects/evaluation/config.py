"""The ``evaluate`` params section, validated once at the boundary."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from textile_defects.utils.params import DEVICES, SectionReader


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
    def from_section(cls, values: Mapping[str, Any], name: str = "evaluate") -> EvaluateConfig:
        """Validate params section ``name``; every problem, each naming its key, in one :class:`ConfigError`."""
        reader = SectionReader(values, name)
        config = cls(
            batch_size=reader.integer("batch_size", minimum=1),
            workers=reader.integer("workers", minimum=0),
            device=reader.choice("device", DEVICES),
            confidence=reader.number("confidence", minimum=0.5, below=1),
            misclassified_max=reader.integer("misclassified_max", minimum=1),
            thumb_width=reader.integer("thumb_width", minimum=16),
        )
        reader.finish()
        return config
