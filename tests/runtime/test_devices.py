"""Device selection: a pure choice shared by inference, plus training's own global set-up."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import torch

from textile_defects.errors import ConfigError
from textile_defects.runtime.devices import resolve_device
from textile_defects.training.devices import setup_training_device


@pytest.fixture
def pretend_gpu(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """torch.cuda answering as on a bf16-capable GPU machine; returns the devices ``set_device`` was given."""
    chosen: list[int] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    return chosen


@pytest.fixture
def deterministic_off() -> Iterator[None]:
    """Start with deterministic algorithms off (another test may have trained), and leave them as found."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(False)
    yield
    torch.use_deterministic_algorithms(before)


def test_asking_for_cuda_without_a_gpu_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="device: auto or cpu"):
        resolve_device("cuda", "auto")
    with pytest.raises(ConfigError, match="device: auto or cpu"):
        setup_training_device("cuda", "auto")


def test_unknown_device_or_amp_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="'tpu'"):
        resolve_device("tpu")
    with pytest.raises(ConfigError, match="'fp8'"):
        resolve_device("cpu", "fp8")


def test_resolving_a_device_changes_no_global_torch_state(pretend_gpu: list[int], deterministic_off: None) -> None:
    setup = resolve_device("auto", "auto", local_rank=1)
    assert setup.device == torch.device("cuda", 1)
    assert pretend_gpu == [] and not torch.backends.cudnn.benchmark
    assert not torch.are_deterministic_algorithms_enabled()


def test_auto_without_a_gpu_trains_in_deterministic_fp32(monkeypatch: pytest.MonkeyPatch, deterministic_off: None) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto", "auto") == setup_training_device("auto", "auto")
    setup = resolve_device("auto", "auto")
    assert setup.device == torch.device("cpu")
    assert setup.amp_dtype is None and not setup.channels_last and not setup.pin_memory
    assert torch.are_deterministic_algorithms_enabled(), "training's set-up turns deterministic algorithms on"


@pytest.mark.parametrize("kind", ["auto", "cuda"])
def test_a_gpu_gets_bf16_autocast_channels_last_and_pinned_memory(pretend_gpu: list[int], kind: str) -> None:
    setup = setup_training_device(kind, "auto", local_rank=1)
    assert setup.device == torch.device("cuda", 1)
    assert pretend_gpu == [1], "each torchrun process takes the GPU of its local rank"
    assert setup.amp_dtype == torch.bfloat16
    assert setup.channels_last and setup.pin_memory
    assert torch.backends.cudnn.benchmark


def test_amp_off_keeps_a_gpu_in_fp32(pretend_gpu: list[int]) -> None:
    assert resolve_device("cuda", "off").amp_dtype is None


def test_a_gpu_without_bf16_falls_back_to_fp32(pretend_gpu: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve_device("cuda", "auto").amp_dtype is None


def test_inference_imports_nothing_from_training() -> None:
    # Evaluate and predict must not inherit training's global switches, nor depend on its code (dvc.yaml deps).
    script = (
        "import sys, torch\n"
        "import textile_defects.predict, textile_defects.evaluation.evaluate\n"
        "from textile_defects.runtime.devices import resolve_device\n"
        "resolve_device('auto')\n"
        "print(sorted(name for name in sys.modules if name.startswith('textile_defects.training')))\n"
        "print(torch.are_deterministic_algorithms_enabled())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[:2] == ["[]", "False"]
