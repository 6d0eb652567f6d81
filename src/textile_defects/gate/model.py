"""Building and applying a gate: good photos in, memory bank and threshold out; files in, scores out.

Building (:func:`fit_gate`) splits the good training originals into
``threshold_folds`` folds (each original with its augmented copies) and takes
a greedy k-center coreset of each fold's patches. The memory bank is the union
of the fold coresets, a composable coreset (a union of k-center coresets of
the parts is a k-center coreset of the whole within a constant factor), which
costs 1/folds of one greedy pass over everything. The same parts give the
threshold for free: each fold's originals are scored against the other folds'
coresets only, so no good photo is scored by a bank that holds its own patches.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textile_defects.data.images import prepare_image
from textile_defects.data.manifest import read_manifest, resolve
from textile_defects.errors import ConfigError, DataError
from textile_defects.gate.features import GRIDS, PatchFeatureExtractor, normalise, patch_features
from textile_defects.gate.memory import greedy_coreset, nearest_distances
from textile_defects.gate.threshold import leave_out_folds, threshold_for_specificity
from textile_defects.models.registry import build_encoder, get_entry
from textile_defects.utils.logs import progress
from textile_defects.utils.params import SectionReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateConfig:
    """How a gate is built: the ``gate`` section of params.yaml plus the top-level encoder."""

    encoder: str
    weights: str
    image_size: tuple[int, int]
    layers: tuple[str, ...]
    grid: str
    neighbourhood: int
    centre: bool
    border_patches: int
    coreset_ratio: float
    projection_dim: int
    augmented_copies: int
    target_specificity: float
    threshold_folds: int
    seed: int

    @classmethod
    def from_section(cls, values: Mapping[str, Any], *, encoder: str, weights: str) -> GateConfig:
        """Validate params ``gate`` (every problem at once); ``encoder``/``weights`` are the top-level keys."""
        reader = SectionReader(values, "gate")
        config = cls(
            encoder=encoder,
            weights=weights,
            image_size=reader.int_pair("image_size", minimum=32),
            layers=_patch_layers(reader, encoder),
            grid=reader.choice("grid", GRIDS),
            neighbourhood=reader.integer("neighbourhood", minimum=1),
            centre=reader.boolean("centre"),
            border_patches=reader.integer("border_patches", minimum=0),
            coreset_ratio=reader.number("coreset_ratio", above=0.0, maximum=1.0),
            projection_dim=reader.integer("projection_dim", minimum=1),
            augmented_copies=reader.integer("augmented_copies", minimum=0),
            target_specificity=reader.number("target_specificity", above=0.0, maximum=1.0),
            threshold_folds=reader.integer("threshold_folds", minimum=2),
            seed=reader.integer("seed", minimum=0),
        )
        if config.neighbourhood % 2 == 0:
            reader.problem("neighbourhood", config.neighbourhood, "an odd integer (the pooling window is centred)")
        # gate.report belongs to the evaluation (GateReportConfig), not to building a gate.
        reader.finish(known=[*reader.read, "report"])
        return config


AUTO_LAYERS = "auto"
"""``gate.layers: auto``: the encoder's own patch maps from the registry (about stride 8 and 16)."""


def _patch_layers(reader: SectionReader, encoder: str) -> tuple[str, ...]:
    """``gate.layers``: "auto" (the registry's maps for ``encoder``) or an explicit list of module paths.

    The resolved paths are what the gate records, so a checkpoint built with
    ``auto`` names its layers like one built with the explicit list.
    """
    value = reader.raw("layers")
    if value == AUTO_LAYERS:
        try:
            return tuple(layer.path for layer in get_entry(encoder).spec.patch_layers)
        except ConfigError as error:
            reader.problem("layers", value, f"a registered encoder to take them from ({error})")
            return ()
    if value is not None and not (
        isinstance(value, list) and value and all(isinstance(x, str) and x for x in value) and len(set(value)) == len(value)
    ):
        reader.problem("layers", value, f"{AUTO_LAYERS!r} or a non-empty list of distinct module paths")
        return ()
    return tuple(value or ())


