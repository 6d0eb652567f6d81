"""The training losses: class-weighted cross entropy and class-balanced focal loss.

Both are one module, :class:`ClassWeightedLoss` (focal with ``gamma = 0`` is
exactly weighted cross entropy), and both reduce a batch to the weighted mean
sum_i w_{y_i} l_i / sum_i w_{y_i}. :meth:`ClassWeightedLoss.terms` returns the
numerator and the denominator apart, so a pass over many batches reports the
same weighted mean over all its images (sum of numerators over sum of
denominators) instead of an average of per-batch means. The class weights
come from :mod:`textile_defects.training.balance`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from textile_defects.errors import ConfigError
from textile_defects.training.balance import class_weights, correction_power

LOSSES = ("ce", "focal")


class ClassWeightedLoss(nn.Module):
    """Class-weighted focal loss (Lin et al. 2017; Cui et al. 2019); ``gamma = 0`` is weighted cross entropy.

    loss = sum_i a_{y_i} (1 - p_i)^gamma (-log p_i) / sum_i a_{y_i}, with p_i
    the softmax probability of the true class and ``alpha`` the class weights
    (None: all 1, the plain mean). Dividing by the weights drawn, as
    ``nn.CrossEntropyLoss(weight=...)`` does, keeps the loss scale independent
    of each batch's class mix (which a weighted sampler varies).
    """

    def __init__(self, alpha: torch.Tensor | None = None, gamma: float = 2.0) -> None:
        super().__init__()
        if gamma < 0:
            raise ConfigError(f"focal_gamma: must be >= 0, got {gamma}.")
        self.gamma = float(gamma)
        self.register_buffer("alpha", None if alpha is None else alpha.detach().float().clone())

    def terms(self, logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C) logits and (N,) int64 class indices -> (sum_i a_i l_i, sum_i a_i), float32 scalars."""
        log_p = F.log_softmax(logits.float(), dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
        per_sample = -log_p
        if self.gamma > 0:
            per_sample = per_sample * (1.0 - log_p.exp()).clamp(min=0.0).pow(self.gamma)
        weight = torch.ones_like(per_sample) if self.alpha is None else self.alpha[target]
        return (weight * per_sample).sum(), weight.sum()

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The batch's weighted mean loss (float32 even under autocast)."""
        total, weight = self.terms(logits, target)
        return total / weight


def build_loss(
    kind: str,
    class_counts: Sequence[int],
    weighting: str,
    beta: float,
    gamma: float,
    *,
    sampler: str,
    combine: str = "half_each",
) -> ClassWeightedLoss:
    """The training loss: "ce" (weighted cross entropy) or "focal" (class-balanced focal).

    ``weighting`` picks the class weights; with a weighted ``sampler`` also on,
    ``combine`` says whether the weights apply half of the correction and the
    sampler the other half, or each all of it (:mod:`~textile_defects.training.balance`).
    With "none" the loss is unweighted. ``gamma`` is used by "focal" only.
    """
    if kind not in LOSSES:
        raise ConfigError(f"loss: unknown loss {kind!r}; choose one of {', '.join(LOSSES)}.")
    power = correction_power(sampler, weighting, combine)
    weights = None if weighting == "none" else class_weights(class_counts, weighting, beta, power)
    return ClassWeightedLoss(alpha=weights, gamma=gamma if kind == "focal" else 0.0)
