"""Weighted random sampling of training images, to rebalance classes in each batch.

The target is defined on the ORIGINAL photos: draw as if each original image
of class c had weight w_c (:func:`~textile_defects.training.balance.class_weights`),
so class c makes up the expected share

    pi_c = n_c * w_c / sum_k n_k * w_k

of the draws, where n_c counts the originals. The dataset holds m_c
augmented images of class c (m_c need not be proportional to n_c: the
augment stage gives each class its own number of copies per original), so
each image gets probability pi_c / m_c. What each kind produces:

- ``inverse_frequency``: w_c ~ 1/n_c, so pi_c = 1/C: balanced classes.
- ``effective_number``: w_c ~ (1-beta)/(1-beta^n_c), so pi_c ~ n_c / E_{n_c},
  between the originals' own mix (beta = 0) and balanced classes
  (beta -> 1). On few originals per class, beta = 0.999 is close to
  balanced; beta = 0.9 keeps more of the majority class.
- ``none``: no weighted sampler (:func:`build_sampler` returns None); the
  loader shuffles the dataset as augmented.

With a weighted loss also on, the sampler applies half of the correction
(w_c^(1/2)) and the loss weights the other half, so the two together are one
correction, not two (:mod:`~textile_defects.training.balance`).

This is what the common recipe "sample weight = class weight of its label"
gives when every original is augmented equally often, made independent of
how many copies each class got.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from textile_defects.errors import ConfigError, DataError
from textile_defects.training.balance import correction_power, target_class_shares
from textile_defects.utils.seeding import derive_seed


def sample_weights(
    labels: Sequence[int] | torch.Tensor, class_counts: Sequence[int], kind: str, beta: float = 0.999, power: float = 1.0
) -> torch.Tensor:
    """Per-image draw probabilities (N,) float64 summing to 1 (see the module docstring).

    ``labels`` are the class indices of the images to draw from (augmented
    copies included); ``class_counts`` the originals per class; ``power``
    the share of the correction the sampler applies (1, or 1/2 beside a
    weighted loss). With ``kind="none"`` every image is equally likely.
    """
    label_tensor = torch.as_tensor(labels, dtype=torch.int64).reshape(-1)
    num_classes = len(class_counts)
    if label_tensor.numel() == 0:
        raise DataError("No training images to sample from.")
    if bool((label_tensor < 0).any()) or bool((label_tensor >= num_classes).any()):
        raise DataError(f"labels must be class indices in [0, {num_classes}), got {label_tensor.unique().tolist()}.")
    if kind == "none":
        return torch.full((label_tensor.numel(),), 1.0 / label_tensor.numel(), dtype=torch.float64)
    shares = target_class_shares(class_counts, kind, beta, power)
    images_per_class = torch.bincount(label_tensor, minlength=num_classes).double()
    unreachable = [index for index in range(num_classes) if shares[index] > 0 and images_per_class[index] == 0]
    if unreachable:
        raise DataError(
            f"class index(es) {unreachable} have original images counted but no training images to draw; "
            "the class counts and the training manifest disagree."
        )
    return shares[label_tensor] / images_per_class[label_tensor]


class WeightedDrawSampler(Sampler[int]):
    """``num_samples`` indices drawn with replacement in proportion to ``weights``.

    Each pass is a fresh draw, reproducible from (``seed``, epoch): the epoch
    advances by one per pass, or is set with :meth:`set_epoch`. Processes that
    iterate it equally often therefore draw the same sequence, so ranks of a
    distributed run can each take their own slice of it.
    """

    def __init__(self, weights: torch.Tensor, num_samples: int, seed: int) -> None:
        if num_samples < 1:
            raise ConfigError(f"num_samples: must be at least 1, got {num_samples}.")
        self.weights = weights.double()
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the sequence of ``epoch`` on the next pass."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def state_dict(self) -> dict[str, int]:
        """The epoch whose sequence the next pass draws (the draws are a function of it)."""
        return {"epoch": self.epoch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(derive_seed(self.seed, "weighted-draw", self.epoch))
        self.epoch += 1
        drawn = torch.multinomial(self.weights, self.num_samples, replacement=True, generator=generator)
        return iter(drawn.tolist())


def build_sampler(
    labels: Sequence[int] | torch.Tensor,
    class_counts: Sequence[int],
    kind: str,
    beta: float,
    num_samples: int,
    seed: int,
    *,
    loss_weighting: str,
    combine: str = "half_each",
) -> WeightedDrawSampler | None:
    """A weighted sampler drawing ``num_samples`` per epoch, or None for ``kind="none"``.

    ``loss_weighting`` is the loss's: when it is on too, the sampler applies
    half of the correction or all of it, as ``combine`` says
    (:func:`~textile_defects.training.balance.correction_power`).
    """
    weights = sample_weights(labels, class_counts, kind, beta, correction_power(kind, loss_weighting, combine))
    if kind == "none":
        return None
    return WeightedDrawSampler(weights, num_samples, seed)
