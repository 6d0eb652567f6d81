"""Class weights, losses and weighted samplers for the long-tailed classes."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from textile_defects.errors import ConfigError, DataError
from textile_defects.training.balance import WEIGHTINGS, class_weights, effective_pull
from textile_defects.training.losses import ClassWeightedLoss, build_loss
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
    assert torch.allclose(ClassWeightedLoss(alpha=None, gamma=0.0)(logits, target), F.cross_entropy(logits, target))
    assert torch.allclose(ClassWeightedLoss(torch.ones(5), gamma=0.0)(logits, target), F.cross_entropy(logits, target))
    alpha = torch.tensor([0.2, 1.5, 1.5, 1.0, 0.8])
    weighted = F.cross_entropy(logits, target, weight=alpha)
    assert torch.allclose(ClassWeightedLoss(alpha, gamma=0.0)(logits, target), weighted)


def test_focal_loss_by_hand() -> None:
    # p(true) = 3/4: loss = (1 - 3/4)^2 * -ln(3/4).
    logits = torch.tensor([[0.0, math.log(3.0)]])
    loss = ClassWeightedLoss(gamma=2.0)(logits, torch.tensor([1]))
    assert loss.item() == pytest.approx(0.25**2 * -math.log(0.75), rel=1e-6)


def test_loss_terms_are_the_weighted_sum_and_the_weight_sum() -> None:
    torch.manual_seed(1)
    logits, target = torch.randn(6, 3), torch.tensor([0, 0, 0, 0, 1, 2])
    alpha = torch.tensor([0.25, 2.0, 4.0])
    total, weight = ClassWeightedLoss(alpha, gamma=0.0).terms(logits, target)
    per_image = F.cross_entropy(logits, target, reduction="none")
    assert weight.item() == pytest.approx(4 * 0.25 + 2.0 + 4.0)
    assert total.item() == pytest.approx((alpha[target] * per_image).sum().item(), rel=1e-6)


def test_build_loss_carries_its_class_weights() -> None:
    counts = [40, 1, 1, 4, 2]
    ce = build_loss("ce", counts, "inverse_frequency", beta=0.999, gamma=2.0, sampler="none")
    assert ce.gamma == 0.0, "cross entropy is the focal loss at gamma 0"
    assert torch.allclose(ce.alpha, class_weights(counts, "inverse_frequency"))
    focal = build_loss("focal", counts, "effective_number", beta=0.9, gamma=1.5, sampler="none")
    assert focal.gamma == 1.5
    assert torch.allclose(focal.alpha, class_weights(counts, "effective_number", 0.9))
    assert build_loss("focal", counts, "none", beta=0.9, gamma=2.0, sampler="effective_number").alpha is None
    with pytest.raises(ConfigError):
        build_loss("hinge", counts, "none", beta=0.9, gamma=2.0, sampler="none")


# --- sampler and loss weighting together: one correction -----------------------------------

SAMPLE_ORIGINALS = [40, 1, 1, 4, 2]  # the built-in sample's training originals
SAMPLE_IMAGES = [400, 16, 16, 40, 24]  # its augmented training set (copies per original 10, 16, 16, 10, 12)


def _pull_of_the_built_objects(counts: list[int], labels: list[int], sampler: str, weighting: str, beta: float) -> torch.Tensor:
    """Per-class pull as training gets it: the sampler's draw probability per class times the loss's class weight."""
    built = build_sampler(labels, counts, sampler, beta, num_samples=len(labels), seed=0, loss_weighting=weighting)
    probabilities = built.weights if built is not None else torch.full((len(labels),), 1.0 / len(labels), dtype=torch.float64)
    shares = torch.zeros(len(counts), dtype=torch.float64).index_add_(0, torch.as_tensor(labels), probabilities)
    alpha = build_loss("focal", counts, weighting, beta, gamma=2.0, sampler=sampler).alpha
    pull = shares * (torch.ones(len(counts), dtype=torch.float64) if alpha is None else alpha.double())
    return pull / pull.sum()


def _one_correction(counts: list[int], kind: str, beta: float) -> torch.Tensor:
    mass = torch.tensor(counts, dtype=torch.float64) * class_weights(counts, kind, beta).double()
    return mass / mass.sum()


@pytest.mark.parametrize("beta", [0.5, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("kind", ["inverse_frequency", "effective_number"])
def test_sampler_and_loss_weighting_together_are_one_correction(kind: str, beta: float) -> None:
    labels = [c for c, m in enumerate(SAMPLE_IMAGES) for _ in range(m)]
    together = _pull_of_the_built_objects(SAMPLE_ORIGINALS, labels, kind, kind, beta)
    sampler_only = _pull_of_the_built_objects(SAMPLE_ORIGINALS, labels, kind, "none", beta)
    expected = _one_correction(SAMPLE_ORIGINALS, kind, beta)
    assert torch.allclose(together, expected, atol=1e-6), f"{kind} twice: {together.tolist()}"
    assert torch.allclose(sampler_only, expected, atol=1e-6)
    assert torch.allclose(effective_pull(SAMPLE_ORIGINALS, SAMPLE_IMAGES, kind, kind, beta), together, atol=1e-6)


def test_issue_case_needle_no_longer_gets_less_pull_than_without_correction() -> None:
    # Effective-number sampler + class-balanced focal weights at beta 0.9: applied in full twice they gave
    # (0.125, 0.303, 0.303, 0.102, 0.168); needle then got less than good fabric.
    labels = [c for c, m in enumerate(SAMPLE_IMAGES) for _ in range(m)]
    pull = _pull_of_the_built_objects(SAMPLE_ORIGINALS, labels, "effective_number", "effective_number", 0.9)
    beta, counts = 0.9, torch.tensor(SAMPLE_ORIGINALS, dtype=torch.float64)
    effective = (1 - beta**counts) / (1 - beta)
    assert torch.allclose(pull, (counts / effective) / (counts / effective).sum(), atol=1e-6)
    assert pull[3] > pull[1], "needle (4 originals) never gets less pull than hole (1)"


@pytest.mark.parametrize(("sampler", "weighting"), list(itertools.product(WEIGHTINGS, WEIGHTINGS)))
@pytest.mark.parametrize("beta", [0.5, 0.9, 0.999])
def test_every_combination_pulls_between_the_originals_mix_and_balanced(sampler: str, weighting: str, beta: float) -> None:
    # Augmented equally (m_c proportional to n_c), no combination over-corrects: each class's pull lies between
    # its share of the originals and 1/C, and a class with more originals never gets less pull in all.
    counts = SAMPLE_ORIGINALS
    images = [10 * n for n in counts]
    labels = [c for c, m in enumerate(images) for _ in range(m)]
    pull = _pull_of_the_built_objects(counts, labels, sampler, weighting, beta)
    assert torch.allclose(pull, effective_pull(counts, images, sampler, weighting, beta), atol=1e-6)
    natural = torch.tensor(counts, dtype=torch.float64) / sum(counts)
    balanced = torch.full_like(natural, 1 / len(counts))
    assert bool((pull >= torch.minimum(natural, balanced) - 1e-6).all()), pull.tolist()
    assert bool((pull <= torch.maximum(natural, balanced) + 1e-6).all()), pull.tolist()
    order = sorted(range(len(counts)), key=lambda c: counts[c])
    assert all(pull[a] <= pull[b] + 1e-6 for a, b in itertools.pairwise(order)), pull.tolist()


def test_combining_different_kinds_is_their_geometric_mean() -> None:
    counts, beta = [40, 1, 1, 4, 2], 0.9
    labels = [c for c, n in enumerate(counts) for _ in range(10 * n)]
    pull = _pull_of_the_built_objects(counts, labels, "inverse_frequency", "effective_number", beta)
    inverse, effective = class_weights(counts, "inverse_frequency").double(), class_weights(counts, "effective_number", beta).double()
    mass = torch.tensor(counts, dtype=torch.float64) * (inverse * effective).sqrt()
    assert torch.allclose(pull, mass / mass.sum(), atol=1e-6)


# --- samplers ---------------------------------------------------------------------------------

# 8, 1 and 2 originals, augmented unequally: 2, 6 and 2 copies each -> 16, 6 and 4 images.
ORIGINALS = [8, 1, 2]
LABELS = [0] * 16 + [1] * 6 + [2] * 4


def _drawn_shares(kind: str, beta: float, draws: int = 30_000) -> torch.Tensor:
    sampler = build_sampler(LABELS, ORIGINALS, kind, beta, num_samples=draws, seed=3, loss_weighting="none")
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
    first = build_sampler(LABELS, ORIGINALS, "inverse_frequency", 0.999, num_samples=50, seed=11, loss_weighting="none")
    second = build_sampler(LABELS, ORIGINALS, "inverse_frequency", 0.999, num_samples=50, seed=11, loss_weighting="none")
    assert first is not None and second is not None
    pass_one, pass_two = list(first), list(first)
    assert pass_one != pass_two
    assert list(second) == pass_one and list(second) == pass_two
    first.set_epoch(0)
    assert list(first) == pass_one
    assert len(first) == 50


def test_no_sampler_without_weighting() -> None:
    assert build_sampler(LABELS, ORIGINALS, "none", 0.999, num_samples=26, seed=0, loss_weighting="inverse_frequency") is None


def test_sampler_inputs_that_cannot_be_drawn_are_refused() -> None:
    with pytest.raises(DataError, match="class index"):
        sample_weights([0, 0, 1], ORIGINALS, "inverse_frequency")  # class 2 has originals but no images
    with pytest.raises(DataError, match="labels"):
        sample_weights([0, 3], ORIGINALS, "inverse_frequency")
