"""The cross-validation fold plan: grouped by original, stratified, checked for leakage."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from textile_defects.crossval.config import CrossvalConfig
from textile_defects.crossval.folds import (
    FOLDS_NAME,
    assign_folds,
    check_plan,
    check_plan_files,
    fold_manifest,
    plan_manifests,
    read_folds,
    scored_in,
    write_plan,
)
from textile_defects.data.manifest import read_manifest, resolve, write_manifest
from textile_defects.errors import ConfigError, DataError

CLASSES = ("non_defect", "hole", "lycra_cut", "needle", "twoply")
SAMPLE_SIZES = {"non_defect": 50, "hole": 2, "lycra_cut": 2, "needle": 5, "twoply": 3}


def originals(sizes: dict[str, int]) -> dict[str, str]:
    """``{original_id: label}`` with ``sizes[label]`` originals per class."""
    return {f"{label}_{i:03d}": label for label, count in sizes.items() for i in range(count)}


def folds_of(assignment: dict[str, int], k: int) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    training = {fold: [o for o, f in assignment.items() if f != fold] for fold in range(k)}
    scored = {fold: [o for o, f in assignment.items() if f == fold] for fold in range(k)}
    return training, scored


def test_sample_class_sizes_give_a_plan_that_passes_every_check() -> None:
    labels = originals(SAMPLE_SIZES)
    assignment = assign_folds(labels, CLASSES, 5, seed=11)
    assert set(assignment) == set(labels)
    training, scored = folds_of(assignment, 5)
    check_plan(labels, assignment, CLASSES, 5, training, scored)
    # Stratified: 10 good photos per fold; the 5 needles one per fold.
    per_fold = Counter((labels[o], f) for o, f in assignment.items())
    assert [per_fold[("non_defect", f)] for f in range(5)] == [10] * 5
    assert [per_fold[("needle", f)] for f in range(5)] == [1] * 5
    # Classes smaller than K are spread: each original in its own fold.
    spread = scored_in(assignment, labels, 5)
    assert len(spread["hole"]) == 2 and len(spread["lycra_cut"]) == 2 and len(spread["twoply"]) == 3
    # Folds differ by at most one original overall (62 = 13 + 13 + 12 + 12 + 12).
    sizes = Counter(assignment.values())
    assert max(sizes.values()) - min(sizes.values()) <= 1 and sum(sizes.values()) == 62


def test_plan_is_a_pure_function_of_seed_and_originals() -> None:
    labels = originals(SAMPLE_SIZES)
    first = assign_folds(labels, CLASSES, 5, seed=11)
    reordered = dict(reversed(list(labels.items())))
    assert assign_folds(reordered, CLASSES, 5, seed=11) == first
    assert assign_folds(labels, CLASSES, 5, seed=12) != first


def test_a_class_with_one_original_makes_the_cv_impossible_and_is_named() -> None:
    labels = originals({**SAMPLE_SIZES, "lycra_cut": 1})
    with pytest.raises(DataError, match=r"class 'lycra_cut' has 1 original\(s\)"):
        assign_folds(labels, CLASSES, 5, seed=11)


def test_a_class_with_no_originals_is_named_too() -> None:
    labels = originals({**SAMPLE_SIZES, "twoply": 0})
    with pytest.raises(DataError, match="class 'twoply' has 0"):
        assign_folds(labels, CLASSES, 5, seed=11)


def test_check_finds_leakage_double_scoring_and_a_fold_without_a_class() -> None:
    labels = originals(SAMPLE_SIZES)
    assignment = assign_folds(labels, CLASSES, 5, seed=11)
    training, scored = folds_of(assignment, 5)
    hole = sorted(o for o in labels if labels[o] == "hole")
    leaked = {**training, 0: [*training[0], *scored[0][:1]]}
    with pytest.raises(DataError, match="leakage"):
        check_plan(labels, assignment, CLASSES, 5, leaked, scored)
    twice = {**scored, 1: [*scored[1], *scored[0][:1]]}
    with pytest.raises(DataError, match="more than one fold"):
        check_plan(labels, assignment, CLASSES, 5, training, twice)
    hole_fold = assignment[hole[0]]
    no_hole = {**training, hole_fold: [o for o in training[hole_fold] if labels[o] != "hole"]}
    with pytest.raises(DataError, match=rf"fold {hole_fold}: no training original of class\(es\) \['hole'\]"):
        check_plan(labels, assignment, CLASSES, 5, no_hole, scored)


def _ingested(tmp_path: Path, labels: dict[str, str]) -> Path:
    manifest = tmp_path / "ingested" / "manifest.csv"
    rows = [{"path": f"images/{label}/{o}.png", "label": label, "original_id": o} for o, label in labels.items()]
    write_manifest(manifest, rows)
    return manifest


def test_plan_files_round_trip_and_a_leaking_augmented_set_is_caught(tmp_path: Path) -> None:
    labels = originals(SAMPLE_SIZES)
    ingested = _ingested(tmp_path, labels)
    rows = read_manifest(ingested)
    assignment = assign_folds(labels, CLASSES, 5, seed=11)
    plan_dir = tmp_path / "plan"
    write_plan(plan_dir, assignment, labels, plan_manifests(rows, ingested, plan_dir, assignment, 5))
    assert read_folds(plan_dir / FOLDS_NAME) == (assignment, labels)
    scored_rows = read_manifest(fold_manifest(plan_dir, 2, "scored"))
    # Fold manifests point back at the ingested images, not at copies.
    first = scored_rows[0]
    expected = ingested.parent / "images" / first["label"] / f"{first['original_id']}.png"
    assert resolve(fold_manifest(plan_dir, 2, "scored"), first) == expected.resolve()
    assert check_plan_files(plan_dir, ingested, CLASSES, 5)[0] == assignment
    # An augmented training set holding a copy of a scored original is leakage.
    augmented = tmp_path / "fold_2_augmented" / "manifest.csv"
    write_manifest(augmented, [{"path": "images/x_0001.jpg", "label": first["label"], "original_id": first["original_id"]}])
    with pytest.raises(DataError, match="fold 2: originals both trained on and scored"):
        check_plan_files(plan_dir, ingested, CLASSES, 5, {2: [augmented]})


def _section(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "folds": [0, 1, 2, 3, 4],
        "seed": 11,
        "seeds": [7, 8],
        "train_overrides": {"epochs": 3, "selection": "last"},
        "batch_size": 16,
        "device": "auto",
        "probe": {"c": 1.0, "max_iter": 2000, "seed": 0},
        "report": {"confidence": 0.95, "bootstrap_resamples": 1000, "bootstrap_seed": 0},
    }
    values.update(changes)
    return values


def test_crossval_section_is_validated_in_one_pass() -> None:
    config = CrossvalConfig.from_section(_section())
    assert config.k == 5 and config.seeds == (7, 8) and config.train_overrides["epochs"] == 3
    with pytest.raises(ConfigError) as caught:
        CrossvalConfig.from_section(_section(folds=[0, 2], seeds=[7, 7], train_overrides={"seed": 1}))
    message = str(caught.value)
    assert "crossval.folds" in message and "crossval.seeds" in message and "train_overrides.seed" in message
