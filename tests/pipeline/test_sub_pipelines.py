"""crossval/dvc.yaml and holdout/dvc.yaml: every stage depends on all the library code it runs, and stays out of the root pipeline."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.helpers.repo import REPO_ROOT
from tests.helpers.stage_deps import PACKAGE, inspect_stage

PIPELINES = ("crossval", "holdout")


def sub_pipeline_stages(pipeline: str) -> dict[str, Any]:
    """The stages of <pipeline>/dvc.yaml, a matrix or foreach stage's body standing for all its instances."""
    stages = yaml.safe_load((REPO_ROOT / pipeline / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return {name: definition.get("do", definition) for name, definition in stages.items()}


STAGES = {(pipeline, name): definition for pipeline in PIPELINES for name, definition in sub_pipeline_stages(pipeline).items()}


@pytest.mark.parametrize(("pipeline", "stage"), sorted(STAGES), ids=[f"{p}:{s}" for p, s in sorted(STAGES)])
def test_every_library_module_a_stage_imports_is_a_dependency(pipeline: str, stage: str) -> None:
    definition = STAGES[pipeline, stage]
    assert definition["wdir"] == "..", f"stage {stage}: runs from the repository root (wdir: ..)"
    found = inspect_stage(definition)
    assert found.script in found.deps, f"stage {stage}: its script {found.script} is not in deps"
    assert f"src/{PACKAGE}/__init__.py" in found.imported, "the listing must see the package itself"
    assert found.missing == [], f"stage {stage}: add to its deps in {pipeline}/dvc.yaml: {found.missing}"
    assert found.stale == [], f"stage {stage}: it no longer imports these; drop them from {pipeline}/dvc.yaml (scripts/stage_deps.py --write): {found.stale}"


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_sub_pipeline_stages_are_not_in_the_root_pipeline(pipeline: str) -> None:
    root = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert not set(root) & set(sub_pipeline_stages(pipeline))
    assert not any(pipeline in str(definition.get("cmd", "")) for definition in root.values())


def test_every_seeded_cv_stage_reads_and_writes_its_own_seeds_files() -> None:
    """The seed wiring of crossval/dvc.yaml, as DVC expands it with params.yaml's folds and seeds.

    The end-to-end CV runs one seed (tests/e2e/test_crossval_pipeline.py); here every
    matrix instance (cv_train, cv_score, cv_naming, cv_mixed) of every seed is checked
    to pass its own seed, and to read and write (command, deps and outs alike) only its
    own seed's and fold's files.
    """
    from dvc.repo import Repo

    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))["crossval"]
    assert len(params["seeds"]) >= 2, "the check needs two seeds to tell them apart"
    seeded = ("cv_train", "cv_score", "cv_naming", "cv_mixed")
    with Repo(str(REPO_ROOT)) as repo:
        stages = [stage for stage in repo.index.stages if stage.path_in_repo == "crossval/dvc.yaml" and stage.name.split("@")[0] in seeded]
    assert len(stages) == len(params["folds"]) * len(params["seeds"]) * (2 + 2 + 1 + 1)
    written: dict[str, str] = {}
    for stage in stages:
        fold, seed = stage.name.split("@")[1].split("-")[:2]
        if stage.name.startswith("cv_train"):
            assert f"--seed {seed} " in stage.cmd, stage.cmd
        declared = [str(entry.def_path) for entry in (*stage.deps, *stage.outs) if "_seed" in str(entry.def_path)]
        in_cmd = [token for token in stage.cmd.split() if "_seed" in token]
        assert declared and in_cmd, f"{stage.name}: no seeded file among its deps, outs and command"
        assert set(in_cmd) <= set(declared), f"{stage.name}: its command reads or writes undeclared files {set(in_cmd) - set(declared)}"
        for path in declared:  # the command's files are among them (above)
            assert f"_seed{seed}_fold{fold}." in path, f"{stage.name} (fold {fold}, seed {seed}) touches {path}"
        for out in stage.outs:
            assert str(out.def_path) not in written, f"{out.def_path}: written by {written.get(str(out.def_path))} and {stage.name}"
            written[str(out.def_path)] = stage.name
