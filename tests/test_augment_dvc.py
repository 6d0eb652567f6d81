"""Changing augment_val's seed gives a distinct set; switching back restores the first from DVC's cache.

Runs the real stage script under the real ``dvc repro`` in a temporary
git + DVC repository holding just the augment_val stage and a tiny fixture.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT, run, tool_env
from test_augment_writer import folder_bytes, write_split

pytestmark = pytest.mark.slow

STAGE = {
    "cmd": (
        "python stages/augment.py --section augment_val --manifest data/split/val/manifest.csv "
        "--out data/augmented/val --grids reports/augment/val"
    ),
    "deps": ["stages/augment.py", "data/split", "data/ingested"],
    "params": ["classes", "augment_val"],
    "outs": ["data/augmented/val", "reports/augment/val"],
}


def set_seed(repo: Path, seed: int) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    params["augment_val"]["seed"] = seed
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


@pytest.fixture
def augment_repo(tmp_path: Path) -> Path:
    """A git + DVC repository with the augment_val stage over a tiny split, committed."""
    repo = tmp_path / "repo"
    write_split(repo / "data")
    (repo / "stages").mkdir()
    shutil.copy2(REPO_ROOT / "stages" / "augment.py", repo / "stages" / "augment.py")
    real = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    copies = {"non_defect": 2, "hole": 3, "lycra_cut": 0, "needle": 2, "twoply": 0}
    params = {"classes": real["classes"], "augment_val": real["augment_val"] | {"copies_per_original": copies}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"augment_val": STAGE}}, sort_keys=False), encoding="utf-8")
    env = tool_env()
    run(["git", "init", "-q", "-b", "main"], repo, env)
    run(["git", "config", "user.email", "pipeline-test@example.invalid"], repo, env)
    run(["git", "config", "user.name", "Pipeline Test"], repo, env)
    run(["dvc", "init", "-q"], repo, env)
    run(["dvc", "config", "core.analytics", "false"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-q", "-m", "augment fixture"], repo, env)
    return repo


def test_seed_switch_makes_a_new_set_and_switching_back_restores_it_from_cache(augment_repo: Path) -> None:
    env = tool_env()
    out = augment_repo / "data" / "augmented" / "val"
    seed = yaml.safe_load((augment_repo / "params.yaml").read_text(encoding="utf-8"))["augment_val"]["seed"]

    first = run(["dvc", "repro"], augment_repo, env)
    assert "augment_val: wrote 9 images" in first.stdout + first.stderr
    first_bytes = folder_bytes(out)
    first_lock = (augment_repo / "dvc.lock").read_text(encoding="utf-8")

    set_seed(augment_repo, seed + 1)
    run(["dvc", "repro"], augment_repo, env)
    second_bytes = folder_bytes(out)
    assert second_bytes.keys() == first_bytes.keys()
    changed = [name for name in first_bytes if name.endswith(".jpg") and second_bytes[name] != first_bytes[name]]
    assert len(changed) == 9, "a new seed must give a distinct set"

    set_seed(augment_repo, seed)
    back = run(["dvc", "repro"], augment_repo, env)
    output = back.stdout + back.stderr
    assert "skipping run" in output, output
    assert "augment_val: wrote" not in output, "the stage must not run again"
    assert folder_bytes(out) == first_bytes
    assert (augment_repo / "dvc.lock").read_text(encoding="utf-8") == first_lock

    again = run(["dvc", "repro"], augment_repo, env)
    assert "didn't change" in again.stdout or "up to date" in again.stdout
