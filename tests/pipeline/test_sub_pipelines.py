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
