"""Fitting the type classifier on training images, and naming scored photos with it.

Its answer is handed to a whole-frame classifier by
:func:`textile_defects.naming.scores.reorder_defects`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from textile_defects.data.images import prepare_image
from textile_defects.data.manifest import read_manifest, resolve
from textile_defects.naming.evidence import EvidenceExtractor
from textile_defects.naming.model import TypeModel, fit_type_model
from textile_defects.utils.logs import progress


def defect_images(manifests: Sequence[Path], good_class: str) -> list[tuple[Path, str]]:
    """(path, label) of every defect image of ``manifests`` (training images: originals, copies, composites)."""
    return [(resolve(manifest, row), row["label"]) for manifest in manifests for row in read_manifest(manifest) if row["label"] != good_class]


def fit_on_images(
    extractor: EvidenceExtractor, images: Sequence[tuple[Path, str]], defect_classes: Sequence[str], *, c: float, seed: int
) -> TypeModel:
    """The type classifier fitted on the evidence of ``images`` (their gate maps computed here)."""
    evidence = extractor.from_files([path for path, _ in images], desc="type evidence (training)")
    features = np.stack([item.vector(extractor.parts) for item in evidence])
    model = fit_type_model(features, [label for _, label in images], defect_classes, extractor.parts, c=c, seed=seed, level=extractor.level)
    return dataclasses.replace(model, border_patches=extractor.gate.border_patches, image_size=extractor.image_size)


def name_images(
    extractor: EvidenceExtractor, model: TypeModel, paths: Sequence[Path], maps: Mapping[int, np.ndarray] | None = None
) -> np.ndarray:
    """(N, D) type probabilities of ``paths``; ``maps[i]``, where given, is image i's patch map already computed by the gate."""
    rows = []
    for i, path in enumerate(progress(list(paths), desc="type evidence (scored)", unit="img")):
        patch_map = None if maps is None else maps.get(i)
        if patch_map is None:
            frame, gate_frame = extractor.read(path)
        else:  # the map is given: the photo is read at the evidence's size only
            frame, gate_frame = prepare_image(path, extractor.image_size), None
        evidence = extractor.from_frame(frame, patch_map, gate_frame)
        rows.append(evidence.vector(model.parts))
    return model.probabilities(np.stack(rows)) if rows else np.zeros((0, len(model.classes)))
