"""Training: reproducible outputs, real learning, the report's schedule, settings checked up front."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from sklearn.metrics import f1_score
from torch.utils.data import DataLoader, Subset

from textile_defects.data.loading import CachedImageDataset, to_model_input
from textile_defects.errors import ConfigError
from textile_defects.models.checkpoint import load_checkpoint
from textile_defects.models.network import build_model
from textile_defects.runtime.devices import resolve_device
from textile_defects.stats.history import HISTORY_COLUMNS, TRAIN_COLUMNS
from textile_defects.training import loop
from textile_defects.training.config import TrainConfig
from textile_defects.training.distributed import DistContext, RankSlice
from textile_defects.training.loop import EarlyStopping, fit, run_pass
from textile_defects.training.losses import ClassWeightedLoss
from textile_defects.training.trainer import TrainJob, train

from tests.helpers.repo import REPO_ROOT, tool_env
from tests.helpers.training_data import CLASSES, IMAGE_SIZE, section, write_train_val

CPU = resolve_device("cpu", "off")

def config(variant: str = "train_post_baseline", encoder: str = "mobilenet_v3", **overrides: Any) -> TrainConfig:
    return TrainConfig.from_section(section(variant, **overrides), variant, encoder)


def job(data: Path, out: Path, variant: str = "train_post_baseline", encoder: str = "mobilenet_v3", val: bool = True, **overrides: Any) -> TrainJob:
    return TrainJob(
        variant=variant,
        config=config(variant, encoder, **overrides),
        weights="none",
        classes=CLASSES,
        good_class="non_defect",
        train_manifest=data / "train" / "manifest.csv",
        val_manifest=data / "val" / "manifest.csv" if val else None,
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
    assert meta["classes"] == list(CLASSES)
    assert meta["params"]["train_post_baseline"]["loss"] == "focal"
    assert meta["extra"]["class_counts"] == {"non_defect": 6, "hole": 1, "lycra_cut": 1, "needle": 2, "twoply": 1}
    kept = meta["extra"]["kept_epoch"]
    assert meta["extra"]["selection"] == "best_val"
    assert float(rows[kept - 1]["val_f1_macro"]) == max(float(row["val_f1_macro"]) for row in rows)


def test_a_fixed_schedule_trains_without_a_validation_set(data: Path, tmp_path: Path) -> None:
    run = job(data, tmp_path, val=False, selection="last", epochs=2, unfreeze_epoch=1)
    result = train(run)
    assert result.kept_epoch == 2
    rows = read_history(run.history_path)
    assert tuple(rows[0]) == TRAIN_COLUMNS and len(rows) == 2
    _, meta = load_checkpoint(run.model_path)
    assert (meta["extra"]["selection"], meta["extra"]["kept_epoch"], meta["extra"]["kept_val"]) == ("last", 2, {})


def test_stage_needs_val_unless_the_schedule_is_fixed(data: Path, tmp_path: Path) -> None:
    params = {"encoder": "mobilenet_v3", "weights": "none", "classes": list(CLASSES), "good_class": "non_defect"}
    params["train_baseline"] = section("train_baseline")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "stages" / "train.py"), "--params", str(tmp_path / "params.yaml"),
         "--variant", "train_baseline", "--train", str(data / "train" / "manifest.csv"),
         "--model", str(tmp_path / "m.pt"), "--history", str(tmp_path / "h.csv")],
        cwd=tmp_path, env=tool_env({}), capture_output=True, text=True,
    )
    assert result.returncode == 2, result.stderr
    assert "train_baseline.selection is 'best_val'" in result.stderr and "selection: last" in result.stderr


def test_post_baseline_learns_beyond_the_majority_class(data: Path, tmp_path: Path) -> None:
    # SqueezeNet has no batch norm, so a random-initialised one gives usable features at once.
    result = train(job(data, tmp_path, encoder="squeezenet1", epochs=8, unfreeze_epoch=3, lr_head=3e-3))
    val_labels = [row["label"] for row in csv.DictReader(open(data / "val" / "manifest.csv"))]
    majority = f1_score(val_labels, ["non_defect"] * len(val_labels), average="macro", zero_division=0)
    best = max(row["val_f1_macro"] for row in result.history)
    assert best > majority + 0.25, f"val F1 macro {best:.3f} vs majority-class {majority:.3f}"


def test_encoder_stays_frozen_then_only_its_last_layers_train(data: Path) -> None:
    settings = config("train_baseline", epochs=2, unfreeze_epoch=1, unfreeze_last_n=1)
    model = build_model(settings.model, CLASSES, "none")
    dataset = CachedImageDataset.from_manifest(data / "train" / "manifest.csv", CLASSES, IMAGE_SIZE)
    loader = DataLoader(dataset, batch_size=8, shuffle=True, drop_last=True)
    encoder_after_epoch = []
    initial = {name: value.clone() for name, value in model.encoder.state_dict().items()}

    def snapshot(row: dict[str, float], improved: bool, seconds: float) -> None:
        encoder_after_epoch.append({name: value.clone() for name, value in model.encoder.state_dict().items()})

    fit(model, loader, loader, ClassWeightedLoss(gamma=0.0), settings, CPU, DistContext(), snapshot)
    frozen, unfrozen = encoder_after_epoch
    assert all(torch.equal(frozen[name], initial[name]) for name in initial), "a frozen encoder (and its BN) must not change"
    last_unit = "features.12.0.weight"  # mobilenet_v3_small's last unit
    assert not torch.equal(unfrozen[last_unit], initial[last_unit]), "the unfrozen last layer must train"
    assert torch.equal(unfrozen["features.11.block.0.0.weight"], initial["features.11.block.0.0.weight"])


def test_rank_slices_partition_one_global_draw() -> None:
    draw = [7, 3, 3, 9, 1]
    slices = [list(RankSlice(draw, rank, 2, pad=True)) for rank in range(2)]
    assert slices == [[7, 3, 1], [3, 9, 7]], "padded by wrapping, equal lengths"
    val = [list(RankSlice(range(5), rank, 2, pad=False)) for rank in range(2)]
    assert sorted(val[0] + val[1]) == [0, 1, 2, 3, 4] and [len(RankSlice(range(5), r, 2, pad=False)) for r in (0, 1)] == [3, 2]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("loss", "hinge", r"train_baseline\.loss: got 'hinge'; expected one of \['ce', 'focal'\]"),
        ("image_size", [640], r"train_baseline\.image_size: .*\[width, height\]"),
        ("plateau_factor", 1.5, r"train_baseline\.plateau_factor: .*< 1"),
        ("batch_size", True, r"train_baseline\.batch_size: .*integer"),
        ("seed", 4.7, r"train_baseline\.seed: got 4\.7"),
        ("selection", "best", r"train_baseline\.selection: got 'best'; expected one of \['best_val', 'last'\]"),
    ],
)
def test_bad_settings_name_the_key_path_and_what_is_accepted(key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config("train_baseline", **{key: value})


def test_every_problem_is_reported_at_once() -> None:
    values = section("train_baseline", epocs=3, lr_head=-1, head="big")
    del values["epochs"]
    with pytest.raises(ConfigError) as raised:
        TrainConfig.from_section(values, "train_baseline", "mobilenet_v3")
    message = str(raised.value)
    for expected in ("4 problem(s)", "train_baseline.epocs: unknown key", "train_baseline.epochs: missing",
                     "train_baseline.lr_head: got -1", "train_baseline.head: got 'big'"):
        assert expected in message, message


def test_the_model_keys_become_the_model_config_and_the_section_stays_flat() -> None:
    settings = config(input_size=48, classifier="mlp", encoder="squeezenet1")
    assert (settings.model.encoder, settings.model.input_size, settings.model.classifier) == ("squeezenet1", (48, 48), "mlp")
    assert settings.model.image_size == IMAGE_SIZE and settings.model.hidden_units == (256, 128)
    params = settings.as_params()
    assert set(params) == set(section()), "as_params is the section as written: flat, same keys, no encoder"
    assert params["input_size"] == [48, 48] and params["image_size"] == list(IMAGE_SIZE)


# --- the schedule: early stopping, the epoch kept, what the plateau schedule watches ------------


def _scripted_fit(
    data: Path, monkeypatch: pytest.MonkeyPatch, scores: dict[str, list[float]], val: bool = True, **overrides: Any
) -> tuple[loop.FitResult, torch.nn.Module]:
    """Run ``fit`` on 4 images with each epoch's figures scripted: ``scores[name][epoch - 1]`` for train_/val_ names."""
    passes = {"train": 0, "val": 0}

    def scripted(context: DistContext, result: loop.PassResult, num_classes: int) -> dict[str, float]:
        split = "train" if passes["train"] == passes["val"] or not val else "val"
        epoch = passes[split]
        passes[split] += 1
        return {name: scores.get(f"{split}_{name}", [0.5] * 100)[epoch] for name in ("loss", "accuracy", "f1_macro", "f1_weighted")}

    monkeypatch.setattr(loop, "_gathered_metrics", scripted)
    settings = config("train_post_baseline", **overrides)
    model = build_model(settings.model, CLASSES, "none")
    dataset = CachedImageDataset.from_manifest(data / "train" / "manifest.csv", CLASSES, IMAGE_SIZE)
    loader = DataLoader(Subset(dataset, range(4)), batch_size=4)
    result = fit(model, loader, loader if val else None, ClassWeightedLoss(gamma=0.0), settings, CPU, DistContext(), lambda *_: None)
    return result, model


