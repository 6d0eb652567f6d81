"""Counted figures: one schema in every metrics file, one way to print them."""

from __future__ import annotations

import pytest

from textile_defects.stats.intervals import proportion
from textile_defects.stats.proportions import CV_COUNTS, MISSING, counted, counts, format_figure


def test_a_counted_figure_is_the_exact_proportion_with_its_counts() -> None:
    entry = counted(6, 8, 0.95)
    assert entry == {**proportion(6, 8, 0.95), "successes": 6, "trials": 8}
    assert counts(entry) == (6, 8)


def test_the_crossval_files_keep_their_own_count_names() -> None:
    entry = counted(6, 8, 0.95, names=CV_COUNTS)
    assert (entry["k"], entry["n"]) == (6, 8) and "successes" not in entry
    assert counts(entry) == (6, 8)


def test_counts_over_seeds_are_means_per_seed_and_the_interval_counts_each_photo_once() -> None:
    # 3 seeds scoring the same 8 photos: 20 of 24 predictions right.
    entry = counted(20, 24, 0.95, originals=8, runs=3)
    assert (entry["successes"], entry["trials"]) == (pytest.approx(20 / 3), 8.0)
    assert (entry["ci_low"], entry["ci_high"]) == (proportion(20, 24, 0.95, originals=8)["ci_low"], proportion(20, 24, 0.95, originals=8)["ci_high"])


def test_no_trials_has_no_value_and_prints_as_missing() -> None:
    entry = counted(0, 0, 0.95)
    assert entry["value"] is None
    assert format_figure(entry) == MISSING
    assert format_figure(None) == MISSING


def test_one_format_for_a_value_a_seed_mean_and_their_counts() -> None:
    assert format_figure({"value": 0.75, "ci_low": 0.409, "ci_high": 0.968, "successes": 6, "trials": 8}, 2) == "0.75 [0.41, 0.97] (6/8)"
    seed_block = {"mean": 0.7554, "std": 0.01, "ci_low": 0.696, "ci_high": 0.818, "k": 6.5, "n": 8.0}
    assert format_figure(seed_block) == "0.755 [0.696, 0.818] (6.5/8)"
    assert format_figure(seed_block, 2, with_counts=False) == "0.76 [0.70, 0.82]"
    assert format_figure({"mean": 0.8}) == "0.800"
    assert counts({"value": 0.8}) is None
