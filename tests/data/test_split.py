"""Split: stratified over originals, seeded, no leakage, impossible settings refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from textile_defects.data.manifest import read_manifest, resolve, write_manifest
from textile_defects.data.split import SplitConfig, assign_splits, split_manifest
from textile_defects.errors import ConfigError

from tests.helpers.repo import REPO_ROOT, tool_env

CLASSES = ("non_defect", "hole", "lycra_cut", "needle", "twoply")
COUNTS = {"non_defect": 50, "hole": 2, "lycra_cut": 2, "needle": 5, "twoply": 3}
VAL = {"non_defect": 10, "hole": 1, "lycra_cut": 1, "needle": 1, "twoply": 1}


def config(seed: int = 42, val_originals: dict[str, int] = VAL) -> SplitConfig:
    return SplitConfig.from_section({"seed": seed, "val_originals": val_originals}, CLASSES)


def write_params(folder: Path, val_originals: dict[str, int]) -> None:
    """A params file with just what the split stage reads."""
    params = {"classes": list(CLASSES), "split": {"seed": 42, "val_originals": val_originals}}
    (folder / "params.yaml").write_text(yaml.safe_dump(params))


def ingest_rows(counts: dict[str, int] = COUNTS) -> list[dict[str, str]]:
    return [
        {"path": f"images/{label}/{label}-{i:03d}.png", "label": label, "original_id": f"{label}-{i:03d}"}
        for label, n in counts.items()
        for i in range(n)
    ]


def test_every_class_is_split_as_configured_and_no_original_is_on_both_sides() -> None:
    assignment = assign_splits(ingest_rows(), config(seed=42))
    assert len(assignment) == sum(COUNTS.values())
    for label, n in COUNTS.items():
        held_out = [oid for oid, split in assignment.items() if oid.startswith(f"{label}-") and split == "val"]
        assert len(held_out) == VAL[label]
        trained = [oid for oid, split in assignment.items() if oid.startswith(f"{label}-") and split == "train"]
        assert len(trained) == n - VAL[label]


def test_split_is_deterministic_and_depends_on_the_seed() -> None:
    first = assign_splits(ingest_rows(), config(seed=42))
    assert assign_splits(list(reversed(ingest_rows())), config(seed=42)) == first
    others = [assign_splits(ingest_rows(), config(seed=s)) for s in range(1, 6)]
    assert any(other != first for other in others)


def test_augmented_copies_share_their_originals_side() -> None:
    rows = ingest_rows()
    rows += [dict(row, path=row["path"] + ".copy") for row in rows]  # two rows per original
    by_split = split_manifest(rows, Path("/data/ingested/manifest.csv"), Path("/data/split"), config(seed=3))
    train_ids = {row["original_id"] for row in by_split["train"]}
    val_ids = {row["original_id"] for row in by_split["val"]}
    assert not train_ids & val_ids
    assert len(by_split["train"]) + len(by_split["val"]) == len(rows)


def test_the_section_is_read_into_a_frozen_config_in_class_order() -> None:
    read = SplitConfig.from_section({"seed": 7, "val_originals": dict(reversed(list(VAL.items())))}, CLASSES)
    assert read == SplitConfig(seed=7, val_originals=VAL)
    assert read.classes == CLASSES
    with pytest.raises(AttributeError):
        read.seed = 8  # type: ignore[misc]


def test_every_problem_of_the_section_is_reported_at_once_with_its_key_path() -> None:
    val_originals = {k: v for k, v in VAL.items() if k != "twoply"} | {"needle": 0, "stain": 1}
    with pytest.raises(ConfigError) as excinfo:
        SplitConfig.from_section({"seed": 4.7, "val_originals": val_originals, "seeds": 3}, CLASSES)
    message = str(excinfo.value)
    assert "5 problem(s)" in message
    for expected in (
        "split.seed: got 4.7; expected an integer",  # never truncated to 4
        "split.val_originals.twoply: missing",
        "split.val_originals.needle: got 0; expected an integer >= 1",
        "split.val_originals.stain: unknown key",
        "split.seeds: unknown key",
    ):
        assert expected in message


def test_a_missing_val_originals_is_named_not_a_key_error() -> None:
    with pytest.raises(ConfigError, match=r"split\.val_originals: missing; add it to params\.yaml"):
        SplitConfig.from_section({"seed": 1}, CLASSES)


@pytest.mark.parametrize(
    ("val_originals", "message"),
    [
        ({**VAL, "hole": 2}, "split.val_originals.hole = 2, but class 'hole' has only 2 original(s); at most 1"),
        ({**VAL, "twoply": 5}, "class 'twoply' has only 3 original(s)"),
    ],
)
def test_held_out_counts_the_data_cannot_meet_are_refused_with_the_reason(
    val_originals: dict[str, int], message: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        assign_splits(ingest_rows(), config(val_originals=val_originals))
    assert message in str(excinfo.value)


def test_a_class_without_photos_is_refused() -> None:
    rows = [row for row in ingest_rows() if row["label"] != "lycra_cut"]
    with pytest.raises(ConfigError, match="class 'lycra_cut' has only 0 original"):
        assign_splits(rows, config())


def test_stage_writes_manifests_that_point_at_the_ingested_images(tmp_path: Path) -> None:
    ingested = tmp_path / "data" / "ingested"
    rows = ingest_rows({"non_defect": 4, "hole": 2, "lycra_cut": 2, "needle": 2, "twoply": 2})
    for row in rows:
        image = ingested / row["path"]
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(row["original_id"].encode())
    write_manifest(ingested / "manifest.csv", rows)
    write_params(tmp_path, {"non_defect": 1, "hole": 1, "lycra_cut": 1, "needle": 1, "twoply": 1})
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
    write_params(tmp_path, VAL)
    out = tmp_path / "split"
    cmd = [sys.executable, str(REPO_ROOT / "stages/split.py"), "--manifest", str(ingested / "manifest.csv"), "--out", str(out)]
    result = subprocess.run(cmd, cwd=tmp_path, env=tool_env(), capture_output=True, text=True)
    assert result.returncode == 2
    assert "class 'hole' has only 1 original(s)" in result.stderr
    assert not out.exists()


def test_stage_reports_every_problem_of_its_section_and_writes_nothing(tmp_path: Path) -> None:
    ingested = tmp_path / "ingested"
    write_manifest(ingested / "manifest.csv", ingest_rows())
    params = {"classes": list(CLASSES), "split": {"seed": 4.7, "val_originals": {**VAL, "stain": 1}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "split"
    cmd = [sys.executable, str(REPO_ROOT / "stages/split.py"), "--manifest", str(ingested / "manifest.csv"), "--out", str(out)]
    result = subprocess.run(cmd, cwd=tmp_path, env=tool_env(), capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "split.seed: got 4.7" in result.stderr
    assert "split.val_originals.stain: unknown key" in result.stderr
    assert not out.exists()
