"""Device selection: the CUDA recipe where a GPU is present, a clear error where one is asked for and missing."""

from __future__ import annotations

import pytest
import torch

from textile_defects.errors import ConfigError
from textile_defects.training.devices import setup_device


@pytest.fixture
def pretend_gpu(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """torch.cuda answering as on a bf16-capable GPU machine; returns the devices ``set_device`` was given."""
    chosen: list[int] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    return chosen


def test_asking_for_cuda_without_a_gpu_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="device: auto or cpu"):
        setup_device("cuda", "auto")


def test_auto_without_a_gpu_trains_in_deterministic_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    setup = setup_device("auto", "auto")
    assert setup.device == torch.device("cpu")
    assert setup.amp_dtype is None and not setup.channels_last and not setup.pin_memory
    assert torch.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize("kind", ["auto", "cuda"])
def test_a_gpu_gets_bf16_autocast_channels_last_and_pinned_memory(pretend_gpu: list[int], kind: str) -> None:
    setup = setup_device(kind, "auto", local_rank=1)
    assert setup.device == torch.device("cuda", 1)
    assert pretend_gpu == [1], "each torchrun process takes the GPU of its local rank"
    assert setup.amp_dtype == torch.bfloat16
    assert setup.channels_last and setup.pin_memory
    assert torch.backends.cudnn.benchmark


def test_amp_off_keeps_a_gpu_in_fp32(pretend_gpu: list[int]) -> None:
    assert setup_device("cuda", "off").amp_dtype is None


def test_a_gpu_without_bf16_falls_back_to_fp32(pretend_gpu: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert setup_device("cuda", "auto").amp_dtype is None
