"""Tiny labelled image sets with manifests, for the training tests.

Each class is drawn as its own colour plus noise, so a random-initialised
network can learn them in a few epochs: a test that trains sees real learning
in seconds. Files are written as the augment stage writes them (JPEG, with a
manifest whose paths are relative to it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from textile_defects.data.manifest import write_manifest

CLASSES = ("non_defect", "hole", "lycra_cut", "needle", "twoply")
COLOURS = {"non_defect": (170, 170, 170), "hole": (20, 20, 20), "lycra_cut": (200, 40, 40), "needle": (40, 160, 40), "twoply": (40, 60, 200)}
IMAGE_SIZE = (64, 36)


@pytest.fixture(autouse=True)
def single_thread() -> Iterator[None]:
    """Tiny tensors train fastest on one thread, which also keeps other processes' load from stalling it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def write_set(
    folder: Path, originals: dict[str, int], copies: int, seed: int, size: tuple[int, int] = IMAGE_SIZE
) -> Path:
    """Write ``copies`` noisy images of each of ``originals[label]`` originals; return the manifest path."""
    rng = np.random.default_rng(seed)
    rows = []
    for label, count in originals.items():
        for original in range(count):
            original_id = f"{label}-{seed}-{original}"
            for copy in range(copies):
                pixels = np.array(COLOURS[label], dtype=np.float64) + rng.normal(0, 25, (size[1], size[0], 3))
                path = folder / label / f"{original_id}-{copy}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=90)
                rows.append({"path": path.relative_to(folder).as_posix(), "label": label, "original_id": original_id})
    return write_manifest(folder / "manifest.csv", rows)


def write_train_val(root: Path) -> tuple[Path, Path]:
    """An imbalanced training set (as in the report) and a small validation set."""
    train = write_set(root / "train", {"non_defect": 6, "hole": 1, "lycra_cut": 1, "needle": 2, "twoply": 1}, 3, seed=1)
    val = write_set(root / "val", {"non_defect": 3, "hole": 1, "lycra_cut": 1, "needle": 1, "twoply": 1}, 2, seed=2)
    return train, val
