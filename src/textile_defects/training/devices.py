"""Where training runs: CPU (fp32, deterministic) or CUDA (bf16 autocast, channels_last)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging

import torch

from textile_defects.errors import ConfigError

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DeviceSetup:
    """How batches and the model are placed on one process's device."""

    device: torch.device
    amp_dtype: torch.dtype | None
    """Autocast dtype, or None for full fp32."""
    channels_last: bool
    pin_memory: bool

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        """Mixed precision for the forward pass when enabled; a no-op otherwise."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)


def setup_device(kind: str, amp: str, local_rank: int = 0) -> DeviceSetup:
    """Resolve ``device`` (auto|cpu|cuda) and ``amp`` (auto|bf16|off) params for this process.

    CUDA: GPU ``local_rank`` (one per torchrun process), cuDNN autotuning,
    bf16 autocast where the GPU supports it, channels_last, pinned host memory.
    CPU: fp32 with deterministic algorithms, so a run repeats bit for bit.
    """
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError("params: device is 'cuda' but torch sees no CUDA GPU; use device: auto or cpu.")
    if kind == "auto":
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    if kind == "cuda":
        torch.cuda.set_device(local_rank)
        torch.backends.cudnn.benchmark = True
        device = torch.device("cuda", local_rank)
        bf16 = amp == "bf16" or (amp == "auto" and torch.cuda.is_bf16_supported())
        setup = DeviceSetup(device, torch.bfloat16 if bf16 else None, channels_last=True, pin_memory=True)
    else:
        torch.use_deterministic_algorithms(True)
        amp_dtype = torch.bfloat16 if amp == "bf16" else None
        setup = DeviceSetup(torch.device("cpu"), amp_dtype, channels_last=False, pin_memory=False)
    log.info("device %s, autocast %s, %d CPU threads", setup.device, setup.amp_dtype, torch.get_num_threads())
    return setup
