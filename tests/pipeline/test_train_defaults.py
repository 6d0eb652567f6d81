"""The committed training sections of params.yaml: they validate and follow the report's two recipes.

These tests read params.yaml on purpose: they check the file, not the code.
"""

from __future__ import annotations

import yaml

from textile_defects.training.config import TrainConfig

from tests.helpers.repo import REPO_ROOT


def test_both_sections_of_params_yaml_are_valid_and_follow_the_report() -> None:
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    baseline = TrainConfig.from_section(params["train_baseline"], "train_baseline", params["encoder"])
    post = TrainConfig.from_section(params["train_post_baseline"], "train_post_baseline", params["encoder"])
    assert (baseline.model.classifier, baseline.loss, baseline.model.head) == ("mlp", "ce", "resize")
    assert (post.model.classifier, post.loss, post.loss_weighting) == ("cosine", "focal", "effective_number")
    assert baseline.model.hidden_units == (256, 128) and baseline.lr_encoder == post.lr_encoder == 1e-4
    assert baseline.selection == post.selection == "best_val"
