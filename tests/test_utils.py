"""Shared plumbing: atomic outputs, name-derived seeds, manifests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from textile_defects.data.manifest import COLUMNS, read_manifest, relative_to_manifest, resolve, write_manifest
from textile_defects.errors import DataError
from textile_defects.utils.atomic import atomic_output_dir, atomic_write_json
from textile_defects.utils.seeding import derive_seed, rng_for


def test_atomic_output_dir_keeps_the_previous_output_when_the_writer_fails(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with atomic_output_dir(out) as staging:
        (staging / "a.txt").write_text("first")
    with pytest.raises(RuntimeError):
        with atomic_output_dir(out) as staging:
            (staging / "a.txt").write_text("half")
            raise RuntimeError("killed midway")
    assert (out / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "no staging folder is left behind"


def test_a_killed_writer_leaves_no_output_for_dvc_to_record(tmp_path: Path) -> None:
    script = (
        "import os, signal\n"
        "from textile_defects.utils.atomic import atomic_output_dir\n"
        f"with atomic_output_dir({str(tmp_path / 'out')!r}) as d:\n"
        "    (d / 'part.bin').write_bytes(b'x' * 1000)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert result.returncode == -9
    assert not (tmp_path / "out").exists()


def test_atomic_json_is_stable_and_sorted(tmp_path: Path) -> None:
    target = atomic_write_json(tmp_path / "m.json", {"b": 1, "a": {"d": 2.5, "c": [1, 2]}})
    assert target.read_text() == '{\n  "a": {\n    "c": [\n      1,\n      2\n    ],\n    "d": 2.5\n  },\n  "b": 1\n}\n'
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "nan.json", {"x": float("nan")})
    assert not (tmp_path / "nan.json").exists()


def test_derived_seeds_are_stable_across_processes_and_distinct_per_name() -> None:
    here = derive_seed(101, "hole-hole_000", 3)
    there = subprocess.run(
        [sys.executable, "-c", "from textile_defects.utils.seeding import derive_seed; print(derive_seed(101, 'hole-hole_000', 3))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert str(here) == there
    seeds = {derive_seed(101, "hole-hole_000", k) for k in range(1000)}
    assert len(seeds) == 1000
    assert derive_seed(1, "ab", "c") != derive_seed(1, "a", "bc"), "parts are separated, not concatenated"
    assert rng_for(1, "x").integers(1 << 30) == rng_for(1, "x").integers(1 << 30)


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
