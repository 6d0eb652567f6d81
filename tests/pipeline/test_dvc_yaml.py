"""dvc.yaml: every stage depends on all the library code it runs; both models are registry artifacts.

A library file missing from a stage's ``deps`` means a change to it never
re-runs the stage, and ``dvc.lock`` then vouches for outputs that the code
no longer produces.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import yaml

from tests.helpers.repo import REPO_ROOT, tool_env
from tests.helpers.stage_deps import PACKAGE, inspect_stage


def pipeline() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text(encoding="utf-8"))


STAGES = pipeline()["stages"]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_library_module_a_stage_imports_is_a_dependency(stage: str) -> None:
    definition = STAGES[stage]
    found = inspect_stage(definition)
    assert found.script in found.deps, f"stage {stage}: its script {found.script} is not in deps"
    assert f"src/{PACKAGE}/__init__.py" in found.imported, "the listing must see the package itself"
    assert found.missing == [], f"stage {stage}: add to its deps in dvc.yaml: {found.missing}"
    assert found.stale == [], f"stage {stage}: it no longer imports these; drop them from dvc.yaml (scripts/stage_deps.py --write): {found.stale}"


def test_both_models_are_model_registry_artifacts_produced_by_the_pipeline() -> None:
    definition = pipeline()
    outputs = {out for stage in definition["stages"].values() for out in stage.get("outs", []) if isinstance(out, str)}
    artifacts = definition["artifacts"]

    assert {name: artifact["path"] for name, artifact in artifacts.items()} == {
        "baseline": "models/baseline.pt",
        "post_baseline": "models/post_baseline.pt",
        # The inference engine's files (stage export_engine, docs/engine.md).
        "baseline_engine": "models/baseline.onnx",
        "post_baseline_engine": "models/post_baseline.onnx",
        "gate_engine": "models/gate.onnx",
    }
    for name, artifact in artifacts.items():
        assert artifact["type"] == "model", name
        assert artifact["desc"].strip(), f"artifact {name} needs a description"
        assert artifact["path"] in outputs, f"artifact {name}: no stage writes {artifact['path']}"


def test_dvc_reads_the_artifacts_section() -> None:
    """DVC's own schema check and reader, as ``dvc artifacts get`` and the model registry use them."""
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, dvc.repo; "
            "print(json.dumps({k: v.to_dict() for k, v in dvc.repo.Repo('.').artifacts.read()['dvc.yaml'].items()}))",
        ],
        cwd=REPO_ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    read = json.loads(shown.stdout)
    assert read["baseline"]["type"] == "model" and read["post_baseline"]["path"] == "models/post_baseline.pt"


def test_dvc_parses_yaml_with_ruamels_c_parser() -> None:
    # DVC's safe loads (params.yaml per stage, dvc.lock per command) run 2x faster with it; since
    # ruamel.yaml 0.19 it is an extra (ruamel.yaml.clib in pyproject.toml) that a resolver may drop.
    from ruamel.yaml import YAML

    assert YAML(typ="safe").Parser.__module__.startswith("ruamel.yaml.clib"), YAML(typ="safe").Parser