@dataclass(frozen=True)
class TrainingImage:
    """One good training image: its file, its original, and whether it is that original itself."""

    path: Path
    original_id: str
    is_original: bool


@dataclass
class Gate:
    """A built gate: patch extractor, memory bank (K, D), threshold and its self-description.

    ``centre`` and ``border_patches`` are as in :class:`GateConfig`; ``description`` holds everything the checkpoint records besides tensors
    (config, grid, training counts, held-out scores).
    """

    extractor: PatchFeatureExtractor
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    image_size: tuple[int, int]
    centre: bool
    border_patches: int
    bank: torch.Tensor
    threshold: float
    description: dict[str, Any] = field(default_factory=dict)

    def patch_scores(self, image: np.ndarray) -> np.ndarray:
        """Patch-score map (h, w) float32 of one (H, W, 3) uint8 frame at :attr:`image_size`."""
        rows, (height, width) = patch_features(self.extractor, normalise(image[None], self.mean, self.std), centre=self.centre)
        return nearest_distances(rows, self.bank).view(height, width).numpy()

    def image_score(self, patch_map: np.ndarray) -> float:
        """The largest patch score away from the frame's border (see :func:`interior_max`)."""
        return interior_max(patch_map, self.border_patches)

    def score_files(self, paths: Sequence[str | Path], *, desc: str = "gate scores") -> tuple[np.ndarray, list[np.ndarray]]:
        """Image scores (N,) (the largest patch score) and patch-score maps of image files.

        Pixels come through the project's one preprocessing function
        (:func:`~textile_defects.data.images.prepare_image`) at the gate's frame size.
        """
        maps = [self.patch_scores(prepare_image(path, self.image_size)) for path in progress(paths, desc=desc, unit="img")]
        return np.array([self.image_score(m) for m in maps], dtype=np.float64), maps

    def is_defective(self, scores: np.ndarray) -> np.ndarray:
        """The gate's verdict: score above the threshold."""
        return np.asarray(scores) > self.threshold


def interior_max(patch_map: np.ndarray | torch.Tensor, border_patches: int) -> float:
    """The largest patch score, leaving out ``border_patches`` rings of patches at the frame's edge.

    Edge patches see the encoder's zero padding and the lens's darkest
    corners: on good photos they hold the largest scores (docs/gate.md), so
    they would set the threshold. A defect inside that ring alone is missed.
    """
    b = border_patches
    height, width = patch_map.shape[-2:]
    if b and (height <= 2 * b or width <= 2 * b):
        raise ValueError(f"a {height}x{width} patch grid has no interior with border_patches={b}")
    inner = patch_map[b : height - b, b : width - b] if b else patch_map
    return float(inner.max())


def build_extractor(config: GateConfig) -> tuple[PatchFeatureExtractor, tuple[Any, Any]]:
    """The encoder of ``config`` as a patch extractor (channels-last), and its (mean, std)."""
    encoder, spec = build_encoder(config.encoder, config.weights)
    encoder = encoder.to(memory_format=torch.channels_last)
    extractor = PatchFeatureExtractor(
        encoder, config.layers, config.neighbourhood, config.grid, usable=spec.feature_map_paths, encoder_name=spec.name
    )
    return extractor, (spec.mean, spec.std)


