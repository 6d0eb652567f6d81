"""Training's device set-up: the shared choice of device plus the global switches only training wants."""

from __future__ import annotations

import logging

import torch

from textile_defects.runtime.devices import DeviceSetup, resolve_device

log = logging.getLogger(__name__)


def setup_training_device(kind: str, amp: str, local_rank: int = 0) -> DeviceSetup:
    """Resolve ``device`` and ``amp`` params (:func:`~textile_defects.runtime.devices.resolve_device`) and set torch up to train.

    CUDA: makes GPU ``local_rank`` current and turns on cuDNN autotuning.
    CPU: deterministic algorithms, so a run repeats bit for bit. These are
    process-wide switches, which is why inference never calls this.
    """
    setup = resolve_device(kind, amp, local_rank)
    if setup.device.type == "cuda":
        torch.cuda.set_device(local_rank)
        torch.backends.cudnn.benchmark = True
    else:
        torch.use_deterministic_algorithms(True)
    log.info("device %s, autocast %s, %d CPU threads", setup.device, setup.amp_dtype, torch.get_num_threads())
    return setup
