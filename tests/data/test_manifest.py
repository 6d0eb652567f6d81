"""Manifests: sorted rows, paths relative to the manifest, errors that name the file and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from textile_defects.data.manifest import COLUMNS, read_manifest, relative_to_manifest, resolve, write_manifest
from textile_defects.errors import DataError


def test_manifest_round_trip_is_sorted_and_resolves_relative_paths(tmp_path: Path) -> None:
    images = tmp_path / "ingested" / "images"
    images.mkdir(parents=True)
    (images / "b.png").write_bytes(b"b")
    manifest = tmp_path / "split" / "train" / "manifest.csv"
    rows = [
        {"path": relative_to_manifest(manifest, images / "b.png"), "label": "hole", "original_id": "b", "width": 3},
        {"path": "../../ingested/images/a.png", "label": "hole", "original_id": "a"},
    ]
    write_manifest(manifest, rows)
    read = read_manifest(manifest)
    assert [row["original_id"] for row in read] == ["a", "b"]
    assert list(read[0]) == list(COLUMNS)
    assert read[1]["width"] == "3" and read[0]["width"] == ""
    assert resolve(manifest, read[1]).read_bytes() == b"b"


def test_reading_a_broken_manifest_names_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="manifest not found; run the stage"):
        read_manifest(tmp_path / "missing.csv")
    broken = tmp_path / "manifest.csv"
    broken.write_text("file,label\nx.png,hole\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['path', 'original_id'\]"):
        read_manifest(broken)
