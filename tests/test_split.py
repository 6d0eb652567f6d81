"""Split: stratified over originals, seeded, no leakage, impossible settings refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from textile_defects.data.manifest import read_manifest, resolve, write_manifest
from textile_defects.data.split import assign_splits, split_manifest
from textile_defects.errors import ConfigError

from conftest import REPO_ROOT, tool_env

CLASSES = ("non_defect", "hole", "lycra_cut", "needle", "twoply")
COUNTS = {"non_defect": 50, "hole": 2, "lycra_cut": 2, "needle": 5, "twoply": 3}
VAL = {"non_defect": 10, "hole": 1, "lycra_cut": 1, "needle": 1, "twoply": 1}


def ingest_rows(counts: dict[str, int] = COUNTS) -> list[dict[str, str]]:
    return [
        {"path": f"images/{label}/{label}-{i:03d}.png", "label": label, "original_id": f"{label}-{i:03d}"}
        for label, n in counts.items()
        for i in range(n)
    ]


def test_every_class_is_split_as_configured_and_no_original_is_on_both_sides() -> None:
    assignment = assign_splits(ingest_rows(), VAL, CLASSES, seed=42)
    assert len(assignment) == sum(COUNTS.values())
    for label, n in COUNTS.items():
        held_out = [oid for oid, split in assignment.items() if oid.startswith(f"{label}-") and split == "val"]
        assert len(held_out) == VAL[label]
        trained = [oid for oid, split in assignment.items() if oid.startswith(f"{label}-") and split == "train"]
        assert len(trained) == n - VAL[label]


def test_split_is_deterministic_and_depends_on_the_seed() -> None:
    first = assign_splits(ingest_rows(), VAL, CLASSES, seed=42)
    assert assign_splits(list(reversed(ingest_rows())), VAL, CLASSES, seed=42) == first
    others = [assign_splits(ingest_rows(), VAL, CLASSES, seed=s) for s in range(1, 6)]
    assert any(other != first for other in others)


def test_augmented_copies_share_their_originals_side() -> None:
    rows = ingest_rows()
    rows += [dict(row, path=row["path"] + ".copy") for row in rows]  # two rows per original
    by_split = split_manifest(rows, Path("/data/ingested/manifest.csv"), Path("/data/split"), VAL, CLASSES, 3)
    train_ids = {row["original_id"] for row in by_split["train"]}
    val_ids = {row["original_id"] for row in by_split["val"]}
    assert not train_ids & val_ids
    assert len(by_split["train"]) + len(by_split["val"]) == len(rows)


@pytest.mark.parametrize(
    ("val_originals", "message"),
    [
        ({**VAL, "hole": 2}, "class 'hole' has only 2 original(s)"),
        ({**VAL, "needle": 0}, "split.val_originals.needle = 0"),
        ({k: v for k, v in VAL.items() if k != "twoply"}, "no entry for class 'twoply'"),
        ({**VAL, "stain": 1}, "unknown class(es) ['stain']"),
    ],
)
def test_impossible_settings_are_refused_with_the_reason(val_originals: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        assign_splits(ingest_rows(), val_originals, CLASSES, seed=1)
    assert message in str(excinfo.value)


def test_stage_writes_manifests_that_point_at_the_ingested_images(tmp_path: Path) -> None:
    ingested = tmp_path / "data" / "ingested"
    rows = ingest_rows({"non_defect": 4, "hole": 2, "lycra_cut": 2, "needle": 2, "twoply": 2})
    for row in rows:
        image = ingested / row["path"]
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(row["original_id"].encode())
    write_manifest(ingested / "manifest.csv", rows)
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["split"]["val_originals"] = {"non_defect": 1, "hole": 1, "lycra_cut": 1, "needle": 1, "twoply": 1}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    before = sorted(p.read_bytes() for p in ingested.rglob("*") if p.is_file())
    out = tmp_path / "data" / "split"
    cmd = [sys.executable, str(REPO_ROOT / "stages/split.py"), "--manifest", str(ingested / "manifest.csv"), "--out", str(out)]
    subprocess.run(cmd, cwd=tmp_path, env=tool_env(), check=True, capture_output=True)
    for split, expected in (("train", 7), ("val", 5)):
        manifest = out / split / "manifest.csv"
        split_rows = read_manifest(manifest)
        assert len(split_rows) == expected
        for row in split_rows:
            assert row["split"] == split
            assert resolve(manifest, row).read_bytes() == row["original_id"].encode()
    assert sorted(p.read_bytes() for p in ingested.rglob("*") if p.is_file()) == before
    assert not list((tmp_path / "data").glob(".split*")), "no staging folder may be left behind"


def test_stage_refuses_an_impossible_split_on_stderr_and_writes_nothing(tmp_path: Path) -> None:
    ingested = tmp_path / "ingested"
    write_manifest(ingested / "manifest.csv", ingest_rows({"non_defect": 3, "hole": 1, "lycra_cut": 2, "needle": 2, "twoply": 2}))
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "split"
    cmd = [sys.executable, str(REPO_ROOT / "stages/split.py"), "--manifest", str(ingested / "manifest.csv"), "--out", str(out)]
    result = subprocess.run(cmd, cwd=tmp_path, env=tool_env(), capture_output=True, text=True)
    assert result.returncode == 2
    assert "class 'hole' has only 1 original(s)" in result.stderr
    assert not out.exists()
