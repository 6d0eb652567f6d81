"""The one place the cross-validation calls the inference and encoder APIs.

:func:`predict_checkpoint` scores through THE inference path
(:func:`textile_defects.runtime.inference.predict_files`); :func:`encoder_features`
gives the probe its frozen features through THE preprocessing
(:func:`textile_defects.data.images.prepare_image`). Training is in
:mod:`textile_defects.crossval.training_adapter`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from textile_defects.crossval.scores import write_scores
from textile_defects.data.images import prepare_image
from textile_defects.data.loading import to_model_input
from textile_defects.data.manifest import read_manifest, resolve
from textile_defects.errors import DataError
from textile_defects.models.checkpoint import load_checkpoint
from textile_defects.models.registry import build_encoder
from textile_defects.runtime.devices import resolve_device
from textile_defects.runtime.inference import predict_files
from textile_defects.utils.logs import progress

log = logging.getLogger(__name__)


def predict_checkpoint(
    model_path: Path, image_paths: Sequence[Path], *, batch_size: int, device: str
) -> tuple[tuple[str, ...], np.ndarray]:
    """A checkpoint's classes and its (N, C) class probabilities for ``image_paths``, through THE inference path.

    Any unreadable image is a :class:`DataError`: an out-of-fold score must
    cover every original.
    """
    model, _ = load_checkpoint(model_path, map_location="cpu")
    predictions = list(
        predict_files(
            model, model.config.image_size, image_paths, resolve_device(device),
            batch_size=batch_size, desc=f"score {model_path.stem}",
        )
    )
    errors = [prediction.error for prediction in predictions if prediction.error is not None]
    if errors:
        raise DataError(f"{len(errors)} image(s) cannot be scored:\n  " + "\n  ".join(errors))
    return tuple(model.classes), np.stack([prediction.probabilities for prediction in predictions])


def score_fold_model(
    model_path: Path, scored_manifest: Path, fold: int, classes: Sequence[str], out: Path, *, batch_size: int, device: str
) -> None:
    """Write ``out``: the fold model's class probabilities for the originals its fold scores (the score-file contract).

    The one way the CV's stages and the sweep score a fold model; a model
    trained on other classes than ``classes`` is refused, never written under them.
    """
    rows = read_manifest(scored_manifest)
    model_classes, probabilities = predict_checkpoint(
        model_path, [resolve(scored_manifest, row) for row in rows], batch_size=batch_size, device=device
    )
    if tuple(model_classes) != tuple(classes):
        raise DataError(f"{model_path}: classes {list(model_classes)} differ from params classes {list(classes)}; retrain it.")
    write_scores(out, fold, [row["original_id"] for row in rows], [row["label"] for row in rows], probabilities, classes)


@torch.inference_mode()
def encoder_features(
    encoder: str,
    weights: str,
    image_paths: Sequence[Path],
    *,
    batch_size: int,
    device: str,
    input_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Pooled features (N, feature_dim) of whole frames, each resized to ``input_size`` (W, H).

    None: the encoder's ImageNet square (224 for efficientnet_lite0), which
    squeezes a 16:9 frame; a 16:9 size keeps its proportions.
    Pixels come from THE preprocessing (:func:`prepare_image`), normalised
    with the encoder's own mean and std, as the classifiers do.
    """
    net, spec = build_encoder(encoder, weights, input_size=input_size)
    setup = resolve_device(device)
    net = net.eval().to(setup.device)
    mean = torch.tensor(spec.mean, dtype=torch.float32, device=setup.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32, device=setup.device).view(1, 3, 1, 1)
    size = input_size or (spec.input_size, spec.input_size)
    chunks: list[np.ndarray] = []
    with progress(total=len(image_paths), desc=f"features {encoder}", unit="img") as bar:
        for start in range(0, len(image_paths), batch_size):
            batch = np.stack([prepare_image(path, size) for path in image_paths[start : start + batch_size]])
            pixels = to_model_input(torch.from_numpy(batch), setup.device, channels_last=setup.channels_last)
            with setup.autocast():
                features = net((pixels - mean) / std)
            chunks.append(features.float().flatten(1).cpu().numpy())
            bar.update(len(batch))
    log.info("features of %d image(s) from %s (%s weights) at %dx%d: %d values each", len(image_paths), encoder, weights, *size, spec.feature_dim)
    return np.concatenate(chunks).astype(np.float32)
