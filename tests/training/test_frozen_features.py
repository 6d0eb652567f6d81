"""Cached frozen-trunk features: the same training as recomputing them, at one trunk pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, RandomSampler

from textile_defects.data.loading import CachedImageDataset
from textile_defects.models.network import build_model
from textile_defects.runtime.devices import resolve_device
from textile_defects.training.config import TrainConfig
from textile_defects.training.distributed import DistContext
from textile_defects.training.frozen_features import can_cache
from textile_defects.training.loop import FitResult, fit
from textile_defects.training.losses import build_loss

from tests.helpers.training_data import CLASSES, IMAGE_SIZE, section, write_train_val

CPU = resolve_device("cpu", "off")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sets")
    write_train_val(root)
    return root


def _fit(data: Path, **overrides: Any) -> tuple[FitResult, int]:
    """Train the post-baseline recipe (resize head) from one seed; return the result and the encoder's batch count."""
    settings = TrainConfig.from_section(section(head="resize", **overrides), "train_post_baseline", "mobilenet_v3")
    torch.manual_seed(settings.seed)
    model = build_model(settings.model, CLASSES, "none")
    train_set = CachedImageDataset.from_manifest(data / "train" / "manifest.csv", CLASSES, IMAGE_SIZE)
    val_set = CachedImageDataset.from_manifest(data / "val" / "manifest.csv", CLASSES, IMAGE_SIZE)
    # The trainer's own kind of draw: a seeded sampler, the loader's base seed from the global generator.
    sampler = RandomSampler(train_set, generator=torch.Generator().manual_seed(3))
    train_loader = DataLoader(train_set, sampler=sampler, batch_size=settings.batch_size, drop_last=True)
    val_loader = DataLoader(val_set, batch_size=settings.batch_size)
    batches = []
    model.encoder.register_forward_hook(lambda module, args, output: batches.append(len(output)))
    loss = build_loss(settings.loss, [6, 1, 1, 2, 1], settings.loss_weighting, settings.cb_beta, settings.focal_gamma, sampler="none")
    result = fit(model, train_loader, val_loader, loss, settings, CPU, DistContext(), lambda *_: None)
    return result, len(batches)


TRAIN_BATCHES, VAL_BATCHES = 33 // 8, 14 // 8 + 1  # 33 training images (drop_last), 14 validation
ONE_PASS = (33 // 8 + 1) + VAL_BATCHES  # every image once, the last partial batch included


def _assert_same_history(mine: list[dict[str, float]], theirs: list[dict[str, float]]) -> None:
    for row, other in zip(mine, theirs, strict=True):
        assert row.keys() == other.keys()
        for key in row:
            assert row[key] == pytest.approx(other[key], rel=1e-4, abs=1e-5), (row["epoch"], key)


def test_cached_features_train_as_recomputed_ones_at_one_trunk_pass(data: Path) -> None:
    schedule = {"epochs": 4, "unfreeze_epoch": 4, "dropout": 0.3}
    cached, cached_batches = _fit(data, cache_frozen_features=True, **schedule)
    recomputed, recomputed_batches = _fit(data, cache_frozen_features=False, **schedule)
    assert recomputed_batches == 4 * (TRAIN_BATCHES + VAL_BATCHES)
    assert cached_batches == ONE_PASS
    # Same draws, same dropout masks, same updates: only the last float bits may differ.
    _assert_same_history(cached.history, recomputed.history)
    assert cached.kept_epoch == recomputed.kept_epoch
    for name, value in cached.kept_state.items():
        torch.testing.assert_close(value, recomputed.kept_state[name], rtol=1e-4, atol=1e-5, msg=name)


def test_unfreezing_the_encoder_goes_back_to_images(data: Path) -> None:
    # Compared up to the unfreezing only: fine-tuning a random-initialised encoder turns the
    # features' last-bit differences into visible ones (as a change of thread count does).
    schedule = {"epochs": 3, "unfreeze_epoch": 2}
    cached, cached_batches = _fit(data, cache_frozen_features=True, **schedule)
    recomputed, _ = _fit(data, cache_frozen_features=False, **schedule)
    assert cached_batches == ONE_PASS + TRAIN_BATCHES + VAL_BATCHES
    _assert_same_history(cached.history[:2], recomputed.history[:2])


def test_nothing_is_cached_while_the_trunk_trains(data: Path) -> None:
    settings = TrainConfig.from_section(section(head="learned"), "train_post_baseline", "mobilenet_v3")
    learned = build_model(settings.model, CLASSES, "none")
    learned.freeze_encoder()
    loader = DataLoader(CachedImageDataset.from_manifest(data / "val" / "manifest.csv", CLASSES, IMAGE_SIZE), batch_size=4)
    assert not can_cache(learned, (loader, None), distributed=False), "the learned head trains: its output changes"
    resize = build_model(TrainConfig.from_section(section(head="resize"), "train_post_baseline", "mobilenet_v3").model, CLASSES, "none")
    resize.freeze_encoder()
    assert can_cache(resize, (loader, None), distributed=False)
    assert not can_cache(resize, (loader, None), distributed=True), "each rank sees its own slice"
    assert not can_cache(resize, (list(loader), None), distributed=False), "only a DataLoader can be mirrored"
    resize.unfreeze_last(1)
    assert not can_cache(resize, (loader, None), distributed=False)
