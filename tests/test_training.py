"""Training: reproducible outputs, real learning, the report's schedule, settings checked up front."""

from __future__ import annotations

import copy
import csv
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from sklearn.metrics import f1_score

from torch.utils.data import DataLoader

from textile_defects.data.loading import CachedImageDataset, to_model_input
from textile_defects.errors import ConfigError
from textile_defects.models.checkpoint import load_checkpoint
from textile_defects.models.network import build_model
from textile_defects.training.config import TrainConfig
from textile_defects.training.devices import setup_device
from textile_defects.training.distributed import DistContext, RankSlice
from textile_defects.training.loop import EarlyStopping, fit
from textile_defects.training.metrics import HISTORY_COLUMNS
from textile_defects.training.trainer import TrainJob, train

from conftest import REPO_ROOT, tool_env
from training_data import CLASSES, IMAGE_SIZE, single_thread, write_train_val  # noqa: F401 (autouse fixture)

PARAMS = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
TINY = {"image_size": list(IMAGE_SIZE), "input_size": 32, "batch_size": 8, "num_workers": 0, "tracking": False}


def section(variant: str, **overrides: Any) -> dict[str, Any]:
    """The repository's params section for ``variant``, shrunk to tiny sizes."""
    return {**copy.deepcopy(PARAMS[variant]), **TINY, **overrides}


