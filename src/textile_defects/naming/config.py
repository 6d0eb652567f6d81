"""The ``naming`` and ``transplant`` params sections, validated once into typed configs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from textile_defects.naming.evidence import check_parts
from textile_defects.naming.transplant import TransplantSettings
from textile_defects.utils.params import SectionReader

TRAIN_IMAGES: tuple[str, ...] = ("originals", "augmented")


@dataclasses.dataclass(frozen=True)
class NamingConfig:
    """How the type classifier is fitted (params section ``naming``, docs/naming.md)."""

    evidence: tuple[str, ...]
    image_size: tuple[int, int]
    """(W, H) of the frame the evidence is read at: the camera's native pixels, whatever size the gate reads."""
    level: float
    c: float
    seed: int
    train_images: str
    """originals: the training split's defect photos; augmented: their augmented copies."""
    composites: bool
    """Also fit on the transplanted composites."""
    detector: str
    """The classifier that keeps deciding defective or good; the type classifier names the defect."""

    def training_manifests(self, originals: Path, augmented: Path, composites: Path) -> list[Path]:
        """The manifests the type classifier is fitted on, as ``train_images`` and ``composites`` say."""
        manifests = [augmented if self.train_images == "augmented" else originals]
        return manifests + ([composites] if self.composites else [])

    @classmethod
    def from_section(cls, values: Mapping[str, Any], detectors: Sequence[str]) -> NamingConfig:
        """Validate params section ``naming``; every problem at once in one ConfigError."""
        reader = SectionReader(values, "naming")
        config = cls(
            evidence=check_parts(reader.string_list("evidence")),
            image_size=reader.int_pair("image_size", minimum=32),
            level=reader.number("level", above=0.0, below=1.0),
            c=reader.number("c", above=0.0),
            seed=reader.integer("seed", minimum=0),
            train_images=reader.choice("train_images", TRAIN_IMAGES),
            composites=reader.boolean("composites"),
            detector=reader.choice("detector", detectors),
        )
        reader.finish()
        return config


def transplant_settings(values: Mapping[str, Any], defect_classes: Sequence[str]) -> tuple[TransplantSettings, int, int]:
    """(settings, nearest backgrounds, grid thumbnail width) of params section ``transplant``."""
    reader = SectionReader(values, "transplant")
    low, high = reader.number_range("segment_fraction", minimum=0.0)
    if high > 1.0:
        reader.problem("segment_fraction", [low, high], "[low, high] shares of the region's length, high <= 1")
    settings = TransplantSettings(
        seed=reader.integer("seed", minimum=0),
        composites_per_class=reader.per_class("composites_per_class", defect_classes, lambda r, k: r.integer(k, minimum=0)),
        segment_probability=reader.per_class(
            "segment_probability", defect_classes, lambda r, k: r.number(k, minimum=0.0, maximum=1.0)
        ),
        segment_fraction=(low, high),
        margin_px=reader.integer("margin_px", minimum=0),
        align_px=reader.integer("align_px", minimum=0),
    )
    nearest = reader.integer("nearest_backgrounds", minimum=1)
    thumb = reader.integer("grid_thumb_width", minimum=32)
    reader.finish()
    return settings, nearest, thumb
