"""Manifests: the CSV every data stage writes beside its images.

One row per image. Downstream stages read manifests, never directory
listings. ``path`` is relative to the folder holding the manifest, so a
manifest and its images move together, and a split manifest can point at
images in another stage's folder (``../ingested/hole/x.png``) without
copying them.

Columns (a stage fills the ones that apply and leaves the rest empty):

- ``path``: image file, relative to the manifest's folder
- ``label``: class name
- ``original_id``: the raw image this one descends from (lineage)
- ``sha256``, ``width``, ``height``: of the file at ``path``
- ``source_file``: the raw file, relative to the raw folder (ingest)
- ``split``: ``train`` or ``val`` (split and later)
- ``copy_index``: which augmented copy of its original (augment)
- ``operations``: JSON list of the operations applied, with drawn parameters
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Mapping
from pathlib import Path

from textile_defects.errors import DataError
from textile_defects.utils.atomic import atomic_write_text

MANIFEST_NAME = "manifest.csv"

IMAGES_DIR = "images"
"""Folder beside a stage's manifest holding its images, one subfolder per class."""

COLUMNS: tuple[str, ...] = (
    "path",
    "label",
    "original_id",
    "sha256",
    "width",
    "height",
    "source_file",
    "split",
    "copy_index",
    "operations",
)
REQUIRED: tuple[str, ...] = ("path", "label", "original_id")


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(path: str | Path, rows: Iterable[Mapping[str, object]]) -> Path:
    """Write rows atomically, in a stable order (by ``path``), with all columns."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="raise", lineterminator="\n")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: str(r["path"])):
        writer.writerow({column: "" if row.get(column) is None else row.get(column) for column in COLUMNS})
    return atomic_write_text(path, buffer.getvalue())


def read_manifest(path: str | Path) -> list[dict[str, str]]:
    """Read a manifest; a missing file or column is a :class:`DataError` naming it."""
    manifest_path = Path(path)
    if not manifest_path.is_file():
        raise DataError(f"{manifest_path}: manifest not found; run the stage that writes it (dvc repro).")
    with open(manifest_path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{manifest_path}: missing column(s) {missing}; expected at least {list(REQUIRED)}.")
        return [dict(row) for row in reader]


def resolve(manifest_path: str | Path, row: Mapping[str, str]) -> Path:
    """Absolute-ish path of a row's image (relative paths are from the manifest's folder)."""
    return (Path(manifest_path).parent / row["path"]).resolve()


def relative_to_manifest(manifest_path: str | Path, image_path: str | Path) -> str:
    """``image_path`` as a POSIX path relative to the manifest's folder."""
    import os

    rel = os.path.relpath(Path(image_path).resolve(), Path(manifest_path).parent.resolve())
    return Path(rel).as_posix()
