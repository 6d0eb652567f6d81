"""The type classifier's two jobs in the pipeline: fitted from a gate and training manifests, naming scored photos.

train_type fits it on the pipeline's gate; cv_type fits one per fold on the
fold's gate and names the fold's scored originals; holdout_type names the
hold-out with the pipeline's. The scored photos' evidence comes from the patch
maps their gate stage already wrote, so no photo is run through the gate twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textile_defects.data.manifest import read_manifest, resolve
from textile_defects.errors import DataError
from textile_defects.gate.localisation import load_maps
from textile_defects.gate.model import Gate
from textile_defects.naming.checkpoint import load_type_model, save_type_model
from textile_defects.naming.classify import defect_images, fit_on_images, name_images
from textile_defects.naming.config import NamingConfig
from textile_defects.naming.evidence import extractor_for
from textile_defects.naming.model import TypeModel


def fit_type_classifier(
    gate: Gate,
    gate_path: Path,
    config: NamingConfig,
    manifests: Sequence[Path],
    good_class: str,
    defect_classes: Sequence[str],
    *,
    encoder: str,
    weights: str,
    out: Path,
) -> tuple[TypeModel, int]:
    """Fit on the defect images of ``manifests`` (their maps by ``gate``), write ``out``; returns the model and the image count."""
    extractor = extractor_for(gate, config.evidence, config.level, encoder, weights, config.image_size)
    images = defect_images(manifests, good_class)
    model = fit_on_images(extractor, images, defect_classes, c=config.c, seed=config.seed)
    save_type_model(model, gate_path, out)
    return model, len(images)


def load_for_gate(path: Path, gate_path: Path, defect_classes: Sequence[str]) -> TypeModel:
    """A trained type model, refused when fitted on another gate's maps or naming other classes than ``defect_classes``."""
    model = load_type_model(path, gate_path)
    if model.classes != tuple(defect_classes):
        raise DataError(f"{path}: names {list(model.classes)}, but params' defect classes are {list(defect_classes)}; re-run train_type.")
    return model


def name_from_maps(
    gate: Gate, model: TypeModel, scored_manifest: Path, maps_path: Path, *, encoder: str, weights: str
) -> tuple[list[dict[str, str]], np.ndarray]:
    """(scored rows, their (N, D) type probabilities), the evidence read from the gate stage's ``maps_path``."""
    rows = read_manifest(scored_manifest)
    maps = load_maps([maps_path])
    missing = [row["original_id"] for row in rows if row["original_id"] not in maps]
    if missing:
        raise DataError(f"{maps_path}: no patch map of {missing[:5]}; re-run the gate stage that writes it.")
    extractor = extractor_for(gate, model.parts, model.level, encoder, weights, model.image_size)
    paths = [resolve(scored_manifest, row) for row in rows]
    return rows, name_images(extractor, model, paths, {i: maps[row["original_id"]] for i, row in enumerate(rows)})
