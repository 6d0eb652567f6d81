"""Writing an augmented set: reproducible bytes, the audit trail, failures, grids, the stage CLI."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from textile_defects.augment.grid import THUMB_WIDTH_PX, write_grids
from textile_defects.augment.ops import apply_operations
from textile_defects.augment.settings import AugmentSettings
from textile_defects.augment.writer import encode_jpeg, read_rgb, write_augmented_set
from textile_defects.data.manifest import read_manifest, sha256_file, write_manifest
from textile_defects.errors import DataError

from tests.helpers import augment
from tests.helpers.augment import HEIGHT, ORIGINALS, WIDTH, folder_bytes, write_split
from tests.helpers.repo import REPO_ROOT, tool_env

COPIES = {"non_defect": 3, "hole": 5, "lycra_cut": 0, "needle": 4, "twoply": 0}


def small_settings(workers: int = 1, **changes) -> AugmentSettings:
    settings = augment.settings("augment_train")
    # Everything drawn often, so a few copies exercise every operation.
    busy = {label: {name: max(p, 0.5) for name, p in row.items()} for label, row in settings.policy.probabilities.items()}
    policy = dataclasses.replace(settings.policy, probabilities=busy, workers=workers)
    return dataclasses.replace(settings, **({"copies_per_original": COPIES, "policy": policy} | changes))


@pytest.fixture
def split_manifest(tmp_path: Path) -> Path:
    return write_split(tmp_path / "data")


def test_same_bytes_whatever_the_number_of_workers_or_start_method(split_manifest: Path, tmp_path: Path) -> None:
    write_augmented_set(split_manifest, tmp_path / "one", small_settings(workers=1))
    write_augmented_set(split_manifest, tmp_path / "forked", small_settings(workers=2), start_method="fork")
    write_augmented_set(split_manifest, tmp_path / "spawned", small_settings(workers=3), start_method="spawn")
    one = folder_bytes(tmp_path / "one")
    assert len(one) == 1 + sum(COPIES[label] for label, _ in ORIGINALS)
    assert folder_bytes(tmp_path / "forked") == one
    assert folder_bytes(tmp_path / "spawned") == one


def test_rerun_is_identical_and_another_seed_is_not(split_manifest: Path, tmp_path: Path) -> None:
    write_augmented_set(split_manifest, tmp_path / "out", small_settings())
    first = folder_bytes(tmp_path / "out")
    write_augmented_set(split_manifest, tmp_path / "out", small_settings())
    assert folder_bytes(tmp_path / "out") == first
    write_augmented_set(split_manifest, tmp_path / "other", small_settings(seed=7))
    other = {row["path"]: row["sha256"] for row in read_manifest(tmp_path / "other" / "manifest.csv")}
    mine = {row["path"]: row["sha256"] for row in read_manifest(tmp_path / "out" / "manifest.csv")}
    assert other.keys() == mine.keys()
    altered = [path for path in mine if not path.endswith("_0000.jpg")]  # copy 0 is the kept original
    assert all(other[path] != mine[path] for path in altered)


def test_manifest_rows_record_lineage_copy_and_operations(split_manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    returned = write_augmented_set(split_manifest, out, small_settings())
    rows = read_manifest(out / "manifest.csv")
    assert len(rows) == len(returned) == sum(COPIES[label] for label, _ in ORIGINALS)
    for row in rows:
        label, original_id, index = row["label"], row["original_id"], int(row["copy_index"])
        assert row["path"] == f"images/{label}/{original_id}_{index:04d}.jpg"
        assert 0 <= index < COPIES[label]
        assert row["split"] == "val"
        assert row["source_file"] == f"{label}/{original_id.split('__')[1]}.png"
        assert (int(row["width"]), int(row["height"])) == (WIDTH, HEIGHT)
        assert sha256_file(out / row["path"]) == row["sha256"]
        with Image.open(out / row["path"]) as image:
            assert image.format == "JPEG" and image.size == (WIDTH, HEIGHT)
        operations = json.loads(row["operations"])
        assert all(set(operation) == {"op", "params"} for operation in operations)
        assert (operations == []) == (index == 0), "only the kept original has no operations"


def test_recorded_operations_recompute_each_image_exactly(split_manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    settings = small_settings()
    write_augmented_set(split_manifest, out, settings)
    originals = {row["original_id"]: row for row in read_manifest(split_manifest)}
    for row in read_manifest(out / "manifest.csv"):
        source = split_manifest.parent / originals[row["original_id"]]["path"]
        pixels = apply_operations(read_rgb(source), json.loads(row["operations"]), settings.policy.interpolation)
        assert encode_jpeg(pixels, settings.policy.jpeg_quality) == (out / row["path"]).read_bytes()


def test_kept_original_is_the_original_only_re_encoded(split_manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    settings = small_settings()
    write_augmented_set(split_manifest, out, settings)
    expected = encode_jpeg(read_rgb(split_manifest.parent / "../../ingested/images/hole/hole__c.png"), settings.policy.jpeg_quality)
    assert (out / "images/hole/hole__c_0000.jpg").read_bytes() == expected


def test_bad_rows_are_all_listed_and_nothing_is_written(split_manifest: Path, tmp_path: Path) -> None:
    (split_manifest.parent / "../../ingested/images/hole/hole__c.png").unlink()
    text = split_manifest.read_text(encoding="utf-8").replace(",needle,", ",stain,")
    split_manifest.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as raised:
        write_augmented_set(split_manifest, tmp_path / "out", small_settings())
    message = str(raised.value)
    assert "hole__c.png: image not found" in message
    assert "class 'stain' is not in params classes" in message
    assert not (tmp_path / "out").exists()


def test_an_image_too_large_for_the_warp_is_named_before_anything_is_written(split_manifest: Path, tmp_path: Path) -> None:
    rows = read_manifest(split_manifest)
    rows[0]["width"] = "40000"
    write_manifest(split_manifest, rows)
    with pytest.raises(DataError, match=rf"{rows[0]['path']}: 40000 px on one side; the warp handles at most 32767 px"):
        write_augmented_set(split_manifest, tmp_path / "out", small_settings())
    assert not (tmp_path / "out").exists()


def test_a_failing_worker_leaves_the_previous_output_untouched(split_manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_augmented_set(split_manifest, out, small_settings())
    before = folder_bytes(out)
    (split_manifest.parent / "../../ingested/images/needle/needle__d.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="needle__d.png: cannot read"):
        write_augmented_set(split_manifest, out, small_settings(workers=2))
    assert folder_bytes(out) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data", "out"], "no temporary folder left behind"


def test_grids_show_each_original_beside_its_copies(split_manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    settings = small_settings()
    write_augmented_set(split_manifest, out, settings)
    written = write_grids(split_manifest, out / "manifest.csv", tmp_path / "grids", originals=2, copies=3, name="test")
    assert sorted(path.name for path in written) == ["hole.png", "needle.png", "non_defect.png"]
    with Image.open(tmp_path / "grids" / "hole.png") as grid:
        assert grid.width == 8 + 4 * (THUMB_WIDTH_PX + 8)  # the original and 3 altered copies
        one_row = grid.height
    with Image.open(tmp_path / "grids" / "non_defect.png") as grid:
        # 3 copies each, copy 0 the kept original: 2 altered copies beside each of 2 originals.
        assert grid.width == 8 + 3 * (THUMB_WIDTH_PX + 8)
        assert grid.height > one_row


def run_stage(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "stages" / "augment.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=tool_env(),
    )


def test_stage_script_writes_images_manifest_and_grids(split_manifest: Path, tmp_path: Path) -> None:
    params = augment.params()
    params["augment"]["workers"] = 2
    params["augment_val"]["copies_per_original"] = COPIES
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    result = run_stage(
        ["--section", "augment_val", "--manifest", str(split_manifest), "--out", "aug", "--grids", "grids"], tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert len(read_manifest(tmp_path / "aug" / "manifest.csv")) == 15
    assert sorted(path.name for path in (tmp_path / "grids").iterdir()) == ["hole.png", "needle.png", "non_defect.png"]


def test_stage_script_reports_a_bad_setting_and_exits_2(split_manifest: Path, tmp_path: Path) -> None:
    params = augment.params()
    params["augment"]["jpeg_quality"] = 0
    params["augment_val"]["seed"] = "x"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    result = run_stage(
        ["--section", "augment_val", "--manifest", str(split_manifest), "--out", "aug", "--grids", "grids"], tmp_path
    )
    assert result.returncode == 2
    assert "augment.jpeg_quality: got 0" in result.stderr
    assert "augment_val.seed: got 'x'" in result.stderr  # both sections' problems in one run
    assert not (tmp_path / "aug").exists()
