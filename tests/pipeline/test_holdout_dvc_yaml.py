"""holdout/dvc.yaml: every hold-out stage depends on all the library code it runs, and stays out of the root pipeline."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.helpers.repo import REPO_ROOT
from tests.helpers.stage_deps import PACKAGE, inspect_stage


def holdout_stages() -> dict[str, Any]:
    """The stages of holdout/dvc.yaml, a matrix or foreach stage's body standing for all its instances."""
    stages = yaml.safe_load((REPO_ROOT / "holdout" / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return {name: definition.get("do", definition) for name, definition in stages.items()}


STAGES = holdout_stages()


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_library_module_a_holdout_stage_imports_is_a_dependency(stage: str) -> None:
    definition = STAGES[stage]
    assert definition["wdir"] == "..", f"stage {stage}: runs from the repository root (wdir: ..)"
    found = inspect_stage(definition)
    assert found.script in found.deps, f"stage {stage}: its script {found.script} is not in deps"
    assert f"src/{PACKAGE}/__init__.py" in found.imported, "the listing must see the package itself"
    assert found.missing == [], f"stage {stage}: add to its deps in holdout/dvc.yaml: {found.missing}"


def test_holdout_stages_are_not_in_the_root_pipeline() -> None:
    root = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert not set(root) & set(STAGES)
    assert not any("holdout" in str(definition.get("cmd", "")) for definition in root.values())
