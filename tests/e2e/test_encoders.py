"""Every encoder through every stage: `dvc exp run -S encoder=resnet18 -S weights=none` on the tiny configuration.

The report's workflow is to switch the encoder and compare; the gate's patch
layers follow the encoder (``gate.layers: auto``), so no other setting changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from textile_defects.models.checkpoint import load_checkpoint
from textile_defects.models.registry import ENCODERS
from tests.helpers.repo import copy_of_repo, run


@pytest.fixture(scope="module")
def resnet_experiment(reproduced_tiny_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    repo = copy_of_repo(reproduced_tiny_repo, tmp_path_factory.mktemp("encoders") / "repo")
    shown = run(["dvc", "exp", "run", "-n", "resnet", "-S", "encoder=resnet18", "-S", "weights=none"], repo).stdout
    return repo, shown


def test_the_encoder_switch_reruns_training_the_gate_and_evaluate(resnet_experiment: tuple[Path, str]) -> None:
    repo, shown = resnet_experiment
    for stage in ("train_baseline", "train_post_baseline", "train_gate", "evaluate"):
        assert f"'{stage}'" in shown, f"{stage} did not run:\n{shown[-3000:]}"
    assert "'augment_train'" not in shown.replace("Stage 'augment_train' didn't change", "")
    for variant in ("baseline", "post_baseline"):
        model, _ = load_checkpoint(repo / f"models/{variant}.pt")
        assert model.spec.name == "resnet18"
        assert json.loads((repo / f"metrics/{variant}.json").read_text())


def test_the_gate_uses_the_registrys_layers_of_the_new_encoder(resnet_experiment: tuple[Path, str]) -> None:
    repo, _ = resnet_experiment
    payload = torch.load(repo / "models/gate.pt", map_location="cpu", weights_only=True)
    assert payload["config"]["encoder"] == "resnet18"
    assert payload["config"]["layers"] == [layer.path for layer in ENCODERS["resnet18"].spec.patch_layers]
    assert run(["dvc", "status"], repo).stdout.strip().endswith("up to date.")
