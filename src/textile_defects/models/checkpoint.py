"""Self-describing checkpoints: the weights plus everything needed to use them.

A checkpoint holds the state dict and, each stored once: the model's
:class:`~textile_defects.models.config.ModelConfig` (``model``: encoder,
head, classifier, input sizes, ...), the classes in logit order, the class
meaning good fabric, the preprocessing (resize filter and normalisation; the
image size is ``model.image_size``), the training params with their hash, and
library versions. Evaluation and inference need nothing else.

Saving is atomic and byte-deterministic: the same weights and metadata give
the same file, so DVC sees no change when nothing changed.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import pickle
import platform
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

import textile_defects
from textile_defects.data.images import RESIZE_FILTER
from textile_defects.errors import ConfigError, DataError
from textile_defects.models.config import ModelConfig
from textile_defects.models.network import DefectClassifier, build_model
from textile_defects.models.torchvision_import import import_torchvision
from textile_defects.utils.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

FORMAT = "textile-defects-checkpoint"
FORMAT_VERSION = 2
"""2: one ``model`` config, ``good_class`` and ``preprocessing``; 1 stored build_kwargs and classes three times."""


def _plain(value: Any) -> Any:
    """``value`` as plain JSON types with sorted keys (numpy scalars and paths converted)."""

    def convert(item: Any) -> Any:
        if hasattr(item, "item") and callable(item.item):  # numpy / torch scalars
            return item.item()
        if isinstance(item, Path):
            return str(item)
        raise TypeError(f"cannot store {type(item).__name__} in a checkpoint: {item!r}")

    return json.loads(json.dumps(value, sort_keys=True, default=convert, allow_nan=False))


def params_hash(params: Mapping[str, Any]) -> str:
    """SHA-256 of the params as canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(_plain(dict(params)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _unwrap(model: nn.Module) -> DefectClassifier:
    # DistributedDataParallel keeps the model in .module, torch.compile in ._orig_mod.
    while not isinstance(model, DefectClassifier):
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if inner is None:
            raise TypeError(f"expected a DefectClassifier (or a wrapper of one), got {type(model).__name__}")
        model = inner
    return model


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    *,
    good_class: str,
    params: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` to ``path`` atomically, with everything needed to use it.

    The architecture, input size and classes come from the model itself
    (``model.config``, ``model.classes``); ``good_class`` is the class meaning
    good fabric (every other class is a defect). ``params`` (the training
    settings) and ``extra`` (e.g. best epoch and metrics) must be JSON-like.
    Returns ``path``.
    """
    model = _unwrap(model)
    if good_class not in model.classes:
        raise ConfigError(f"good_class {good_class!r} is not one of the model's classes {list(model.classes)}.")
    plain_params = _plain(dict(params or {}))
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        # Contiguous CPU copies: bytes independent of device and memory format (channels_last).
        "state_dict": {key: value.detach().cpu().contiguous().clone() for key, value in model.state_dict().items()},
        "model": _plain(model.config.as_dict()),
        "classes": list(model.classes),
        "good_class": good_class,
        "preprocessing": {
            "pixels": "prepare_image: EXIF-upright 8-bit RGB, resized to model.image_size (W, H), scaled to [0, 1]",
            "resize": RESIZE_FILTER,
            "mean": list(model.spec.mean),
            "std": list(model.spec.std),
        },
        "encoder_weights": model.weights_source,
        "params": plain_params,
        "params_sha256": params_hash(plain_params),
        "versions": {
            "textile_defects": textile_defects.__version__,
            "torch": str(torch.__version__),
            "torchvision": str(import_torchvision().__version__),
            "python": platform.python_version(),
        },
        "extra": _plain(dict(extra or {})),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    target = atomic_write_bytes(path, buffer.getvalue())
    log.info("Saved checkpoint %s (%s, %d classes)", target, model.spec.name, len(model.classes))
    return target


def _read_payload(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DataError(
            f"Checkpoint {path} not found: train it first (`dvc repro`) or fetch it (`dvc pull {path}`)."
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"Checkpoint {path} cannot be read ({exc}); it is corrupt or truncated: rebuild it with "
            f"`dvc repro` or restore it with `dvc checkout {path}`."
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DataError(
            f"{path} is not a textile-defects checkpoint (no format {FORMAT!r}); a bare state dict or "
            "another project's file cannot be used: point at models/<variant>.pt written by the train stage."
        )
    version = payload.get("format_version", 0)
    if version > FORMAT_VERSION:
        raise DataError(
            f"Checkpoint {path} has format version {version}, newer than this code "
            f"understands ({FORMAT_VERSION}): update the textile-defects package."
        )
    if version < FORMAT_VERSION:
        raise DataError(
            f"Checkpoint {path} has format version {version}, older than this code reads ({FORMAT_VERSION}): "
            "re-train with dvc repro (the train stages rewrite it)."
        )
    if payload["preprocessing"]["resize"] != RESIZE_FILTER:
        raise DataError(
            f"Checkpoint {path} was trained on images resized with {payload['preprocessing']['resize']!r}, "
            f"but this code resizes with {RESIZE_FILTER!r}: re-train with dvc repro."
        )
    return payload


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[DefectClassifier, dict[str, Any]]:
    """Rebuild the model saved at ``path`` (in eval mode, on ``map_location``) and return its metadata.

    The model carries its config (``model.config``, with ``image_size``, the
    (W, H) it reads) and ``model.classes``. The metadata is the saved payload
    without the state dict: ``model``, ``classes``, ``good_class``,
    ``preprocessing``, ``encoder_weights``, ``params``, ``params_sha256``,
    ``versions``, ``extra``. Raises :class:`DataError` for a missing, corrupt,
    foreign or outdated file.
    """
    checkpoint_path = Path(path)
    payload = _read_payload(checkpoint_path)
    state_dict = payload.pop("state_dict")
    # Random initialisation is overwritten at once; keep it off the global RNG so
    # loading a model never changes what a seeded run draws next.
    try:
        config = ModelConfig.from_dict(payload["model"])
        with torch.random.fork_rng(devices=[]):
            model = build_model(config, payload["classes"], weights=None)
    except (KeyError, TypeError, ConfigError) as exc:
        raise DataError(
            f"Checkpoint {checkpoint_path} describes an architecture this code cannot build: {exc}"
        ) from exc
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise DataError(f"Checkpoint {checkpoint_path} does not match its own architecture: {exc}") from exc
    model.weights_source = payload["encoder_weights"]
    log.info(
        "Loaded checkpoint %s: encoder %s (started from %s weights), classes %s (good: %s), kept epoch %s",
        checkpoint_path, config.encoder, model.weights_source, list(model.classes), payload["good_class"],
        payload["extra"].get("kept_epoch", "n/a"),
    )
    return model.to(map_location).eval(), payload
