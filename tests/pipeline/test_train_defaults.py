"""The committed training sections of params.yaml: they validate, and they hold the defaults the CV chose.

These tests read params.yaml on purpose: they check the file, not the code.
Where the defaults depart from the report (plain resizing, a frozen encoder,
no sampler), that is asserted here as the deliberate choice it is
(docs/report.md); the report's own recipe is checked where it is defined,
experiments/report.yaml (tests/experiments/test_recipe.py, tests/e2e/test_report_recipe.py).
"""

from __future__ import annotations

import yaml

from textile_defects.training.config import TrainConfig

from tests.helpers.repo import REPO_ROOT


def test_both_sections_of_params_yaml_are_valid_and_hold_the_cv_chosen_defaults() -> None:
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    baseline = TrainConfig.from_section(params["train_baseline"], "train_baseline", params["encoder"])
    post = TrainConfig.from_section(params["train_post_baseline"], "train_post_baseline", params["encoder"])
    assert (baseline.model.classifier, baseline.loss, baseline.model.head) == ("mlp", "ce", "resize")
    assert (post.model.classifier, post.loss, post.loss_weighting) == ("cosine", "focal", "effective_number")
    assert baseline.model.hidden_units == (256, 128) and baseline.lr_encoder == post.lr_encoder == 1e-4
    assert baseline.selection == post.selection == "best_val"
    # The departures from the report, chosen on the CV (docs/resolution.md, docs/report.md).
    assert baseline.model.head == post.model.head == "resize"
    assert (baseline.unfreeze_epoch, post.unfreeze_epoch) == (baseline.epochs, post.epochs), "frozen encoder"
    assert baseline.sampler == post.sampler == "none"
