"""Tiny labelled image sets with manifests, for the training tests.

Each class is drawn as its own colour plus noise, so a random-initialised
network can learn them in a few epochs: a test that trains sees real learning
in seconds. Files are written as the augment stage writes them (JPEG, with a
manifest whose paths are relative to it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from textile_defects.data.manifest import write_manifest

CLASSES = ("non_defect", "hole", "lycra_cut", "needle", "twoply")
COLOURS = {"non_defect": (170, 170, 170), "hole": (20, 20, 20), "lycra_cut": (200, 40, 40), "needle": (40, 160, 40), "twoply": (40, 60, 200)}
IMAGE_SIZE = (64, 36)

# The post-baseline's recipe at tiny sizes (unit tests never read params.yaml: editing a default cannot break them).
_POST_BASELINE: dict[str, Any] = {
    "seed": 7, "image_size": list(IMAGE_SIZE), "input_size": 32, "batch_size": 8, "epochs": 2,
    "unfreeze_epoch": 1, "unfreeze_last_n": 2, "lr_head": 1e-3, "lr_encoder": 1e-4, "weight_decay": 1e-4,
    "plateau_factor": 0.5, "plateau_patience": 2, "early_stopping_patience": 9, "selection": "best_val",
    "head": "learned", "classifier": "cosine", "hidden_units": [256, 128], "dropout": 0.3, "head_dropout": 0.1,
    "cosine_scale": 16.0, "loss": "focal", "loss_weighting": "effective_number", "sampler": "effective_number",
    "balance_combine": "half_each", "cb_beta": 0.999, "focal_gamma": 2.0, "num_workers": 0, "device": "cpu", "amp": "off", "cache_memory_mb": 256,
    "cache_frozen_features": True, "tracking": False,
}
_BASELINE = {"classifier": "mlp", "loss": "ce", "loss_weighting": "inverse_frequency", "sampler": "none", "early_stopping_patience": 5}


def section(variant: str = "train_post_baseline", **overrides: Any) -> dict[str, Any]:
    """A tiny training params section: the post-baseline's recipe, or the baseline's."""
    return {**_POST_BASELINE, **(_BASELINE if variant == "train_baseline" else {}), **overrides}


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
