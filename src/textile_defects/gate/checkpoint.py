"""The gate's checkpoint: one self-describing file, written atomically and byte-deterministically.

It holds the encoder's weights, the memory bank and the threshold, and names
everything needed to use them (encoder, layers, neighbourhood, frame size,
normalisation, coreset settings, target specificity, the preprocessing), so
scoring a photo needs no params file. Loading uses ``torch.load(...,
weights_only=True)`` (no pickled code runs) and refuses any file that is not a
gate of this format.
"""

from __future__ import annotations

import io
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from textile_defects.errors import DataError
from textile_defects.gate.features import PatchFeatureExtractor
from textile_defects.gate.model import Gate, GateConfig
from textile_defects.models.registry import build_encoder
from textile_defects.utils.atomic import atomic_write_bytes

FORMAT = "textile-defects-gate"
FORMAT_VERSION = 1
PREPROCESSING = (
    "textile_defects.data.images.prepare_image at image_size (upright 8-bit RGB, resized when not already "
    "that size), scaled to [0, 1], then (x - mean) / std per channel"
)


def gate_payload(gate: Gate, config: GateConfig) -> dict[str, Any]:
    """Everything the file stores: plain values and tensors only (loadable with weights_only=True)."""
    settings = asdict(config)
    settings["image_size"] = list(config.image_size)
    settings["layers"] = list(config.layers)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": settings,
        "mean": list(gate.mean),
        "std": list(gate.std),
        "preprocessing": PREPROCESSING,
        "image_score": (
            "maximum patch score away from the frame border (border_patches rings left out); a patch score is the "
            "Euclidean distance of its feature (centred on the frame's mean when centre) to the nearest bank patch"
        ),
        "threshold": float(gate.threshold),
        "description": gate.description,
        "memory_bank": gate.bank.contiguous(),
        "encoder_state": {key: value.contiguous() for key, value in gate.extractor.encoder.state_dict().items()},
    }


def save_gate(gate: Gate, config: GateConfig, path: str | Path) -> Path:
    """Write ``gate`` to ``path`` atomically; equal gates give equal bytes."""
    buffer = io.BytesIO()
    torch.save(gate_payload(gate, config), buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_gate(path: str | Path) -> tuple[Gate, dict[str, Any]]:
    """Read a gate written by :func:`save_gate`; returns it and the file's full payload (for its description).

    Raises :class:`DataError` naming the file when it is missing, unreadable,
    or not a gate checkpoint of this format (e.g. a classifier checkpoint).
    """
    source = Path(path)
    if not source.is_file():
        raise DataError(f"{source}: gate checkpoint not found; build it with `dvc repro train_gate`.")
    try:
        payload = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for foreign or truncated files
        raise DataError(f"{source}: cannot be read as a gate checkpoint ({exc}); rebuild it with `dvc repro train_gate`.") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DataError(f"{source}: not a gate checkpoint (no format '{FORMAT}'); pass the file train_gate writes (models/gate.pt).")
    if payload.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{source}: gate format version {payload.get('format_version')!r}, this code reads {FORMAT_VERSION}; "
            "rebuild it with `dvc repro train_gate`."
        )
    settings = payload["config"]
    # weights=None: every weight comes from the file right after (and nothing logs a random initialisation).
    encoder, _ = build_encoder(settings["encoder"], None)
    encoder.load_state_dict(payload["encoder_state"], strict=True)
    encoder = encoder.to(memory_format=torch.channels_last)
    extractor = PatchFeatureExtractor(encoder, settings["layers"], int(settings["neighbourhood"]), settings["grid"])
    gate = Gate(
        extractor=extractor,
        mean=tuple(payload["mean"]),  # type: ignore[arg-type]
        std=tuple(payload["std"]),  # type: ignore[arg-type]
        image_size=(int(settings["image_size"][0]), int(settings["image_size"][1])),
        centre=bool(settings["centre"]),
        border_patches=int(settings["border_patches"]),
        bank=payload["memory_bank"],
        threshold=float(payload["threshold"]),
        description=payload["description"],
    )
    return gate, payload
