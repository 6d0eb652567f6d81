"""The report's recipe (experiments/report.yaml) names only keys params.yaml holds, and runs as one command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from textile_defects.errors import ConfigError
from textile_defects.experiments.recipe import apply, check_recipe, read_recipe, set_arguments
from tests.helpers.repo import REPO_ROOT, tool_env

RECIPE = REPO_ROOT / "experiments" / "report.yaml"


def params() -> dict:
    return yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


def test_the_report_recipe_holds_what_the_report_wrote() -> None:
    recipe = read_recipe(RECIPE)
    check_recipe(recipe, params(), str(RECIPE))
    merged = apply(params(), recipe)
    baseline, post = merged["train_baseline"], merged["train_post_baseline"]
    # F = 200, 80:20 per class: 62 originals become 12,400 images.
    originals = params()["sample"]["counts"]
    val = params()["split"]["val_originals"]
    total = sum(
        (originals[c] - val[c]) * merged["augment_train"]["copies_per_original"][c]
        + val[c] * merged["augment_val"]["copies_per_original"][c]
        for c in originals
    )
    assert total == 200 * sum(originals.values())
    for section in (baseline, post):
        assert section["image_size"] == [1270, 720] and section["input_size"] is None and section["head"] == "learned"
        assert section["unfreeze_last_n"] == 2 and section["lr_encoder"] == 1.0e-4 and section["selection"] == "best_val"
        assert section["balance_combine"] == "full_each"
    assert baseline["unfreeze_epoch"] == 20 and baseline["epochs"] > 20
    assert (baseline["sampler"], baseline["loss_weighting"], baseline["loss"], baseline["classifier"]) == (
        "inverse_frequency", "inverse_frequency", "ce", "mlp",
    )
    assert post["unfreeze_epoch"] == 10 and post["early_stopping_patience"] == 9
    assert (post["sampler"], post["loss_weighting"], post["loss"], post["classifier"]) == (
        "effective_number", "effective_number", "focal", "cosine",
    )


def test_a_key_params_yaml_does_not_hold_is_refused_by_name(tmp_path: Path) -> None:
    renamed = read_recipe(RECIPE)
    renamed["train_baseline"]["smapler"] = renamed["train_baseline"].pop("sampler")
    renamed["augment_cv2"] = {"seed": 1}
    with pytest.raises(ConfigError, match=r"train_baseline\.smapler, augment_cv2 not in params\.yaml"):
        check_recipe(renamed, params(), "report.yaml")


def test_set_arguments_are_leaf_keys_in_yaml_flow_style() -> None:
    overrides = {"train_baseline": {"image_size": [1270, 720], "input_size": None, "lr_encoder": 1.0e-4},
                 "augment_train": {"copies_per_original": {"hole": 320}}}  # fmt: skip
    assert set_arguments(overrides, params()) == [
        "-S", "train_baseline.image_size=[1270, 720]",
        "-S", "train_baseline.input_size=null",
        "-S", "train_baseline.lr_encoder=0.0001",
        "-S", "augment_train.copies_per_original.hole=320",
    ]  # fmt: skip


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/experiment.py", *args], cwd=REPO_ROOT, env=tool_env(), capture_output=True, text=True
    )


def test_the_script_prints_one_dvc_exp_run_with_every_override_and_the_extra_options() -> None:
    shown = run_script(str(RECIPE.relative_to(REPO_ROOT)), "--print", "--name", "report", "-S", "encoder=resnet18", "--queue")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("dvc exp run -n report -S augment_train.copies_per_original.non_defect=200")
    assert "-S train_post_baseline.balance_combine=full_each" in shown.stdout
    assert shown.stdout.strip().endswith("-S encoder=resnet18 --queue")


def test_the_script_stops_on_a_renamed_key_before_dvc_runs(tmp_path: Path) -> None:
    recipe = read_recipe(RECIPE)
    recipe["train_post_baseline"]["early_stopping"] = recipe["train_post_baseline"].pop("early_stopping_patience")
    bad = tmp_path / "renamed.yaml"
    bad.write_text(yaml.safe_dump(recipe))
    shown = run_script(str(bad))
    assert shown.returncode == 2 and "train_post_baseline.early_stopping not in params.yaml" in shown.stderr
    assert "dvc exp run" not in shown.stdout