def fit_gate(config: GateConfig, images: Sequence[TrainingImage]) -> Gate:
    """Build a gate from good training images (originals and augmented copies).

    Copies are used up to ``config.augmented_copies`` per original (in the
    order given). Raises :class:`DataError` when there are fewer good
    originals than ``threshold_folds``.
    """
    torch.manual_seed(config.seed)
    chosen = _limit_copies(images, config.augmented_copies)
    folds = leave_out_folds([image.original_id for image in chosen if image.is_original], config.threshold_folds)
    extractor, (mean, std) = build_extractor(config)
    coresets: list[torch.Tensor] = []
    held_out: list[list[tuple[str, torch.Tensor, tuple[int, int]]]] = []
    patch_total = 0
    for fold_index, originals in enumerate(folds):
        members = set(originals)
        fold_images = [image for image in chosen if image.original_id in members]
        rows, originals_rows = [], []
        for image in progress(fold_images, desc=f"gate features {fold_index + 1}/{len(folds)}", unit="img"):
            pixels = prepare_image(image.path, config.image_size)
            features, grid = patch_features(extractor, normalise(pixels[None], mean, std), centre=config.centre)
            rows.append(features)
            if image.is_original:
                originals_rows.append((image.original_id, features, grid))
        fold_rows = torch.cat(rows)
        patch_total += fold_rows.shape[0]
        size = max(1, math.ceil(config.coreset_ratio * fold_rows.shape[0]))
        picked = greedy_coreset(fold_rows, size, projection_dim=config.projection_dim, seed=config.seed + fold_index)
        coresets.append(fold_rows[picked].clone())
        held_out.append(originals_rows)
        log.info("gate fold %d: %d images, %d patches -> %d in its coreset", fold_index, len(fold_images), fold_rows.shape[0], size)
    held_out_scores: dict[str, float] = {}
    for fold_index, originals_rows in enumerate(held_out):
        others = torch.cat([coreset for index, coreset in enumerate(coresets) if index != fold_index])
        for original_id, features, (height, width) in originals_rows:
            patch_map = nearest_distances(features, others).view(height, width)
            held_out_scores[original_id] = interior_max(patch_map, config.border_patches)
    threshold = threshold_for_specificity(list(held_out_scores.values()), config.target_specificity)
    grid = held_out[0][0][2]
    description = {
        "grid": list(grid),
        "patch_stride_px": [config.image_size[1] / grid[0], config.image_size[0] / grid[1]],
        "training_originals": len(held_out_scores),
        "training_images": len(chosen),
        "training_patches": patch_total,
        "held_out_scores": {key: round(value, 6) for key, value in sorted(held_out_scores.items())},
    }
    log.info(
        "gate: bank of %d patches from %d images (%d originals); threshold %.4f for specificity %.2f on held-out good originals",
        sum(c.shape[0] for c in coresets), len(chosen), len(held_out_scores), threshold, config.target_specificity,
    )
    return Gate(
        extractor, tuple(mean), tuple(std), config.image_size, config.centre, config.border_patches,
        torch.cat(coresets), threshold, description,
    )


def _limit_copies(images: Sequence[TrainingImage], copies: int) -> list[TrainingImage]:
    """Every original, and at most ``copies`` augmented copies of each (the first ones given)."""
    taken: dict[str, int] = {}
    chosen = []
    for image in images:
        if not image.is_original:
            if taken.get(image.original_id, 0) >= copies:
                continue
            taken[image.original_id] = taken.get(image.original_id, 0) + 1
        chosen.append(image)
    originals = {image.original_id for image in chosen if image.is_original}
    orphans = sorted({image.original_id for image in chosen} - originals)
    if orphans:
        raise DataError(f"augmented copies of {orphans[:3]} have no original among the gate's training images.")
    return chosen


def good_training_images(
    train_manifest: str | Path, augmented_manifest: str | Path | None, good_class: str
) -> list[TrainingImage]:
    """The good originals of a split manifest, then their augmented copies (copy_index >= 1, in copy order).

    Copy 0 of an augmented set is the original itself (``keep_original``), so it is not taken twice.
    """
    rows = [row for row in read_manifest(train_manifest) if row["label"] == good_class]
    if not rows:
        raise DataError(f"{train_manifest}: no '{good_class}' photo; the gate learns from good training photos only.")
    images = [TrainingImage(resolve(train_manifest, row), row["original_id"], True) for row in rows]
    if augmented_manifest is not None:
        originals = {row["original_id"] for row in rows}
        copies = [
            row
            for row in read_manifest(augmented_manifest)
            if row["label"] == good_class and row["original_id"] in originals and int(row["copy_index"] or 0) >= 1
        ]
        copies.sort(key=lambda row: (int(row["copy_index"]), row["original_id"]))
        images += [TrainingImage(resolve(augmented_manifest, row), row["original_id"], False) for row in copies]
    return images
