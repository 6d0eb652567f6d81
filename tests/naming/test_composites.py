"""Composites: from the training photos given, recorded in the manifest, never from a fold's scored photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from textile_defects.data.manifest import read_manifest, write_manifest
from textile_defects.errors import DataError
from textile_defects.gate.checkpoint import load_gate
from textile_defects.naming.composites import check_composites_independent, composite_grid, transplant_records, write_composites
from textile_defects.naming.transplant import TransplantSettings

from tests.helpers.gate import knit_texture, tiny_gate_and_photos, write_png

SETTINGS = TransplantSettings(
    seed=3, composites_per_class={"hole": 3, "needle": 2}, segment_probability={"hole": 0.0, "needle": 1.0},
    segment_fraction=(0.5, 1.0), margin_px=2, align_px=2,
)  # fmt: skip


def photo_set(folder: Path, width: int = 160, height: int = 96) -> tuple[Path, list[dict[str, str]]]:
    """Good photos and spotted / lined defect photos, in one manifest; returns it and its rows."""
    rows = []
    for i in range(5):
        rows.append(("non_defect", f"good_{i}", knit_texture(100 + i, width, height)))
    for i in range(2):
        spotted = knit_texture(200 + i, width, height)
        spotted[40 + 10 * i : 55 + 10 * i, 60:80] = 250
        rows.append(("hole", f"hole_{i}", spotted))
        lined = knit_texture(300 + i, width, height)
        lined[10:86, 100 + 10 * i : 103 + 10 * i] = 20
        rows.append(("needle", f"needle_{i}", lined))
    manifest_rows = []
    for label, original, pixels in rows:
        write_png(folder / "images" / label / f"{original}.png", pixels)
        manifest_rows.append({"path": f"images/{label}/{original}.png", "label": label, "original_id": original,
                              "source_file": f"{label}/{original}.png", "split": "train"})  # fmt: skip
    manifest = folder / "manifest.csv"
    write_manifest(manifest, manifest_rows)
    return manifest, manifest_rows


def test_composites_come_from_the_training_photos_given_and_say_what_went_where(tmp_path: Path) -> None:
    gate_path, _ = tiny_gate_and_photos(tmp_path / "gate")
    gate, _ = load_gate(gate_path)
    manifest, rows = photo_set(tmp_path / "train")
    training = {row["original_id"] for row in rows}
    made = write_composites(manifest, gate, SETTINGS, good_class="non_defect", level=0.5, nearest=3, out=tmp_path / "out")
    written = read_manifest(tmp_path / "out" / "manifest.csv")
    assert sorted(r["label"] for r in written) == ["hole"] * 3 + ["needle"] * 2
    for row, (source, background) in zip(written, transplant_records(written), strict=True):
        assert source in training and source.startswith(row["label"]) and background.startswith("good_")
        record = json.loads(row["operations"])["transplant"]
        assert set(record) >= {"background", "box", "shift", "segment_fraction"}
        assert (tmp_path / "out" / row["path"]).is_file() and len(row["sha256"]) == 64
    grid = composite_grid(made, columns=3, thumb_width=80)
    assert grid.dtype == np.uint8 and grid.shape[1] == 240
    # The same inputs give the same composites (a pure function of the seed and the photos).
    again = write_composites(manifest, gate, SETTINGS, good_class="non_defect", level=0.5, nearest=3, out=tmp_path / "again")
    assert [r["sha256"] for r in again.rows] == [r["sha256"] for r in made.rows]


def test_a_fold_refuses_composites_that_carry_a_scored_photo(tmp_path: Path) -> None:
    """Per fold: no composite in its training set uses a region or background of a photo the fold scores."""
    gate_path, _ = tiny_gate_and_photos(tmp_path / "gate")
    gate, _ = load_gate(gate_path)
    manifest, rows = photo_set(tmp_path / "all")
    # A fold that scores hole_1, needle_0 and good_4: its composites are made from the rest only ...
    scored_ids = {"hole_1", "needle_0", "good_4"}
    training_rows = [row for row in rows if row["original_id"] not in scored_ids]
    fold_train = tmp_path / "fold" / "manifest.csv"
    write_manifest(fold_train, [{**row, "path": f"../all/{row['path']}"} for row in training_rows])
    write_composites(fold_train, gate, SETTINGS, good_class="non_defect", level=0.5, nearest=5, out=tmp_path / "fold_out")
    fold_composites = tmp_path / "fold_out" / "manifest.csv"
    used = {o for pair in transplant_records(read_manifest(fold_composites)) for o in pair}
    assert used and not used & scored_ids
    scored = [row for row in rows if row["original_id"] in scored_ids]
    check_composites_independent(fold_composites, scored)
    # ... and composites made from every photo are refused for that fold, naming the photos.
    write_composites(manifest, gate, SETTINGS, good_class="non_defect", level=0.5, nearest=5, out=tmp_path / "leaky")
    with pytest.raises(DataError, match="hole_1|needle_0|good_4"):
        check_composites_independent(tmp_path / "leaky" / "manifest.csv", scored)
