"""The project on disk for tests: where it is, how to run its tools, and a tiny copy of it.

``make_tiny_repo`` copies the project's files (what git would commit) into a
temporary folder, shrinks params.yaml to a tiny configuration (small images,
few copies, two epochs, random-init encoder) and makes it a git repository
with its own identity, so tests can run the real ``dvc repro``/``dvc exp``.
The end-to-end fixtures built on it are in ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from textile_defects.experiments.recipe import apply as apply_recipe

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures"
"""Committed data files the tests read."""
VENV_BIN = Path(sys.executable).parent

# Overrides applied to params.yaml for the tiny configuration. Same code paths as
# the full run; only sizes and counts shrink.
TINY_PARAMS: dict[str, Any] = {
    "encoder": "mobilenet_v3",
    "weights": "none",
    "sample": {
        "width": 160,
        "height": 90,
        "counts": {"non_defect": 6, "hole": 2, "lycra_cut": 2, "needle": 3, "twoply": 2},
        "contact_sheet_thumb_width": 80,
    },
    "ingest": {"min_width": 64, "min_height": 36},
    "split": {"val_originals": {"non_defect": 2, "hole": 1, "lycra_cut": 1, "needle": 1, "twoply": 1}},
    "augment": {"workers": 2},
    # Every image is misclassified by a random-init encoder: four small tiles still show the grid's paths.
    "evaluate": {"misclassified_max": 4, "thumb_width": 80},
    # The gate reads the tiny frames at 0.8 of their side, as the default reads 2/3 of the camera's,
    # with the default layers (auto: the encoder's own); the type classifier reads them whole
    # (naming.image_size), so its evidence is laid over a map of another size, as in the full run.
    # 4 good training originals allow 2 leave-out folds for its threshold.
    "gate": {"image_size": [128, 72], "threshold_folds": 2},
    "naming": {"image_size": [160, 90]},
    "transplant": {"composites_per_class": {"hole": 2, "lycra_cut": 2, "needle": 2, "twoply": 2}},
    "holdout": {
        "sample": {
            "width": 160,
            "height": 90,
            "counts": {"non_defect": 5, "hole": 1, "lycra_cut": 1, "needle": 2, "twoply": 1},
            "contact_sheet_thumb_width": 80,
        },
    },
}
TINY_AUGMENT: dict[str, Any] = {
    "copies_per_original": {"non_defect": 2, "hole": 3, "lycra_cut": 3, "needle": 2, "twoply": 3},
}
TINY_TRAIN: dict[str, Any] = {
    "epochs": 2,
    "unfreeze_epoch": 1,
    "batch_size": 4,
    "image_size": [160, 90],
    "input_size": 32,
    "num_workers": 0,
}


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in, recursively: the way a recipe is laid over params."""
    return apply_recipe(base, overrides)


def tiny_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The tiny configuration: ``params`` with every size and count shrunk."""
    tiny = deep_merge(params, TINY_PARAMS)
    for name in ("augment_train", "augment_val", "augment_test"):
        if name in tiny:
            tiny[name] = deep_merge(tiny[name], TINY_AUGMENT)
    for name in ("train_baseline", "train_post_baseline"):
        if name in tiny:
            tiny[name] = deep_merge(tiny[name], TINY_TRAIN)
    return tiny


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for subprocesses: the venv first on PATH, quiet DVC, a git identity."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        {
            "DVC_NO_ANALYTICS": "1",
            "GIT_AUTHOR_NAME": "Pipeline Test",
            "GIT_AUTHOR_EMAIL": "pipeline-test@example.invalid",
            "GIT_COMMITTER_NAME": "Pipeline Test",
            "GIT_COMMITTER_EMAIL": "pipeline-test@example.invalid",
            "TQDM_DISABLE": "1",
            "TEXTILE_ALLOW_DOWNLOAD": "0",
        }
    )
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("DVC_ROOT", None)
    if extra:
        env.update(extra)
    return env


def run(cmd: list[str], cwd: Path, env: Mapping[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing output; on failure, show it in the assertion message.

    In a copy of the project, its own ``src`` comes first on PYTHONPATH, so the
    copy runs its own code rather than the editable install's.
    """
    run_env = dict(env or tool_env())
    if (Path(cwd) / "src" / "textile_defects").is_dir():
        run_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(cwd) / "src"), run_env.get("PYTHONPATH")]))
    result = subprocess.run(cmd, cwd=cwd, env=run_env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {result.returncode} in {cwd}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
        )
    return result


def project_files() -> list[str]:
    """Files git would commit: tracked plus untracked-but-not-ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted({name for name in listed.split("\0") if name and (REPO_ROOT / name).is_file()})


def use_scratch_remote(repo: Path) -> None:
    """Point ``repo`` (this clone only: ``.dvc/config.local``) at its own scratch remote, analytics off.

    Written as ``dvc config --local`` / ``dvc remote add --local -d`` write it,
    without their seconds of start-up.
    """
    (repo / ".dvc" / "config.local").write_text(
        "[core]\n    analytics = false\n    remote = scratch\n"
        f"['remote \"scratch\"']\n    url = {repo.parent / f'{repo.name}-remote'}\n"
    )


def make_tiny_repo(
    dest: Path,
    extra_params: Mapping[str, Any] | None = None,
    *,
    crossval: bool = False,
    under_tiny: Mapping[str, Any] | None = None,
) -> Path:
    """Copy the project into ``dest`` with the tiny configuration and commit it.

    ``extra_params`` go over the tiny configuration; ``under_tiny`` (a recipe)
    goes under it: its switches stay, its sizes and counts shrink.

    The locks and committed metrics are left out, so the copy starts with
    nothing computed. The cross-validation pipeline (crossval/) is left out
    unless ``crossval``, and the hold-out pipeline (holdout/) always: a
    whole-repository ``dvc status`` would list their never-run stages (the
    hold-out's own test copies it in). Returns ``dest``.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in project_files():
        if name in ("dvc.lock", "crossval/dvc.lock") or name.startswith(("metrics/", "holdout/")) or (name.startswith("crossval/") and not crossval):
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target)
    (dest / "metrics").mkdir(exist_ok=True)
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params = tiny_params(deep_merge(params, under_tiny or {}))
    if extra_params:
        params = deep_merge(params, extra_params)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = tool_env()
    run(["git", "init", "-q", "-b", "main"], dest, env)
    run(["git", "config", "user.email", "pipeline-test@example.invalid"], dest, env)
    run(["git", "config", "user.name", "Pipeline Test"], dest, env)
    # The copy must not write into the real project's default remote.
    use_scratch_remote(dest)
    run(["git", "add", "-A"], dest, env)
    run(["git", "commit", "-q", "-m", "tiny configuration"], dest, env)
    return dest


def copy_of_repo(source: Path, dest: Path) -> Path:
    """A private copy of ``source`` (git history, DVC cache, workspace) with its own scratch remote.

    MLflow runs stay behind: their artifact paths name ``source``, and a test
    that checks MLflow should see only its own runs.
    """
    shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns("mlflow.db", "mlartifacts"))
    use_scratch_remote(dest)
    return dest