def job(data: Path, out: Path, variant: str = "train_post_baseline", encoder: str = "mobilenet_v3", **overrides: Any) -> TrainJob:
    return TrainJob(
        variant=variant,
        config=TrainConfig.from_section(section(variant, **overrides), variant),
        encoder=encoder,
        weights="none",
        classes=CLASSES,
        train_manifest=data / "train" / "manifest.csv",
        val_manifest=data / "val" / "manifest.csv",
        model_path=out / "model.pt",
        history_path=out / "history.csv",
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sets")
    write_train_val(root)
    return root


def read_history(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_two_runs_write_identical_history_and_checkpoint_bytes(data: Path, tmp_path: Path) -> None:
    # Two epochs, unfreezing after the first: both phases of the schedule are covered.
    first = job(data, tmp_path / "a", epochs=2, unfreeze_epoch=1)
    second = job(data, tmp_path / "b", epochs=2, unfreeze_epoch=1)
    train(first)
    train(second)
    assert first.history_path.read_bytes() == second.history_path.read_bytes()
    assert first.model_path.read_bytes() == second.model_path.read_bytes()
    rows = read_history(first.history_path)
    assert tuple(rows[0]) == HISTORY_COLUMNS
    assert [row["epoch"] for row in rows] == ["1", "2"]
    model, meta = load_checkpoint(first.model_path)
    assert meta["image_size"] == list(IMAGE_SIZE) and meta["classes"] == list(CLASSES)
    assert meta["params"]["train_post_baseline"]["loss"] == "focal"
    assert meta["extra"]["class_counts"] == {"non_defect": 6, "hole": 1, "lycra_cut": 1, "needle": 2, "twoply": 1}
    best = meta["extra"]["best_epoch"]
    assert float(rows[best - 1]["val_f1_macro"]) == max(float(row["val_f1_macro"]) for row in rows)


def test_post_baseline_learns_beyond_the_majority_class(data: Path, tmp_path: Path) -> None:
    # SqueezeNet has no batch norm, so a random-initialised one gives usable features at once.
    result = train(job(data, tmp_path, encoder="squeezenet1", epochs=8, unfreeze_epoch=3, lr_head=3e-3))
    val_labels = [row["label"] for row in csv.DictReader(open(data / "val" / "manifest.csv"))]
    majority = f1_score(val_labels, ["non_defect"] * len(val_labels), average="macro", zero_division=0)
    best = max(row["val_f1_macro"] for row in result.history)
    assert best > majority + 0.25, f"val F1 macro {best:.3f} vs majority-class {majority:.3f}"


def test_encoder_stays_frozen_then_only_its_last_layers_train(data: Path) -> None:
    config = TrainConfig.from_section(section("train_baseline", epochs=2, unfreeze_epoch=1, unfreeze_last_n=1), "train_baseline")
    model = build_model(encoder="mobilenet_v3", weights="none", classes=CLASSES, input_size=32)
    dataset = CachedImageDataset.from_manifest(data / "train" / "manifest.csv", CLASSES, IMAGE_SIZE)
    loader = DataLoader(dataset, batch_size=8, shuffle=True, drop_last=True)
    encoder_after_epoch = []
    initial = {name: value.clone() for name, value in model.encoder.state_dict().items()}

    def snapshot(row: dict[str, float], improved: bool, seconds: float) -> None:
        encoder_after_epoch.append({name: value.clone() for name, value in model.encoder.state_dict().items()})

    fit(model, loader, loader, torch.nn.CrossEntropyLoss(), config, setup_device("cpu", "off"), DistContext(), snapshot)
    frozen, unfrozen = encoder_after_epoch
    assert all(torch.equal(frozen[name], initial[name]) for name in initial), "a frozen encoder (and its BN) must not change"
    last_unit = "features.12.0.weight"  # mobilenet_v3_small's last unit
    assert not torch.equal(unfrozen[last_unit], initial[last_unit]), "the unfrozen last layer must train"
    assert torch.equal(unfrozen["features.11.block.0.0.weight"], initial["features.11.block.0.0.weight"])


def test_early_stopping_waits_for_patience_epochs_without_improvement() -> None:
    stopper = EarlyStopping(patience=2)
    assert [stopper.update(score) for score in (0.3, 0.5, 0.5, 0.4)] == [True, True, False, False]
    assert stopper.should_stop and stopper.best == 0.5
    never = EarlyStopping(patience=None)
    for _ in range(10):
        never.update(0.0)
    assert not never.should_stop


def test_rank_slices_partition_one_global_draw() -> None:
    draw = [7, 3, 3, 9, 1]
    slices = [list(RankSlice(draw, rank, 2, pad=True)) for rank in range(2)]
    assert slices == [[7, 3, 1], [3, 9, 7]], "padded by wrapping, equal lengths"
    val = [list(RankSlice(range(5), rank, 2, pad=False)) for rank in range(2)]
    assert sorted(val[0] + val[1]) == [0, 1, 2, 3, 4] and [len(RankSlice(range(5), r, 2, pad=False)) for r in (0, 1)] == [3, 2]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("loss", "hinge", r"loss: got 'hinge'; expected one of \['ce', 'focal'\]"),
        ("image_size", [640], r"image_size: .*\[width, height\]"),
        ("plateau_factor", 1.5, r"plateau_factor: .*< 1"),
        ("batch_size", True, r"batch_size: .*integer"),
    ],
)
def test_bad_settings_name_the_key_and_what_is_accepted(key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_section(section("train_baseline", **{key: value}), "train_baseline")


def test_unknown_and_missing_keys_are_listed() -> None:
    values = section("train_baseline", epocs=3)
    del values["epochs"]
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['epocs'\], missing key\(s\) \['epochs'\]"):
        TrainConfig.from_section(values, "train_baseline")


def test_both_sections_of_params_yaml_are_valid_and_follow_the_report() -> None:
    baseline = TrainConfig.from_section(PARAMS["train_baseline"], "train_baseline")
    post = TrainConfig.from_section(PARAMS["train_post_baseline"], "train_post_baseline")
    assert (baseline.classifier, baseline.loss, baseline.head) == ("mlp", "ce", "learned")
    assert (post.classifier, post.loss, post.loss_weighting) == ("cosine", "focal", "effective_number")
    assert baseline.hidden_units == (256, 128) and baseline.lr_encoder == post.lr_encoder == 1e-4


def test_stage_reports_missing_weights_with_the_ways_to_provide_them(data: Path, tmp_path: Path) -> None:
    params = {**PARAMS, "encoder": "resnet18", "weights": "imagenet"}
    params["train_baseline"] = section("train_baseline")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = tool_env({"TORCH_HOME": str(tmp_path / "torch-home")})
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "stages" / "train.py"), "--params", str(tmp_path / "params.yaml"),
         "--variant", "train_baseline", "--train", str(data / "train" / "manifest.csv"),
         "--val", str(data / "val" / "manifest.csv"), "--model", str(tmp_path / "m.pt"), "--history", str(tmp_path / "h.csv")],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 2, result.stderr
    assert "weights=none" in result.stderr and "weights=/path/to/" in result.stderr
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "h.csv").exists()


def test_predictions_of_a_saved_model_match_its_best_epoch(data: Path, tmp_path: Path) -> None:
    """The checkpoint holds the best epoch's weights: re-scoring validation reproduces its F1 macro."""
    run = job(data, tmp_path, epochs=3, unfreeze_epoch=3)
    result = train(run)
    model, meta = load_checkpoint(run.model_path)
    val = CachedImageDataset.from_manifest(run.val_manifest, CLASSES, tuple(meta["image_size"]))
    with torch.no_grad():
        logits = model(to_model_input(torch.from_numpy(np.asarray(val.images)), torch.device("cpu")))
    f1 = f1_score(val.labels, logits.argmax(1).numpy(), average="macro", zero_division=0)
    assert f1 == pytest.approx(result.history[result.best_epoch - 1]["val_f1_macro"])
