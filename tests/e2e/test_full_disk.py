"""A full disk while a stage writes: one message naming the output, the space left and what to do; exit 2; nothing partial.

Each stage runs as DVC runs it (``python stages/<stage>.py ...``) through
``tests/helpers/faults.py``, which makes the writes to chosen files fail with
ENOSPC part-way, as a full file system does, in the stage's worker processes too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from tests.helpers.augment import write_split
from tests.helpers.repo import REPO_ROOT, tiny_params, tool_env
from tests.helpers.training_data import IMAGE_SIZE, write_train_val

FAULTS = REPO_ROOT / "tests" / "helpers" / "faults.py"


def tiny_params_file(folder: Path, **sections: dict) -> Path:
    params = tiny_params(yaml.safe_load((REPO_ROOT / "params.yaml").read_text()))
    for name, changes in sections.items():
        params[name] = {**params[name], **changes}
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def run_with_full_disk(glob: str, after_bytes: int, stage: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, str(FAULTS), "--enospc", glob, "--after-bytes", str(after_bytes),
        str(REPO_ROOT / "stages" / stage), *args,
    ]
    return subprocess.run(command, cwd=cwd, env=tool_env({"OMP_NUM_THREADS": "1"}), capture_output=True, text=True, timeout=300)


def assert_one_clear_message(result: subprocess.CompletedProcess[str], output: Path) -> None:
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert f"could not write {output}: No space left on device [ENOSPC]" in result.stderr
    assert "free of" in result.stderr, "the free space on that file system"
    assert "Nothing partial was kept" in result.stderr
    assert "`dvc gc --workspace`" in result.stderr and "`dvc cache dir <path>`" in result.stderr


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


def test_augment_on_a_full_disk_keeps_the_previous_output_and_says_what_to_do(tmp_path: Path) -> None:
    manifest = write_split(tmp_path / "data")
    params = tiny_params_file(tmp_path)
    out = tmp_path / "data" / "augmented" / "val"
    (out / "images").mkdir(parents=True)
    (out / "manifest.csv").write_text("the previous run's output\n")
    result = run_with_full_disk(
        f"{out.parent}/.val.*/images/hole/*", 2000, "augment.py",
        "--params", str(params), "--section", "augment_val", "--manifest", str(manifest),
        "--out", str(out), "--grids", str(tmp_path / "reports"), cwd=tmp_path,
    )
    assert_one_clear_message(result, out)
    assert (out / "manifest.csv").read_text() == "the previous run's output\n", "the previous output is untouched"
    assert leftovers(out.parent) == [], "no staging folder left behind"
    assert not (tmp_path / "reports").exists()


def test_ingest_on_a_full_disk_writes_nothing(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    for index, label in enumerate(("non_defect", "hole", "lycra_cut", "needle", "twoply")):
        pixels = np.random.default_rng(index).integers(0, 256, (90, 160, 3), dtype=np.uint8)
        (raw / label).mkdir(parents=True)
        Image.fromarray(pixels).save(raw / label / f"photo_{index}.png")
    params = tiny_params_file(tmp_path)
    out = tmp_path / "data" / "ingested"
    result = run_with_full_disk(
        f"{out.parent}/.ingested.*/images/needle/*", 100, "ingest.py",
        "--params", str(params), "--raw-dir", str(raw), "--out", str(out), cwd=tmp_path,
    )
    assert_one_clear_message(result, out)
    assert not out.exists() and leftovers(out.parent) == []


def test_training_on_a_full_disk_keeps_its_state_for_the_rerun(tmp_path: Path) -> None:
    """The re-run then trains nothing and only writes the outputs (tests/training/test_resume.py)."""
    train_manifest, val_manifest = write_train_val(tmp_path / "data")
    params = tiny_params_file(tmp_path, train_post_baseline={"image_size": list(IMAGE_SIZE), "tracking": False})
    out = tmp_path / "models"
    args = [
        "--params", str(params), "--variant", "train_post_baseline", "--train", str(train_manifest),
        "--val", str(val_manifest), "--model", str(out / "model.pt"), "--history", str(out / "history.csv"),
    ]
    result = run_with_full_disk(f"{out}/.model.pt.*", 4096, "train.py", *args, cwd=tmp_path)
    assert "epoch 2: train loss" in result.stderr
    assert_one_clear_message(result, out / "model.pt")
    assert not out.exists() or sorted(path.name for path in out.iterdir()) == []
    (described,) = (tmp_path / ".training-state").rglob("*.json")
    assert '"epoch": 2' in described.read_text(), "the last epoch's state is kept for the re-run"