def test_frozen_epochs_never_use_up_early_stopping_patience(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The report's baseline schedule: unfreeze after 20 epochs, patience 5. The best score comes in epoch 1.
    falling = [0.9 - 0.01 * epoch for epoch in range(40)]
    result, _ = _scripted_fit(
        data, monkeypatch, {"val_f1_macro": falling}, epochs=40, unfreeze_epoch=20, early_stopping_patience=5, lr_head=1e-6
    )
    assert len(result.history) == 25, "patience counts epochs 21-25 only; frozen epochs 2-20 never count"
    assert result.kept_epoch == 1


def test_early_stopping_waits_for_patience_epochs_without_improvement() -> None:
    stopper = EarlyStopping(patience=2)
    assert [stopper.update(score) for score in (0.3, 0.5, 0.5, 0.4)] == [True, True, False, False]
    assert stopper.should_stop and stopper.best == 0.5
    frozen = EarlyStopping(patience=2)
    assert [frozen.update(score, counts=False) for score in (0.5, 0.4, 0.4, 0.6)] == [True, False, False, True]
    assert not frozen.should_stop and frozen.epochs_without_improvement == 0
    never = EarlyStopping(patience=None)
    for _ in range(10):
        never.update(0.0)
    assert not never.should_stop


def test_selection_last_keeps_the_last_epoch_without_validation(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Training loss flat: with selection last the plateau schedule (patience 1) halves the rate; no early stop.
    flat = [1.0] * 10
    result, model = _scripted_fit(
        data, monkeypatch, {"train_loss": flat}, val=False, epochs=6, unfreeze_epoch=1,
        early_stopping_patience=1, plateau_patience=1, selection="last",
    )
    assert len(result.history) == 6 and result.kept_epoch == 6
    assert all(torch.equal(result.kept_state[name], value) for name, value in model.state_dict().items())
    assert tuple(result.history[0]) == TRAIN_COLUMNS
    rates = [row["lr"] for row in result.history]
    assert rates[0] == pytest.approx(1e-3) and rates[-1] < rates[0], rates


def test_selection_best_val_watches_the_validation_loss(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The same flat training loss, but a falling validation loss: the rate stays.
    result, _ = _scripted_fit(
        data, monkeypatch, {"train_loss": [1.0] * 10, "val_loss": [1.0 - 0.1 * e for e in range(10)]},
        epochs=6, unfreeze_epoch=1, plateau_patience=1,
    )
    assert all(row["lr"] == pytest.approx(1e-3) for row in result.history)
    assert tuple(result.history[0]) == HISTORY_COLUMNS


def test_selection_best_val_needs_a_validation_set(data: Path) -> None:
    settings = config()
    model = build_model(settings.model, CLASSES, "none")
    with pytest.raises(ConfigError, match="selection: last"):
        fit(model, [], None, ClassWeightedLoss(), settings, CPU, DistContext(), lambda *_: None)


# --- the loss a pass reports --------------------------------------------------------------------


class _Lookup(torch.nn.Module):
    """Fixed logits per image, chosen by its first pixel (so batches can be arranged at will)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits[(x[:, 0, 0, 0] * 255).round().long()]


def test_a_pass_reports_the_weighted_mean_over_all_its_images_not_a_mean_of_batch_means() -> None:
    torch.manual_seed(0)
    labels = torch.tensor([0, 0, 0, 0, 1, 0, 1, 1])  # batch 1: all good fabric; batch 2: mostly defects
    logits = torch.randn(8, 2)
    images = torch.arange(8, dtype=torch.uint8).view(8, 1, 1, 1).expand(8, 2, 2, 3).contiguous()
    alpha = torch.tensor([0.1, 1.9])
    loader = list(zip(images.split(4), labels.split(4), strict=True))
    result = run_pass(_Lookup(logits.clone()), loader, ClassWeightedLoss(alpha, gamma=0.0), CPU)
    per_image = F.cross_entropy(logits, labels, reduction="none")
    expected = float((alpha[labels] * per_image).sum() / alpha[labels].sum())
    assert result.loss_sum / result.weight_sum == pytest.approx(expected, rel=1e-6)
    batch_means = [F.cross_entropy(logits[i : i + 4], labels[i : i + 4], weight=alpha).item() for i in (0, 4)]
    assert abs(np.mean(batch_means) - expected) > 0.01, "the example must tell the two reductions apart"


def test_stage_reports_missing_weights_with_the_ways_to_provide_them(data: Path, tmp_path: Path) -> None:
    params = {"encoder": "resnet18", "weights": "imagenet", "classes": list(CLASSES), "good_class": "non_defect"}
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
    val = CachedImageDataset.from_manifest(run.val_manifest, CLASSES, run.config.model.image_size)
    with torch.no_grad():
        logits = model(to_model_input(torch.from_numpy(np.asarray(val.images)), torch.device("cpu")))
    f1 = f1_score(val.labels, logits.argmax(1).numpy(), labels=range(len(CLASSES)), average="macro", zero_division=0)
    assert f1 == pytest.approx(result.history[result.kept_epoch - 1]["val_f1_macro"])
