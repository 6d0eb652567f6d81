"""Tiny gates for tests: a knit-like texture, PNG writing, and a small gate config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from textile_defects.gate.model import GateConfig


def knit_texture(seed: int, width: int, height: int) -> np.ndarray:
    """A knit-like uniform texture (H, W, 3) uint8: vertical stripes with a little noise."""
    rng = np.random.default_rng(seed)
    columns = 120 + 40 * np.sin(np.arange(width) * 2 * np.pi / 6)
    grey = np.tile(columns, (height, 1)) + rng.normal(0, 4, size=(height, width))
    return np.repeat(np.clip(grey, 0, 255)[..., None], 3, axis=2).astype(np.uint8)


def write_png(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def tiny_gate_config(width: int, height: int, **overrides: Any) -> GateConfig:
    """A gate on efficientnet_lite0 (random weights) small enough for a unit test."""
    values = {
        "image_size": [width, height],
        "layers": ["_blocks.4", "_blocks.10"],
        "grid": "coarsest",
        "neighbourhood": 3,
        "centre": True,
        "border_patches": 1,
        "coreset_ratio": 0.25,
        "projection_dim": 16,
        "augmented_copies": 1,
        "target_specificity": 0.9,
        "threshold_folds": 2,
        "seed": 0,
    }
    values.update(overrides)
    return GateConfig.from_section(values, encoder="efficientnet_lite0", weights="none")
