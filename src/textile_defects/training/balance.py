"""Class re-balancing: class weights, and how a weighted sampler and a weighted loss share one correction.

Weights come from the number n_c of ORIGINAL training images per class (not
augmented copies, which only repeat the same photos):

- ``inverse_frequency``: w_c proportional to 1 / n_c.
- ``effective_number`` (Cui et al. 2019, "Class-Balanced Loss Based on
  Effective Number of Samples"): w_c proportional to (1 - beta) / (1 - beta^n_c),
  the inverse of the effective number of samples E_n = (1 - beta^n) / (1 - beta).
  beta = 0 gives equal weights, beta -> 1 gives inverse frequency.
- ``none``: equal weights.

One correction gives class c the total pull (its share of the draws times the
weight of each draw) n_c w_c, normalised: balanced classes for inverse
frequency, between the originals' own mix and balanced for the effective
number. The sampler and the loss can each apply it; when BOTH are on,
``combine`` (params ``balance_combine``) says how:

- ``half_each`` (the default): each applies half of it (its weights to the
  power 1/2), so the product of the sampler's share and the loss weight is
  still one correction, n_c sqrt(w_c w'_c) (exactly n_c w_c when both name
  the same kind).
- ``full_each`` (the report's recipe): each applies all of it, which gives
  n_c w_c w'_c, two corrections: under inverse frequency a class with one
  photo outweighs one with forty 40 to 1, and at beta = 0.9 needle (4
  originals) gets less pull than good fabric (40) while hole (1) gets three
  times as much. docs/training.md tabulates both on the sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from textile_defects.errors import ConfigError, DataError

WEIGHTINGS = ("none", "inverse_frequency", "effective_number")
COMBINES = ("half_each", "full_each")
"""How a weighted sampler and a weighted loss share the correction when both are on (module docstring)."""


def correction_power(sampler: str, loss_weighting: str, combine: str = "half_each") -> float:
    """The power each of sampler and loss weighting applies its weights with.

    1 when only one is on; with both, 1/2 each under ``half_each`` and 1 each under ``full_each``.
    """
    for key, kind, options in (("sampler", sampler, WEIGHTINGS), ("loss_weighting", loss_weighting, WEIGHTINGS),
                               ("balance_combine", combine, COMBINES)):  # fmt: skip
        if kind not in options:
            raise ConfigError(f"{key}: unknown kind {kind!r}; choose one of {', '.join(options)}.")
    both = sampler != "none" and loss_weighting != "none"
    return 0.5 if both and combine == "half_each" else 1.0


def class_weights(class_counts: Sequence[int], kind: str, beta: float = 0.999, power: float = 1.0) -> torch.Tensor:
    """Per-class weights w_c^power (C,) float32, normalised to sum to C, from ``class_counts`` (originals per class).

    ``kind`` is "none", "inverse_frequency" or "effective_number"; ``beta``
    in [0, 1) is used by the last only; ``power`` is 1 for a correction
    applied in full, 1/2 for half of one (:func:`correction_power`).
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
    raw = raw.pow(power)
    return (raw * counts.numel() / raw.sum()).float()


def target_class_shares(class_counts: Sequence[int], kind: str, beta: float = 0.999, power: float = 1.0) -> torch.Tensor:
    """A weighted sampler's expected share of draws per class, (C,) float64 summing to 1: n_c w_c^power, normalised."""
    counts = torch.as_tensor([int(count) for count in class_counts], dtype=torch.float64)
    mass = counts * class_weights(class_counts, kind, beta, power).double()
    return mass / mass.sum()


def effective_pull(
    class_counts: Sequence[int],
    images_per_class: Sequence[int],
    sampler: str,
    loss_weighting: str,
    beta: float,
    combine: str = "half_each",
) -> torch.Tensor:
    """Each class's share of the training signal, (C,) float64 summing to 1: draw share x loss weight, normalised.

    ``images_per_class`` (the augmented set, m_c) sets the draw share when
    ``sampler`` is "none" (the loader shuffles the set as augmented);
    ``combine`` as in :func:`correction_power`.
    """
    power = correction_power(sampler, loss_weighting, combine)
    if sampler == "none":
        images = torch.as_tensor([int(count) for count in images_per_class], dtype=torch.float64)
        shares = images / images.sum()
    else:
        shares = target_class_shares(class_counts, sampler, beta, power)
    pull = shares * class_weights(class_counts, loss_weighting, beta, power).double()
    return pull / pull.sum()
