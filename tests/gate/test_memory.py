"""Gate memory bank, threshold and metrics: coreset, nearest neighbours, specificity, figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from textile_defects.errors import ConfigError, DataError
from textile_defects.gate.memory import greedy_coreset, nearest_distances
from textile_defects.gate.metrics import peak_in_mask, per_class_recall, recall_at_specificity
from textile_defects.gate.model import interior_max
from textile_defects.gate.threshold import leave_out_folds, threshold_for_specificity


def brute_force_k_center(points: np.ndarray, size: int, start: int) -> list[int]:
    chosen = [start]
    while len(chosen) < size:
        distances = np.min(np.linalg.norm(points[:, None, :] - points[None, chosen, :], axis=2), axis=1)
        chosen.append(int(np.argmax(distances)))
    return chosen


def test_coreset_picks_the_k_center_points_of_a_brute_force_search() -> None:
    points = torch.from_numpy(np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32))
    picked = greedy_coreset(points, 8, projection_dim=None, seed=3)
    expected = brute_force_k_center(points.numpy().astype(np.float64), 8, int(picked[0]))
    assert picked.tolist() == expected


def test_coreset_keeps_a_rare_outlier_that_random_sampling_would_miss() -> None:
    cluster = torch.zeros(500, 16) + 0.01 * torch.randn(500, 16, generator=torch.Generator().manual_seed(0))
    points = torch.cat([cluster, torch.full((1, 16), 5.0)])
    picked = greedy_coreset(points, 3, projection_dim=8, seed=1)
    assert 500 in picked.tolist()
    assert greedy_coreset(points, 3, projection_dim=8, seed=1).tolist() == picked.tolist()  # seeded


def test_nearest_distances_equal_a_brute_force_computation_across_chunks() -> None:
    generator = torch.Generator().manual_seed(1)
    queries, bank = torch.randn(37, 6, generator=generator), torch.randn(11, 6, generator=generator)
    expected = torch.cdist(queries.double(), bank.double()).min(dim=1).values
    assert torch.allclose(nearest_distances(queries, bank, chunk=5).double(), expected, atol=1e-4)


def test_threshold_meets_its_target_specificity_on_held_out_good_scores() -> None:
    rng = np.random.default_rng(2)
    fitted, held_out = rng.normal(size=200), rng.normal(size=20000)
    threshold = threshold_for_specificity(fitted, 0.95)
    assert np.mean(fitted <= threshold) >= 0.95
    assert np.mean(fitted[fitted != threshold] <= threshold) < 0.96  # the smallest such score, not any larger one
    assert abs(np.mean(held_out <= threshold) - 0.95) < 0.03


def test_threshold_refuses_nonsense() -> None:
    with pytest.raises(ConfigError, match="target_specificity"):
        threshold_for_specificity([1.0], 0.0)
    with pytest.raises(DataError, match="threshold_folds"):
        leave_out_folds(["a", "b"], 3)


def test_leave_out_folds_cover_every_original_once_whatever_the_order() -> None:
    folds = leave_out_folds(["c", "a", "b", "e", "d", "a"], 2)
    assert folds == leave_out_folds(["e", "d", "c", "b", "a"], 2)
    assert sorted(sum(folds, [])) == ["a", "b", "c", "d", "e"]


def test_interior_max_ignores_the_border_ring() -> None:
    patch_map = np.zeros((5, 6))
    patch_map[0, 0], patch_map[2, 3] = 9.0, 1.0
    assert interior_max(patch_map, 1) == 1.0
    assert interior_max(patch_map, 0) == 9.0


def test_recall_at_specificity_and_per_class_recall() -> None:
    defective = np.array([False] * 10 + [True] * 3)
    scores = np.array([*range(10), 9.5, 20, 1.0])
    result = recall_at_specificity(defective, scores, 0.9, 0.95)
    assert result["threshold"] == 8.0
    assert result["defect_recall"]["successes"] == 2 and result["specificity"]["successes"] == 9
    lower, upper = result["defect_recall"]["ci_low"], result["defect_recall"]["ci_high"]
    assert lower < 2 / 3 < upper
    labels = ["non_defect"] * 10 + ["hole", "hole", "needle"]
    recall = per_class_recall(labels, scores > 8.0, "non_defect", 0.95)
    assert recall["hole"]["successes"] == 2 and recall["needle"]["successes"] == 0


def test_peak_in_mask_maps_the_patch_centre_to_the_frame() -> None:
    mask = np.zeros((80, 160), dtype=np.uint8)
    mask[40:48, 100:108] = 255
    patch_map = np.zeros((10, 20))
    patch_map[5, 12] = 1.0  # centre (44, 100) on the frame: inside
    assert peak_in_mask(patch_map, mask, tolerance_px=0)
    patch_map[5, 12], patch_map[1, 1] = 0.0, 1.0
    assert not peak_in_mask(patch_map, mask, tolerance_px=8)
