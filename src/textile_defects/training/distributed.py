"""Several processes, one model: torchrun + DistributedDataParallel.

``torchrun --nproc_per_node=N stages/train.py ...`` starts N copies of the
stage; each reads its rank from the environment torchrun sets. Every rank
draws the SAME global weighted sample (same seed, same generator state, so
the class re-balancing is exactly that of a single process) and trains on its
slice of it; validation is sliced the same way and the predictions gathered,
so every rank computes identical metrics and takes identical early-stopping
and learning-rate decisions. Only rank 0 writes outputs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Iterable, Iterator, Sized
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import Sampler


@dataclasses.dataclass(frozen=True)
class DistContext:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """The one process that writes outputs and logs to MLflow."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def context_from_env() -> DistContext:
    """Rank, world size and local rank from the variables torchrun sets (defaults: one process)."""
    return DistContext(
        rank=int(os.environ.get("RANK", 0)),
        world_size=int(os.environ.get("WORLD_SIZE", 1)),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )


@contextlib.contextmanager
def process_group(context: DistContext, device: torch.device) -> Iterator[None]:
    """Join the process group for the run (NCCL on GPUs, gloo on CPU); leave it after."""
    if not context.is_distributed:
        yield
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, rank=context.rank, world_size=context.world_size)
    try:
        yield
    finally:
        dist.destroy_process_group()


def gather(context: DistContext, value: Any) -> list[Any]:
    """``value`` from every rank, in rank order (a one-item list in a single process)."""
    if not context.is_distributed:
        return [value]
    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def broadcast(context: DistContext, value: Any) -> Any:
    """Rank 0's ``value`` on every rank (``value`` itself in a single process)."""
    if not context.is_distributed:
        return value
    box = [value if context.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class RankSlice(Sampler[int]):
    """Rank ``rank``'s share of the indices ``base`` yields: every ``world_size``-th, from ``rank``.

    ``base`` is iterated in full on every rank, so a seeded sampler advances
    its generator identically everywhere and the slices partition one global
    draw. With ``pad``, the draw is extended by wrapping around so that all
    ranks get the same number of indices (DDP needs equal batch counts to
    synchronise gradients); without it (validation), no index is repeated.
    """

    def __init__(self, base: Iterable[int] | Sized, rank: int, world_size: int, *, pad: bool) -> None:
        self.base = base
        self.rank = rank
        self.world_size = world_size
        self.pad = pad

    def set_epoch(self, epoch: int) -> None:
        """Pass the epoch on to a base sampler that draws per epoch."""
        if hasattr(self.base, "set_epoch"):
            self.base.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        """Where the base sampler's draws stand (its own ``state_dict``, or a shuffle's generator state)."""
        if hasattr(self.base, "state_dict"):
            return {"base": self.base.state_dict()}
        generator = getattr(self.base, "generator", None)
        return {"generator": generator.get_state()} if isinstance(generator, torch.Generator) else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the base sampler's draws from ``state`` (:meth:`state_dict`)."""
        if "base" in state:
            self.base.load_state_dict(state["base"])  # type: ignore[union-attr]
        elif "generator" in state:
            self.base.generator.set_state(state["generator"])  # type: ignore[union-attr]

    def __iter__(self) -> Iterator[int]:
        indices = list(self.base)  # type: ignore[call-overload]
        if self.pad and indices:
            indices += indices[: -len(indices) % self.world_size]
        return iter(indices[self.rank :: self.world_size])

    def __len__(self) -> int:
        total = len(self.base)  # type: ignore[arg-type]
        if self.pad:
            return math.ceil(total / self.world_size)
        return len(range(self.rank, total, self.world_size))
