"""The augment stages under the real ``dvc repro``: what re-runs when a setting changes, and ``-S`` overrides.

A temporary git + DVC repository holds the three augment stages exactly as
the project's dvc.yaml declares them (their params lists are what is under
test), the library folders they depend on, and a tiny split.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from textile_defects.data.manifest import read_manifest

from tests.helpers import augment
from tests.helpers.augment import folder_bytes, write_split
from tests.helpers.repo import REPO_ROOT, run, tool_env


SETS = ("augment_train", "augment_val", "augment_test")
COPIES = {"non_defect": 2, "hole": 3, "lycra_cut": 0, "needle": 2, "twoply": 0}


def edit_params(repo: Path, path: str, value) -> None:
    """Set the params.yaml key at dotted ``path`` to ``value``."""
    params = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    *parents, last = path.split(".")
    target = params
    for key in parents:
        target = target[key]
    target[last] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


def changed_stages(repo: Path) -> set[str]:
    """Stages ``dvc status`` reports as changed."""
    status = run(["dvc", "status", "--json"], repo, tool_env())
    return set(json.loads(status.stdout or "{}"))


@pytest.fixture
def augment_repo(tmp_path: Path) -> Path:
    """A git + DVC repository with the project's three augment stages over a tiny split, committed."""
    repo = tmp_path / "repo"
    val_manifest = write_split(repo / "data")
    (repo / "data" / "split" / "train").mkdir()
    shutil.copy2(val_manifest, repo / "data" / "split" / "train" / "manifest.csv")
    # The whole package: the stages run the copy's own code (helpers.repo.run puts its src first).
    shutil.copytree(REPO_ROOT / "src", repo / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (repo / "stages").mkdir()
    shutil.copy2(REPO_ROOT / "stages" / "augment.py", repo / "stages" / "augment.py")
    real_stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    (repo / "dvc.yaml").write_text(
        yaml.safe_dump({"stages": {name: real_stages[name] for name in SETS}}, sort_keys=False), encoding="utf-8"
    )
    sets = {name: augment.SETS["augment_val"] | {"seed": seed} for name, seed in zip(SETS, (1, 2, 3))}
    params = augment.params(**sets)
    for name in SETS:
        params[name]["copies_per_original"] = COPIES
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    env = tool_env()
    run(["git", "init", "-q", "-b", "main"], repo, env)
    run(["git", "config", "user.email", "pipeline-test@example.invalid"], repo, env)
    run(["git", "config", "user.name", "Pipeline Test"], repo, env)
    run(["dvc", "init", "-q"], repo, env)
    run(["dvc", "config", "core.analytics", "false"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-q", "-m", "augment fixture"], repo, env)
    return repo


@pytest.fixture
def reproduced(augment_repo: Path) -> Path:
    """``augment_repo`` with every augment stage run and committed."""
    run(["dvc", "repro"], augment_repo, tool_env())
    run(["git", "add", "-A"], augment_repo, tool_env())
    run(["git", "commit", "-q", "-m", "repro"], augment_repo, tool_env())
    assert changed_stages(augment_repo) == set()
    return augment_repo


def test_a_sets_seed_changes_only_that_set_and_the_shared_policy_changes_all(reproduced: Path) -> None:
    edit_params(reproduced, "augment_val.seed", 99)
    assert changed_stages(reproduced) == {"augment_val"}
    edit_params(reproduced, "augment_val.seed", 2)
    assert changed_stages(reproduced) == set()
    edit_params(reproduced, "augment.ranges.rotation_deg", [-2.0, 2.0])
    assert changed_stages(reproduced) == set(SETS)


def test_set_overrides_of_shared_and_own_keys_reach_the_stage(reproduced: Path) -> None:
    out = reproduced / "data" / "augmented" / "val"
    before = folder_bytes(out)
    env = tool_env()
    run(
        ["dvc", "exp", "run", "augment_val", "-S", "augment.ranges.rotation_deg=[-0.5,0.5]", "-S", "augment_val.seed=77"],
        reproduced,
        env,
    )
    params = yaml.safe_load((reproduced / "params.yaml").read_text(encoding="utf-8"))
    assert params["augment"]["ranges"]["rotation_deg"] == [-0.5, 0.5] and params["augment_val"]["seed"] == 77
    rows = read_manifest(out / "manifest.csv")
    angles = [op["params"]["angle_deg"] for row in rows for op in json.loads(row["operations"]) if op["op"] == "rotate"]
    assert angles and all(-0.5 <= angle <= 0.5 for angle in angles)
    assert folder_bytes(out) != before


def test_seed_switch_makes_a_new_set_and_switching_back_restores_it_from_cache(reproduced: Path) -> None:
    env = tool_env()
    out = reproduced / "data" / "augmented" / "val"
    first_bytes = folder_bytes(out)
    first_lock = (reproduced / "dvc.lock").read_text(encoding="utf-8")

    edit_params(reproduced, "augment_val.seed", 4)
    run(["dvc", "repro"], reproduced, env)
    second_bytes = folder_bytes(out)
    assert second_bytes.keys() == first_bytes.keys()
    changed = [name for name in first_bytes if name.endswith(".jpg") and second_bytes[name] != first_bytes[name]]
    assert len(changed) == 9, "a new seed must give a distinct set"

    edit_params(reproduced, "augment_val.seed", 2)
    back = run(["dvc", "repro"], reproduced, env)
    output = back.stdout + back.stderr
    assert "augment_val: wrote" not in output, "the stage must not run again"
    assert folder_bytes(out) == first_bytes
    assert (reproduced / "dvc.lock").read_text(encoding="utf-8") == first_lock
