"""The one place the cross-validation calls the training, inference and encoder APIs.

Everything else under :mod:`textile_defects.crossval` works on manifests,
arrays and CSVs, so a change in those APIs is met here, in three functions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textile_defects.data.images import prepare_image
from textile_defects.data.loading import to_model_input
from textile_defects.devices import resolve_device
from textile_defects.errors import DataError
from textile_defects.inference import predict_files
from textile_defects.models.checkpoint import load_checkpoint
from textile_defects.models.registry import build_encoder
from textile_defects.training.config import TrainConfig
from textile_defects.training.trainer import TrainJob, train
from textile_defects.utils.logs import progress

log = logging.getLogger(__name__)


def train_fold_model(
    settings: Mapping[str, Any],
    section_name: str,
    *,
    variant: str,
    encoder: str,
    weights: str,
    classes: Sequence[str],
    good_class: str,
    train_manifest: Path,
    model_path: Path,
    history_path: Path,
) -> None:
    """Train one fold's model on ``train_manifest`` alone (no validation set: a fixed schedule).

    ``settings`` is a complete training section (the variant's, with the CV
    overrides applied); ``section_name`` names it in error messages.
    """
    config = TrainConfig.from_section(settings, section_name, encoder=encoder)
    if config.selection != "last":
        raise DataError(
            f"{section_name}: selection is {config.selection!r}; the cross-validation trains on a fixed schedule "
            "(selection: last) because its only held-out photos are the ones it scores. "
            "Set crossval.train_overrides.selection: last."
        )
    train(
        TrainJob(
            variant=f"train_{variant}",
            config=config,
            weights=weights,
            classes=tuple(classes),
            good_class=good_class,
            train_manifest=train_manifest,
            val_manifest=None,
            model_path=model_path,
            history_path=history_path,
        )
    )


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


@torch.inference_mode()
def encoder_features(
    encoder: str, weights: str, image_paths: Sequence[Path], *, batch_size: int, device: str
) -> np.ndarray:
    """Pooled features (N, feature_dim) of whole frames, each resized to the encoder's square input.

    Pixels come from THE preprocessing (:func:`prepare_image`), normalised
    with the encoder's own mean and std, as the classifiers do.
    """
    net, spec = build_encoder(encoder, weights)
    setup = resolve_device(device)
    net = net.eval().to(setup.device)
    mean = torch.tensor(spec.mean, dtype=torch.float32, device=setup.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32, device=setup.device).view(1, 3, 1, 1)
    size = (spec.input_size, spec.input_size)
    chunks: list[np.ndarray] = []
    with progress(total=len(image_paths), desc=f"features {encoder}", unit="img") as bar:
        for start in range(0, len(image_paths), batch_size):
            batch = np.stack([prepare_image(path, size) for path in image_paths[start : start + batch_size]])
            pixels = to_model_input(torch.from_numpy(batch), setup.device, channels_last=setup.channels_last)
            with setup.autocast():
                features = net((pixels - mean) / std)
            chunks.append(features.float().flatten(1).cpu().numpy())
            bar.update(len(batch))
    log.info("features of %d image(s) from %s (%s weights): %d values each", len(image_paths), encoder, weights, spec.feature_dim)
    return np.concatenate(chunks).astype(np.float32)
