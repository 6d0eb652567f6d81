"""The memory bank: greedy k-center coreset selection and nearest-neighbour patch scores.

PatchCore keeps a coreset of the good patches instead of all of them: greedy
k-center picks, one at a time, the patch farthest from every patch picked so
far, so rare good patterns survive while the many near-duplicates go. As in
the paper, distances for the selection are taken in a random (Johnson-
Lindenstrauss) projection to fewer dimensions, which keeps them roughly while
making each step cheaper; the bank itself stores the full features.

Pure torch on the CPU: nearest neighbours are chunked matrix products
(||q||^2 + ||b||^2 - 2 q.b), exact, no approximate index needed at these
sizes (benchmarks/bench_gate.py measures it).
"""

from __future__ import annotations

import torch

QUERY_CHUNK = 4096
"""Query rows per distance block: bounds memory at QUERY_CHUNK x bank size floats."""


def random_projection(dim_in: int, dim_out: int, seed: int) -> torch.Tensor:
    """A (dim_in, dim_out) Gaussian projection scaled by 1/sqrt(dim_out), seeded."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(dim_in, dim_out, generator=generator, dtype=torch.float32) / dim_out**0.5


def greedy_coreset(features: torch.Tensor, size: int, *, projection_dim: int | None, seed: int) -> torch.Tensor:
    """Indices (size,) of a greedy k-center coreset of ``features`` (N, D), in the order picked.

    The first centre is drawn with ``seed``; each next one is the row farthest
    (Euclidean) from its nearest centre so far, ties going to the lowest index.
    With ``projection_dim`` < D the distances are computed after
    :func:`random_projection`. ``size`` >= N returns every index.
    """
    count = features.shape[0]
    if size >= count:
        return torch.arange(count)
    if size < 1:
        raise ValueError(f"coreset size must be >= 1, got {size}")
    points = features.float()
    if projection_dim is not None and projection_dim < points.shape[1]:
        points = points @ random_projection(points.shape[1], projection_dim, seed)
    squared_norms = (points * points).sum(dim=1)
    start = int(torch.randint(count, (1,), generator=torch.Generator().manual_seed(seed)))
    nearest = torch.full((count,), float("inf"))
    chosen = torch.empty(size, dtype=torch.long)
    index = start
    for step in range(size):
        chosen[step] = index
        centre = points[index]
        distances = squared_norms - 2.0 * (points @ centre) + squared_norms[index]
        torch.minimum(nearest, distances, out=nearest)
        nearest[index] = -1.0  # a chosen point is never picked again, even with rounding
        index = int(torch.argmax(nearest))
    return chosen


def nearest_distances(queries: torch.Tensor, bank: torch.Tensor, *, chunk: int = QUERY_CHUNK) -> torch.Tensor:
    """Euclidean distance (M,) from each query row (M, D) to its nearest bank row (K, D)."""
    bank = bank.float()
    bank_norms = (bank * bank).sum(dim=1)
    result = torch.empty(queries.shape[0])
    for begin in range(0, queries.shape[0], chunk):
        block = queries[begin : begin + chunk].float()
        squared = torch.addmm(bank_norms.unsqueeze(0), block, bank.T, alpha=-2.0)
        squared += (block * block).sum(dim=1, keepdim=True)
        result[begin : begin + chunk] = squared.min(dim=1).values.clamp_min_(0.0).sqrt_()
    return result
