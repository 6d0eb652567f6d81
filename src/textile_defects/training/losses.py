"""Class-weighted losses for a long-tailed class distribution.

Weights come from the number n_c of ORIGINAL training images per class (not
augmented copies, which only repeat the same photos):

- ``inverse_frequency`` (baseline): w_c proportional to 1 / n_c.
- ``effective_number`` (post-baseline; Cui et al. 2019, "Class-Balanced Loss
  Based on Effective Number of Samples"): w_c proportional to
  (1 - beta) / (1 - beta^n_c), the inverse of the effective number of
  samples E_n = (1 - beta^n) / (1 - beta). beta = 0 gives equal weights,
  beta -> 1 gives inverse frequency.
- ``none``: equal weights.

Weights are normalised to sum to the number of classes, as in Cui et al.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from textile_defects.errors import ConfigError, DataError

WEIGHTINGS = ("none", "inverse_frequency", "effective_number")
LOSSES = ("ce", "focal")


def class_weights(class_counts: Sequence[int], kind: str, beta: float = 0.999) -> torch.Tensor:
    """Per-class weights (C,) float32 summing to C, from ``class_counts`` (originals per class).

    ``kind`` is "none", "inverse_frequency" or "effective_number"; ``beta``
    in [0, 1) is used by the last only.
    """
    if kind not in WEIGHTINGS:
        raise ConfigError(f"weighting: unknown kind {kind!r}; choose one of {', '.join(WEIGHTINGS)}.")
    counts = torch.as_tensor([int(count) for count in class_counts], dtype=torch.float64)
    if counts.numel() == 0:
        raise ConfigError("class_counts: need at least one class.")
    if kind == "none":
        return torch.ones(counts.numel(), dtype=torch.float32)
    if bool((counts < 1).any()):
        raise DataError(
            f"class counts {counts.int().tolist()}: every class needs at least one original training image "
            f"for {kind} weighting; add photos of the empty class or remove it from params 'classes'."
        )
    if kind == "inverse_frequency":
        raw = 1.0 / counts
    else:
        if not 0.0 <= beta < 1.0:
            raise ConfigError(f"cb_beta: must be in [0, 1), got {beta}.")
        raw = (1.0 - beta) / (1.0 - torch.pow(torch.tensor(beta, dtype=torch.float64), counts))
    return (raw * counts.numel() / raw.sum()).float()


class FocalLoss(nn.Module):
    """Class-balanced focal loss (Lin et al. 2017; Cui et al. 2019), a weighted mean over the batch.

    loss = sum_i a_{y_i} (1 - p_i)^gamma (-log p_i) / sum_i a_{y_i}, with p_i
    the softmax probability of the true class and ``alpha`` the class weights.
    Dividing by the weights drawn, as ``nn.CrossEntropyLoss(weight=...)``
    does, keeps the loss scale independent of each batch's class mix (which a
    weighted sampler varies) and makes ``gamma=0`` exactly weighted cross entropy.
    """

    def __init__(self, alpha: torch.Tensor | None = None, gamma: float = 2.0) -> None:
        super().__init__()
        if gamma < 0:
            raise ConfigError(f"focal_gamma: must be >= 0, got {gamma}.")
        self.gamma = float(gamma)
        self.register_buffer("alpha", None if alpha is None else alpha.detach().float().clone())

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(N, C) logits and (N,) int64 class indices -> scalar loss (float32 even under autocast)."""
        log_p = F.log_softmax(logits.float(), dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
        modulating = (1.0 - log_p.exp()).clamp(min=0.0).pow(self.gamma)
        per_sample = -modulating * log_p
        if self.alpha is None:
            return per_sample.mean()
        weight = self.alpha[target]
        return (weight * per_sample).sum() / weight.sum()


def build_loss(kind: str, class_counts: Sequence[int], weighting: str, beta: float, gamma: float) -> nn.Module:
    """The training loss: "ce" (weighted cross entropy) or "focal" (class-balanced focal).

    ``weighting`` picks the class weights (see :func:`class_weights`); with
    "none" the loss is unweighted. ``gamma`` is used by "focal" only.
    """
    if kind not in LOSSES:
        raise ConfigError(f"loss: unknown loss {kind!r}; choose one of {', '.join(LOSSES)}.")
    computed = class_weights(class_counts, weighting, beta)
    # Unweighted losses skip the weight tensor rather than multiply by ones.
    weights = None if weighting == "none" else computed
    if kind == "ce":
        return nn.CrossEntropyLoss(weight=weights)
    return FocalLoss(alpha=weights, gamma=gamma)
