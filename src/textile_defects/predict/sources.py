"""Which files predict reads, and how a file is named in its output."""

from __future__ import annotations

from pathlib import Path

from textile_defects.data.images import has_supported_suffix, is_ignored_name
from textile_defects.errors import DataError


def is_candidate(path: Path, source: Path) -> bool:
    """A .jpg/.jpeg/.png file below ``source`` with no hidden or system part in its relative path."""
    parts = path.relative_to(source).parts
    return has_supported_suffix(path) and not any(is_ignored_name(part) for part in parts)


def find_images(source: Path) -> list[Path]:
    """``source`` itself when it is a file, else every .jpg/.jpeg/.png below it, sorted.

    Hidden files and folders (``.DS_Store``, ``.thumbnails``) and operating
    system leftovers (``Thumbs.db``, ``__MACOSX``) are skipped.
    """
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise DataError(f"{source}: no such file or folder; pass an image or a folder of images.")
    found = [path for path in source.rglob("*") if path.is_file() and is_candidate(path, source)]
    return sorted(found, key=lambda path: path.relative_to(source).as_posix())


def display_path(path: Path, source: Path) -> str:
    """How a file is named in the output: relative to ``source`` when that is a folder."""
    return path.relative_to(source).as_posix() if source.is_dir() else str(path)
