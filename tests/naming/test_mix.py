"""The two namers mixed: detection untouched, the ranking between the type classifier's and the detector's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from textile_defects.crossval.scores import write_scores
from textile_defects.errors import DataError
from textile_defects.naming.mix import mixed_naming, mixed_ranking, read_aligned
from textile_defects.naming.scores import reorder_defects, write_type_scores

CLASSES = ("non_defect", "hole", "lycra_cut", "needle", "twoply")
DEFECTS = CLASSES[1:]
# Row 0: the detector is sure of a hole, the type classifier mildly prefers a lycra cut.
# Row 1: the detector mildly prefers two-ply, the type classifier is sure of a lycra cut.
DETECTOR = np.array([[0.10, 0.80, 0.05, 0.03, 0.02], [0.30, 0.05, 0.30, 0.05, 0.30 + 1e-3]])
TYPES = np.array([[0.30, 0.45, 0.15, 0.10], [0.02, 0.90, 0.03, 0.05]])


def named(probabilities: np.ndarray) -> list[str]:
    return [CLASSES[int(k)] for k in probabilities.argmax(axis=1)]


def test_the_ends_of_the_weight_are_each_namer_alone() -> None:
    alone = mixed_naming(DETECTOR, CLASSES, "non_defect", TYPES, DEFECTS, 1.0)
    assert np.array_equal(alone, reorder_defects(DETECTOR, CLASSES, "non_defect", TYPES, DEFECTS))
    assert named(alone) == ["lycra_cut", "lycra_cut"]
    assert np.allclose(mixed_naming(DETECTOR, CLASSES, "non_defect", TYPES, DEFECTS, 0.0), DETECTOR)


def test_a_confident_namer_overrules_an_unsure_one_and_detection_is_unchanged() -> None:
    mixed = mixed_naming(DETECTOR, CLASSES, "non_defect", TYPES, DEFECTS, 0.7)
    assert named(mixed) == ["hole", "lycra_cut"]
    # p(good) and the multiset of defect probabilities are the detector's: every detection figure stays.
    assert np.array_equal(mixed[:, 0], DETECTOR[:, 0])
    assert np.array_equal(np.sort(mixed[:, 1:], axis=1), np.sort(DETECTOR[:, 1:], axis=1))
    ranking = mixed_ranking(DETECTOR, CLASSES, TYPES, DEFECTS, 0.7)
    assert np.allclose(ranking.sum(axis=1), 1.0) and (ranking > 0).all()


def test_a_zero_probability_does_not_veto_and_a_weight_outside_0_1_is_refused() -> None:
    types = np.array([[0.0, 1.0, 0.0, 0.0]])
    detector = np.array([[0.0, 1.0, 0.0, 0.0, 0.0]])
    ranking = mixed_ranking(detector, CLASSES, types, DEFECTS, 0.5)
    assert np.isfinite(ranking).all() and ranking[0, :2].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        mixed_ranking(DETECTOR, CLASSES, TYPES, DEFECTS, 1.5)


def test_score_files_of_other_originals_are_refused(tmp_path: Path) -> None:
    write_scores(tmp_path / "post_baseline_fold0.csv", 0, ["a", "b"], ["hole", "twoply"], DETECTOR, CLASSES)
    write_type_scores(tmp_path / "type_fold0.csv", 0, ["a", "b"], ["hole", "twoply"], TYPES, DEFECTS)
    scores = read_aligned(tmp_path / "post_baseline_fold0.csv", tmp_path / "type_fold0.csv", CLASSES, "non_defect")
    assert scores.original_ids == ["a", "b"] and scores.defect_classes == DEFECTS
    write_type_scores(tmp_path / "other_fold0.csv", 0, ["a", "c"], ["hole", "twoply"], TYPES, DEFECTS)
    with pytest.raises(DataError, match="do not score the same originals"):
        read_aligned(tmp_path / "post_baseline_fold0.csv", tmp_path / "other_fold0.csv", CLASSES, "non_defect")

