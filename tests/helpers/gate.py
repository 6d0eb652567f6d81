"""Tiny gates for tests: a knit-like texture, PNG writing, and a small gate config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from textile_defects.gate.checkpoint import save_gate
from textile_defects.gate.model import GateConfig, TrainingImage, fit_gate


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


def tiny_gate_config(width: int, height: int, encoder: str = "efficientnet_lite0", **overrides: Any) -> GateConfig:
    """A gate on ``encoder`` (random weights, the default layers) small enough for a unit test."""
    values = {
        "image_size": [width, height],
        "layers": "auto",
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
    return GateConfig.from_section(values, encoder=encoder, weights="none")


def tiny_gate_and_photos(folder: Path, width: int = 160, height: int = 96) -> tuple[Path, Path]:
    """A tiny gate built on 6 good textures (``folder/gate.pt``), and ``folder/photos`` with one good and one spotted photo."""
    torch.manual_seed(0)
    images = [
        TrainingImage(write_png(folder / "train" / f"good_{i}.png", knit_texture(i, width, height)), f"good_{i}", True)
        for i in range(6)
    ]
    config = tiny_gate_config(width, height, augmented_copies=0)
    gate_path = save_gate(fit_gate(config, images), config, folder / "gate.pt")
    spotted = knit_texture(50, width, height)
    spotted[40:60, 70:95] = 255
    write_png(folder / "photos" / "good.png", knit_texture(60, width, height))
    write_png(folder / "photos" / "spotted.png", spotted)
    return gate_path, folder / "photos"
