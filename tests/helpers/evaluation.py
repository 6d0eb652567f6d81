"""Small builders shared by the evaluation and predict tests: a tiny model, tiny images, a manifest."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from textile_defects.data.manifest import relative_to_manifest, write_manifest
from textile_defects.models.checkpoint import save_checkpoint
from textile_defects.models.config import ModelConfig
from textile_defects.models.network import build_model

CLASSES = ("non_defect", "hole", "lycra_cut", "needle", "twoply")
IMAGE_SIZE = (64, 36)
"""(W, H) the tiny model reads; stored test images are larger, so resizing is exercised."""

SMALL_MODEL = ModelConfig(
    # SqueezeNet has no batch norm, so even at random initialisation its output depends on the
    # image (a random-init MobileNetV3 answers every image alike, which would hide preprocessing bugs).
    encoder="squeezenet1",
    image_size=IMAGE_SIZE,
    input_size=32,
    head="resize",
    classifier="mlp",
    hidden_units=(256, 128),
    dropout=0.3,
    head_dropout=0.1,
    cosine_scale=16.0,
)
"""A model small enough to build and run in a test: the report's layers on a 32 px encoder input."""


def model_config(**overrides: Any) -> ModelConfig:
    """:data:`SMALL_MODEL` with some fields replaced (e.g. ``encoder="resnet18"``)."""
    return dataclasses.replace(SMALL_MODEL, **overrides)


def tiny_checkpoint(path: Path, seed: int = 0, good_class: str = "non_defect") -> Path:
    """A random-init :data:`SMALL_MODEL` (32 px encoder input), saved as a real checkpoint."""
    torch.manual_seed(seed)
    model = build_model(SMALL_MODEL, CLASSES, weights="none")
    return save_checkpoint(path, model, good_class=good_class)


def write_images(folder: Path, labels: Sequence[str], seed: int = 0, size: tuple[int, int] = (128, 72)) -> list[Path]:
    """One random-noise PNG per label under ``folder/<label>/``; returns their paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for index, label in enumerate(labels):
        path = folder / label / f"img_{index:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def write_image_manifest(manifest: Path, images: Sequence[Path], labels: Sequence[str]) -> Path:
    """A manifest listing ``images`` with ``labels``, paths relative to the manifest's folder."""
    rows = [
        {"path": relative_to_manifest(manifest, image), "label": label, "original_id": image.stem}
        for image, label in zip(images, labels, strict=True)
    ]
    return write_manifest(manifest, rows)


def write_history(path: Path, epochs: int = 3) -> Path:
    """A training history CSV with the trainer's columns: loss falling, scores rising."""
    sides = ("train", "val")
    columns = ["epoch", *(f"{side}_{name}" for side in sides for name in ("loss", "accuracy", "f1_macro", "f1_weighted")), "lr"]
    lines = [",".join(columns)]
    for epoch in range(1, epochs + 1):
        row = [str(epoch)]
        for offset in (0.0, 0.1):  # validation is a little worse than training
            score = min(1.0, 0.2 * epoch) - offset
            row += [f"{1.0 / epoch + offset:.6g}", f"{score:.6g}", f"{score:.6g}", f"{min(1.0, score + 0.05):.6g}"]
        lines.append(",".join([*row, "0.001"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
