"""Resumable training: an interrupted run, re-run, ends in the bytes an uninterrupted run writes.

The interruption here is an exception mid-epoch, in this process (fast);
tests/e2e/test_resume.py SIGKILLs the real stage and its torchrun form.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from textile_defects.training import loop
from textile_defects.training.config import TrainConfig
from textile_defects.training.resume import RunKey, TrainingState
from textile_defects.training.trainer import TrainJob, train

from tests.helpers.training_data import CLASSES, section, write_train_val


class Interrupted(Exception):
    """Stands for the kill: raised inside an epoch's training pass."""


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sets")
    write_train_val(root)
    return root


def job(data: Path, out: Path, variant: str, state_root: Path | None, **overrides: Any) -> TrainJob:
    return TrainJob(
        variant=variant,
        config=TrainConfig.from_section(section(variant, **overrides), variant, "mobilenet_v3"),
        weights="none",
        classes=CLASSES,
        good_class="non_defect",
        train_manifest=data / "train" / "manifest.csv",
        val_manifest=data / "val" / "manifest.csv",
        model_path=out / "model.pt",
        history_path=out / "history.csv",
        state_root=state_root,
    )


def interrupt_in(monkeypatch: pytest.MonkeyPatch, description: str, after_batches: int) -> None:
    plain = loop.progress

    def progress(iterable: Any = None, **kwargs: Any) -> Any:
        bar = plain(iterable, **kwargs)
        return _raising(bar, after_batches) if kwargs.get("desc") == description else bar

    monkeypatch.setattr(loop, "progress", progress)


def _raising(batches: Any, after_batches: int) -> Iterator[Any]:
    for index, batch in enumerate(batches):
        if index == after_batches:
            raise Interrupted
        yield batch


SCHEDULES = {
    # The tiny post-baseline: learned head (the trunk always trains), effective-number sampler;
    # broken in epoch 3, the first with the encoder unfrozen: the resumed run unfreezes it itself.
    "weighted draw, learned head": ("train_post_baseline", {"epochs": 4, "unfreeze_epoch": 2}, 3),
    # Shuffled draw, frozen-feature cache for two epochs, persistent loader workers (started in
    # epoch 3, drawing their seed once), early stopping; broken in epoch 4, after the unfreezing.
    "shuffle, cached features, workers": (
        "train_baseline", {"epochs": 5, "unfreeze_epoch": 2, "head": "resize", "num_workers": 1, "early_stopping_patience": 2}, 4,
    ),
}


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_an_interrupted_run_resumes_to_the_same_bytes(
    schedule: str, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    variant, overrides, broken_epoch = SCHEDULES[schedule]
    train(job(data, tmp_path / "whole", variant, None, **overrides))

    states = tmp_path / "states"
    interrupted = job(data, tmp_path / "resumed", variant, states, **overrides)
    with monkeypatch.context() as patch:
        interrupt_in(patch, f"epoch {broken_epoch} train", after_batches=1)
        with pytest.raises(Interrupted):
            train(interrupted)
    assert not interrupted.model_path.exists()
    (kept,) = (path for path in states.rglob("*.pt") if path.is_file())
    assert torch.load(kept, weights_only=True)["epoch"] == broken_epoch - 1

    caplog.clear()
    with caplog.at_level(logging.INFO):
        train(interrupted)
    assert "resuming" in caplog.text and f"after epoch {broken_epoch - 1} of {overrides['epochs']}" in caplog.text
    assert "epoch 1: train loss" not in caplog.text, "epochs before the break are not trained again"
    for name in ("model.pt", "history.csv"):
        assert (tmp_path / "resumed" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    assert not states.exists(), "the state is removed once the outputs are written"


def test_a_finished_run_whose_outputs_failed_writes_them_without_training(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from textile_defects.training import trainer

    states = tmp_path / "states"
    first = job(data, tmp_path / "out", "train_post_baseline", states)
    with monkeypatch.context() as patch:
        patch.setattr(trainer, "save_checkpoint", lambda *args, **kwargs: (_ for _ in ()).throw(Interrupted()))
        with pytest.raises(Interrupted):
            train(first)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        result = train(first)
    assert "after epoch 2 of 2" in caplog.text and "epoch 2: train loss" not in caplog.text
    assert [row["epoch"] for row in result.history] == [1, 2]
    train(job(data, tmp_path / "whole", "train_post_baseline", None))
    assert first.model_path.read_bytes() == (tmp_path / "whole" / "model.pt").read_bytes()


def key(**changes: str) -> RunKey:
    parts = {"params": "p1", "training manifest": "t1", "validation manifest": "v1", "training code": "c1",
             "torch": "2", "processes": "1", "device": "cpu"}
    return RunKey({**parts, **changes})


def test_a_state_of_another_configuration_is_never_resumed_and_the_log_says_what_changed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    output = tmp_path / "models" / "baseline.pt"
    old = TrainingState(tmp_path / "states", output, key())
    assert old.open() is None
    old.save({"epoch": 3, "epochs": 6, "weights": torch.ones(2)})
    old.close()

    changed = TrainingState(tmp_path / "states", output, key(params="p2", **{"training manifest": "t2"}))
    with caplog.at_level(logging.INFO):
        assert changed.open() is None
    assert "epoch 3 of 6" in caplog.text and "params, training manifest changed" in caplog.text
    assert not old.path.exists() and not old.info_path.exists()

    changed.save({"epoch": 1, "epochs": 6})
    changed.close()
    again = TrainingState(tmp_path / "states", output, key(params="p2", **{"training manifest": "t2"}))
    assert again.open()["epoch"] == 1
    again.finish()
    assert not (tmp_path / "states").exists()


def test_two_processes_on_one_configuration_never_share_its_state(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    output = tmp_path / "models" / "baseline.pt"
    first = TrainingState(tmp_path / "states", output, key())
    first.open()
    second = TrainingState(tmp_path / "states", output, key())
    with caplog.at_level(logging.WARNING):
        assert second.open() is None
    assert not second.enabled and "held by another process" in caplog.text
    second.save({"epoch": 1, "epochs": 2})
    assert not first.path.exists(), "only the holder writes"
    first.save({"epoch": 1, "epochs": 2})
    first.finish()


def test_an_unreadable_state_starts_fresh(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = TrainingState(tmp_path / "states", tmp_path / "model.pt", key())
    state.path.parent.mkdir(parents=True)
    state.path.write_bytes(b"half a file")
    with caplog.at_level(logging.WARNING):
        assert state.open() is None
    assert "unreadable" in caplog.text
    state.close()
