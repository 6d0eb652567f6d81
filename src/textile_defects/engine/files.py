"""An engine file's self-description, and the checks that keep a stale or foreign file from being used.

Every ONNX file the export writes carries one metadata entry (``textile_defects``,
JSON): the format and version, which model it is (``classifier`` or ``gate``),
the checkpoint it was exported from (file name and SHA-256), and what predict
needs to use it without that checkpoint (classes and good class, or threshold
and border ring; the frame size it reads; ingest's smallest accepted frame;
the preprocessing), plus the largest difference from PyTorch measured when it
was written. Reading it needs onnxruntime only (no torch, no onnx package).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textile_defects.errors import DataError

FORMAT = "textile-defects-engine"
FORMAT_VERSION = 1
METADATA_KEY = "textile_defects"
KINDS: tuple[str, ...] = ("classifier", "gate")
SUFFIX = ".onnx"

PROBABILITY_TOLERANCE = 1e-4
"""Largest absolute difference in any class probability the engine may show against PyTorch."""
SCORE_TOLERANCE = 1e-4
"""Largest difference in a gate patch or image score against PyTorch, relative to the gate's threshold."""


def engine_path(checkpoint: str | Path) -> Path:
    """Where a checkpoint's engine file lies: beside it, same name, ``.onnx`` (models/gate.pt -> models/gate.onnx)."""
    return Path(checkpoint).with_suffix(SUFFIX)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class EngineInfo:
    """What an engine file says about itself (its ``textile_defects`` metadata, checked)."""

    path: Path
    kind: str
    source_name: str
    source_sha256: str
    image_size: tuple[int, int]
    min_frame_size: tuple[int, int]
    values: dict[str, Any]

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.values["classes"])

    @property
    def good_class(self) -> str:
        return str(self.values["good_class"])

    @property
    def threshold(self) -> float:
        return float(self.values["threshold"])

    @property
    def border_patches(self) -> int:
        return int(self.values["border_patches"])


def parse_metadata(path: Path, custom: dict[str, str], kind: str) -> EngineInfo:
    """The :class:`EngineInfo` of ``path`` from its custom metadata map; a :class:`DataError` when foreign or of the wrong kind."""
    how = "re-export it with `dvc repro export_engine` (or `--engine torch` to run the checkpoint itself)"
    raw = custom.get(METADATA_KEY)
    if raw is None:
        raise DataError(f"{path}: an ONNX file without the {METADATA_KEY!r} description, not one the export wrote; {how}.")
    try:
        values = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: its {METADATA_KEY!r} description is not JSON ({exc}); {how}.") from exc
    if values.get("format") != FORMAT:
        raise DataError(f"{path}: not a {FORMAT} file (format {values.get('format')!r}); {how}.")
    if values.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{path}: engine format version {values.get('format_version')!r}, this code reads {FORMAT_VERSION}; {how}.")
    if values.get("kind") != kind:
        raise DataError(f"{path}: an engine file of the {values.get('kind')!r}, used here as the {kind}; pass the {kind}'s file.")
    source = values["source"]
    return EngineInfo(
        path=path,
        kind=kind,
        source_name=str(source["name"]),
        source_sha256=str(source["sha256"]),
        image_size=(int(values["image_size"][0]), int(values["image_size"][1])),
        min_frame_size=(int(values["min_frame_size"][0]), int(values["min_frame_size"][1])),
        values=values,
    )


def check_source(info: EngineInfo, checkpoint: str | Path) -> None:
    """Refuse ``info`` unless it was exported from exactly the bytes of ``checkpoint`` (its SHA-256)."""
    actual = sha256_file(checkpoint)
    if actual != info.source_sha256:
        raise DataError(
            f"{info.path} is stale: it was exported from a {info.source_name} with SHA-256 {info.source_sha256[:12]}..., "
            f"but {checkpoint} now has {actual[:12]}... (retrained, or another model). Re-export it with "
            "`dvc repro export_engine`, or run the checkpoint itself with `--engine torch`."
        )
