"""The report's recipe, scaled to the tiny configuration, runs the pipeline through evaluate.

The recipe's switches (learned head on the stored frame, frozen-then-fine-tune
schedules, samplers and loss weights each in full, plateau and early
stopping) stay; only its counts and sizes shrink (tests/helpers/repo.py). A
key the recipe sets that params.yaml no longer holds fails here and in
tests/experiments/test_recipe.py.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from textile_defects.experiments.recipe import check_recipe, read_recipe
from textile_defects.models.checkpoint import load_checkpoint
from tests.helpers.repo import REPO_ROOT, make_tiny_repo, run

RECIPE = REPO_ROOT / "experiments" / "report.yaml"


@pytest.fixture(scope="module")
def recipe_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    recipe = read_recipe(RECIPE)
    check_recipe(recipe, yaml.safe_load((REPO_ROOT / "params.yaml").read_text()), str(RECIPE))
    repo = make_tiny_repo(tmp_path_factory.mktemp("recipe") / "repo", under_tiny=recipe)
    run(["dvc", "repro", "evaluate"], repo)
    return repo


@pytest.mark.parametrize("variant", ["baseline", "post_baseline"])
def test_each_model_trains_with_the_recipes_switches_and_is_evaluated(recipe_repo: Path, variant: str) -> None:
    section = read_recipe(RECIPE)[f"train_{variant}"]
    _, meta = load_checkpoint(recipe_repo / f"models/{variant}.pt")
    # Training keys as the stage read them; the architecture's keys in the model's config.
    recorded = {**meta["params"][f"train_{variant}"], **meta["model"]}
    for key in ("head", "classifier", "loss", "loss_weighting", "sampler", "balance_combine", "selection", "unfreeze_last_n"):
        assert recorded[key] == section[key], key
    with (recipe_repo / f"reports/train/{variant}_history.csv").open() as handle:
        history = list(csv.DictReader(handle))
    assert len(history) >= 2, "the tiny schedule unfreezes after epoch 1: both phases must run"
    metrics = json.loads((recipe_repo / f"metrics/{variant}.json").read_text())
    assert "val_originals" in metrics
