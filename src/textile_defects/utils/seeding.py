"""Seeds derived from names, so every random draw is a pure function of its inputs."""

from __future__ import annotations

import hashlib
import random

import numpy as np


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any parts, stable across processes and Python versions.

    ``derive_seed(seed, original_id, copy_index)`` gives the same number in
    any worker, in any order, on any run; unlike ``hash()``, which is salted
    per process.
    """
    text = "\x1f".join(str(part) for part in parts)
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def rng_for(*parts: object) -> np.random.Generator:
    """A NumPy generator seeded by :func:`derive_seed` over ``parts``."""
    return np.random.default_rng(derive_seed(*parts))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (when imported) for a deterministic run."""
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return
    torch.manual_seed(seed)
