"""Where a model runs: a pure choice of device, autocast, memory format and pinned memory.

:func:`resolve_device` only reads what the machine offers; it changes no
global torch state, so evaluate and predict can call it without inheriting
training's set-up. Training adds its own global switches (deterministic
algorithms, cuDNN autotuning, the current GPU) in
:mod:`textile_defects.training.devices`.
"""

from __future__ import annotations

import contextlib
import dataclasses

import torch

from textile_defects.errors import ConfigError
from textile_defects.utils.params import DEVICES

AMP_MODES: tuple[str, ...] = ("auto", "bf16", "off")
"""Autocast settings: auto (bf16 on a GPU that supports it), bf16, or off (fp32)."""


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


def resolve_device(kind: str, amp: str = "off", local_rank: int = 0) -> DeviceSetup:
    """The :class:`DeviceSetup` for ``kind`` (auto|cpu|cuda) and ``amp`` (auto|bf16|off); no side effects.

    CUDA: GPU ``local_rank`` (one per torchrun process), bf16 autocast where
    asked for (``auto``: where the GPU supports it), channels_last, pinned
    host memory. CPU: fp32 unless ``amp`` is ``bf16``, contiguous NCHW, no
    pinning. Asking for ``cuda`` where torch sees no GPU is a :class:`ConfigError`.
    """
    if kind not in DEVICES:
        raise ConfigError(f"device: got {kind!r}; expected one of {list(DEVICES)}.")
    if amp not in AMP_MODES:
        raise ConfigError(f"amp: got {amp!r}; expected one of {list(AMP_MODES)}.")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError("params: device is 'cuda' but torch sees no CUDA GPU; use device: auto or cpu.")
    if kind == "auto":
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    if kind == "cuda":
        bf16 = amp == "bf16" or (amp == "auto" and torch.cuda.is_bf16_supported())
        return DeviceSetup(torch.device("cuda", local_rank), torch.bfloat16 if bf16 else None, channels_last=True, pin_memory=True)
    return DeviceSetup(torch.device("cpu"), torch.bfloat16 if amp == "bf16" else None, channels_last=False, pin_memory=False)
