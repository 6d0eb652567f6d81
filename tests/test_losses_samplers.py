"""Class weights, losses and weighted samplers for the long-tailed classes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from textile_defects.errors import ConfigError, DataError
from textile_defects.training.losses import FocalLoss, build_loss, class_weights
from textile_defects.training.samplers import build_sampler, sample_weights


def test_inverse_frequency_weights_by_hand() -> None:
    # 1/n = 1, 1/2, 1/4 (sum 7/4), scaled to sum to 3 classes.
    weights = class_weights([1, 2, 4], "inverse_frequency")
    assert torch.allclose(weights, torch.tensor([12 / 7, 6 / 7, 3 / 7]))


def test_effective_number_weights_by_hand() -> None:
    # beta = 0.5: (1-b)/(1-b^n) = 1, 2/3, 8/15 (sum 33/15), scaled to sum to 3.
    weights = class_weights([1, 2, 4], "effective_number", beta=0.5)
    assert torch.allclose(weights, torch.tensor([15 / 11, 10 / 11, 8 / 11]))


def test_effective_number_spans_equal_to_inverse_frequency_weights() -> None:
    counts = [40, 1, 1, 4, 2]
    assert torch.allclose(class_weights(counts, "effective_number", beta=0.0), torch.ones(5))
    near_one = class_weights(counts, "effective_number", beta=1 - 1e-7)
    assert torch.allclose(near_one, class_weights(counts, "inverse_frequency"), rtol=1e-4)
    assert torch.equal(class_weights(counts, "none"), torch.ones(5))


@pytest.mark.parametrize(
    ("counts", "kind", "beta", "error"),
    [
        ([3, 0, 2], "inverse_frequency", 0.9, DataError),
        ([3, 1, 2], "effective_number", 1.0, ConfigError),
        ([3, 1, 2], "sqrt_frequency", 0.9, ConfigError),
    ],
)
def test_unusable_weighting_inputs_are_refused(counts: list[int], kind: str, beta: float, error: type) -> None:
    with pytest.raises(error):
        class_weights(counts, kind, beta)


def test_focal_loss_with_gamma_zero_is_cross_entropy() -> None:
    torch.manual_seed(0)
    logits, target = torch.randn(16, 5), torch.randint(0, 5, (16,))
    assert torch.allclose(FocalLoss(alpha=None, gamma=0.0)(logits, target), F.cross_entropy(logits, target))
    assert torch.allclose(FocalLoss(torch.ones(5), gamma=0.0)(logits, target), F.cross_entropy(logits, target))
    alpha = torch.tensor([0.2, 1.5, 1.5, 1.0, 0.8])
    weighted = F.cross_entropy(logits, target, weight=alpha)
    assert torch.allclose(FocalLoss(alpha, gamma=0.0)(logits, target), weighted)


def test_focal_loss_by_hand() -> None:
    # p(true) = 3/4: loss = (1 - 3/4)^2 * -ln(3/4).
    logits = torch.tensor([[0.0, math.log(3.0)]])
    loss = FocalLoss(gamma=2.0)(logits, torch.tensor([1]))
    assert loss.item() == pytest.approx(0.25**2 * -math.log(0.75), rel=1e-6)


def test_build_loss_carries_its_class_weights() -> None:
    counts = [40, 1, 1, 4, 2]
    ce = build_loss("ce", counts, "inverse_frequency", beta=0.999, gamma=2.0)
    assert isinstance(ce, torch.nn.CrossEntropyLoss)
    assert torch.allclose(ce.weight, class_weights(counts, "inverse_frequency"))
    focal = build_loss("focal", counts, "effective_number", beta=0.9, gamma=1.5)
    assert isinstance(focal, FocalLoss) and focal.gamma == 1.5
    assert torch.allclose(focal.alpha, class_weights(counts, "effective_number", 0.9))
    assert build_loss("focal", counts, "none", beta=0.9, gamma=2.0).alpha is None
    with pytest.raises(ConfigError):
        build_loss("hinge", counts, "none", beta=0.9, gamma=2.0)


# --- samplers ---------------------------------------------------------------------------------

# 8, 1 and 2 originals, augmented unequally: 2, 6 and 2 copies each -> 16, 6 and 4 images.
ORIGINALS = [8, 1, 2]
LABELS = [0] * 16 + [1] * 6 + [2] * 4


def _drawn_shares(kind: str, beta: float, draws: int = 30_000) -> torch.Tensor:
    sampler = build_sampler(LABELS, ORIGINALS, kind, beta, num_samples=draws, seed=3)
    assert sampler is not None
    drawn = torch.tensor([LABELS[index] for index in sampler])
    return torch.bincount(drawn, minlength=3).double() / draws


def test_inverse_frequency_sampler_draws_balanced_classes_despite_unequal_copies() -> None:
    balanced = torch.full((3,), 1 / 3, dtype=torch.float64)
    assert torch.allclose(_drawn_shares("inverse_frequency", 0.999), balanced, atol=0.015)


def test_effective_number_sampler_draws_originals_weighted_by_inverse_effective_number() -> None:
    beta = 0.9
    effective = [(1 - beta**n) / (1 - beta) for n in ORIGINALS]
    mass = [n / e for n, e in zip(ORIGINALS, effective, strict=True)]  # n_c * w_c, w_c ~ 1 / E_nc
    expected = torch.tensor([m / sum(mass) for m in mass], dtype=torch.float64)
    assert torch.allclose(_drawn_shares("effective_number", beta), expected, atol=0.015)


def test_sample_weights_are_probabilities_equal_within_a_class() -> None:
    weights = sample_weights(LABELS, ORIGINALS, "inverse_frequency")
    assert weights.sum().item() == pytest.approx(1.0)
    assert weights[:16].unique().numel() == 1 and weights[16:22].unique().numel() == 1
    assert torch.equal(sample_weights(LABELS, ORIGINALS, "none"), torch.full((26,), 1 / 26, dtype=torch.float64))


def test_sampler_draws_afresh_each_pass_and_reproducibly() -> None:
    first = build_sampler(LABELS, ORIGINALS, "inverse_frequency", 0.999, num_samples=50, seed=11)
    second = build_sampler(LABELS, ORIGINALS, "inverse_frequency", 0.999, num_samples=50, seed=11)
    assert first is not None and second is not None
    pass_one, pass_two = list(first), list(first)
    assert pass_one != pass_two
    assert list(second) == pass_one and list(second) == pass_two
    first.set_epoch(0)
    assert list(first) == pass_one
    assert len(first) == 50


def test_no_sampler_without_weighting() -> None:
    assert build_sampler(LABELS, ORIGINALS, "none", 0.999, num_samples=26, seed=0) is None


def test_sampler_inputs_that_cannot_be_drawn_are_refused() -> None:
    with pytest.raises(DataError, match="class index"):
        sample_weights([0, 0, 1], ORIGINALS, "inverse_frequency")  # class 2 has originals but no images
    with pytest.raises(DataError, match="labels"):
        sample_weights([0, 3], ORIGINALS, "inverse_frequency")
