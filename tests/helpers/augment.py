"""Augment settings for tests, written here so that editing params.yaml cannot break a unit test; a tiny split.

The values mirror the committed defaults (the report's policy) at the time
of writing; ``tests/pipeline/test_augment_defaults.py`` is where params.yaml
itself is checked.
"""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from textile_defects.augment.geometry import warp_mask
from textile_defects.augment.ops import Operation
from textile_defects.augment.settings import AugmentPolicy, AugmentSettings
from textile_defects.data.ingest import assign_original_ids
from textile_defects.data.manifest import COLUMNS
from textile_defects.data.sample import image_name, make_image

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


# --- a tiny split: originals laid out as ingest and split leave them ---

WIDTH, HEIGHT = 128, 72
"""Size of the split's originals."""
ORIGINALS = [("non_defect", "a"), ("non_defect", "b"), ("hole", "c"), ("needle", "d")]
"""(label, source name) of each original in the split."""


def write_split(root: Path) -> Path:
    """Originals laid out as ingest and split leave them; returns the split manifest."""
    rows = []
    for number, (label, name) in enumerate(ORIGINALS):
        rng = np.random.default_rng(number)
        pixels = rng.integers(30, 220, size=(HEIGHT // 4, WIDTH // 4, 3), dtype=np.uint8)
        image = Image.fromarray(pixels).resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)
        original_id = f"{label}__{name}"
        target = root / "ingested" / "images" / label / f"{original_id}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target)
        rows.append(
            {
                "path": f"../../ingested/images/{label}/{original_id}.png",
                "label": label,
                "original_id": original_id,
                "source_file": f"{label}/{name}.png",
                "split": "val",
            }
        )
    manifest = root / "split" / "val" / "manifest.csv"
    manifest.parent.mkdir(parents=True)
    with open(manifest, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n", restval="")
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``: relative path -> bytes."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


# --- defects in frame: the sample's ground-truth masks under augmentation ---

MASK_SIZE = (254, 144)
"""A fifth of the report's size: the ranges are fractions of the frame, so the geometry is the same."""


def sample_defect_masks(counts: dict[str, int], seed: int) -> dict[str, tuple[str, Image.Image]]:
    """original_id (as ingest names the sample files) -> (label, mask), for ``counts[label]`` defect photos each."""
    masks = {}
    for label, count in counts.items():
        for index in range(count):
            _, mask = make_image(label, index, seed, *MASK_SIZE)
            assert mask is not None, f"{label} is not a defect class"
            source_file = f"{label}/{image_name(label, index)}"
            original_id = assign_original_ids(label, [source_file])[source_file]
            masks[original_id] = (label, mask)
    return masks


def share_in_frame(mask: Image.Image, operations: list[Operation]) -> float:
    """Share of the warped defect that lies inside the frame.

    The mask is warped onto a canvas wide enough to hold all of it, so the
    part inside the frame and the whole come from the same sampling.
    """
    margin = max(mask.size) // 2  # far more than any range here moves a pixel
    warped = np.asarray(warp_mask(mask, operations, margin_px=margin)) > 0
    inside = warped[margin:-margin, margin:-margin]
    return np.count_nonzero(inside) / np.count_nonzero(warped)
