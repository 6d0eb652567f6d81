"""The type classifier's file: plain arrays in an .npz, loadable with numpy alone (no torch, no pickle).

Besides the fitted arrays it records the evidence it reads (parts, region
level, the frame size it reads them at) and the SHA-256 of the gate checkpoint whose maps it was fitted on: its
shape and profile cues are in that gate's terms, so a type model is refused
beside another gate rather than used silently.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from textile_defects.data.manifest import sha256_file
from textile_defects.errors import ConfigError
from textile_defects.naming.model import TypeModel
from textile_defects.utils.atomic import atomic_write_bytes

FORMAT = "textile-defects/type-model/1"


def save_type_model(model: TypeModel, gate_path: Path, path: Path) -> Path:
    """Write ``model`` with the hash of ``gate_path`` (the gate whose maps gave its evidence)."""
    header = {
        "format": FORMAT, "classes": list(model.classes), "parts": list(model.parts), "level": model.level,
        "border_patches": model.border_patches,
        "image_size": None if model.image_size is None else list(model.image_size),
        "gate_sha256": sha256_file(gate_path),
    }  # fmt: skip
    buffer = io.BytesIO()
    np.savez(buffer, header=np.array(json.dumps(header, sort_keys=True)), mean=model.mean, scale=model.scale,
             weights=model.weights, bias=model.bias)  # fmt: skip
    return atomic_write_bytes(path, buffer.getvalue())


def load_type_model(path: Path, gate_path: Path | None = None, *, gate_sha256: str | None = None) -> TypeModel:
    """Read a type model; with ``gate_path`` (or the gate checkpoint's ``gate_sha256``), refuse it unless fitted on that gate's maps."""
    if not Path(path).is_file():
        raise ConfigError(f"{path}: type model not found; run `dvc repro train_type` (or pass --type none).")
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(str(archive["header"]))
            arrays = {key: archive[key].astype(np.float64) for key in ("mean", "scale", "weights", "bias")}
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"{path}: not a type model file ({exc}); re-create it with `dvc repro train_type`.") from exc
    if header.get("format") != FORMAT:
        raise ConfigError(f"{path}: format {header.get('format')!r}, expected {FORMAT!r}; re-create it with `dvc repro train_type`.")
    expected = sha256_file(gate_path) if gate_path is not None else gate_sha256
    if expected is not None and expected != header["gate_sha256"]:
        raise ConfigError(
            f"{path} was fitted on the maps of another gate than {gate_path or 'the one in use'}; its cues would be read in the "
            "wrong terms. Re-run `dvc repro train_type` with this gate, or use the gate it came with."
        )
    return TypeModel(
        classes=tuple(header["classes"]), parts=tuple(header["parts"]), level=float(header["level"]),
        border_patches=int(header["border_patches"]),
        image_size=None if header.get("image_size") is None else (int(header["image_size"][0]), int(header["image_size"][1])),
        **arrays,
    )  # fmt: skip
