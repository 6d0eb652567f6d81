"""Intervals that count photos, not copies: exact binomial, bootstrap over originals, the within-noise rule."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import beta

from textile_defects.stats.intervals import (
    clopper_pearson,
    cluster_bootstrap,
    proportion,
    resample_originals,
    within_noise,
)


@pytest.mark.parametrize(("successes", "trials"), [(1, 2), (3, 7), (5, 8), (37, 120), (61, 62)])
def test_clopper_pearson_is_the_beta_quantiles(successes: int, trials: int) -> None:
    # (1 - 0.9) / 2 is 0.05 only up to one unit in the last place, hence the tolerance.
    low, high = clopper_pearson(successes, trials, 0.9)
    assert low == pytest.approx(beta.ppf(0.05, successes, trials - successes + 1), rel=1e-12, abs=0)
    assert high == pytest.approx(beta.ppf(0.95, successes + 1, trials - successes), rel=1e-12, abs=0)


def test_clopper_pearson_equals_scipy_stats_beta_quantiles_bit_for_bit() -> None:
    # The committed metrics were computed with scipy.stats.beta.ppf: the interval must not move a bit.
    rng = np.random.default_rng(0)
    trials = np.concatenate([np.arange(1, 400), rng.uniform(0.5, 700, 300)])
    for n in trials:
        for k in {0.0, 1.0, float(n), n / 2, float(rng.uniform(0, n))}:
            k = min(k, float(n))
            tail = (1.0 - 0.95) / 2.0  # as clopper_pearson computes it
            expected_low = 0.0 if k == 0 else float(beta.ppf(tail, k, n - k + 1))
            expected_high = 1.0 if k == n else float(beta.ppf(1 - tail, k + 1, n - k))
            assert clopper_pearson(k, n) == (expected_low, expected_high), (k, n)


def test_clopper_pearson_does_not_import_scipy_stats() -> None:
    code = (
        "import sys\n"
        "from textile_defects.stats.intervals import clopper_pearson\n"
        "clopper_pearson(3, 7)\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_clopper_pearson_ends_and_errors() -> None:
    assert clopper_pearson(0, 8) == pytest.approx((0.0, beta.ppf(0.975, 1, 8)), rel=1e-12, abs=0)
    assert clopper_pearson(8, 8) == pytest.approx((0.025 ** (1 / 8), 1.0), rel=1e-12, abs=0)
    assert clopper_pearson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="successes"):
        clopper_pearson(9, 8)
    with pytest.raises(ValueError, match="confidence"):
        clopper_pearson(1, 2, 1.0)


def test_proportion_counts_originals_not_copies() -> None:
    # 4 defect photos, 10 copies each, every copy caught: 40/40, but only 4 photos of evidence.
    per_copy = proportion(40, 40)
    per_photo = proportion(40, 40, originals=4)
    assert per_photo["value"] == per_copy["value"] == 1.0
    assert per_photo["ci_low"] == pytest.approx(clopper_pearson(4, 4)[0])
    assert per_photo["ci_low"] < 0.5 < per_copy["ci_low"]
    # 30 of 40 copies from 4 photos: the rate over 4 trials, 3 "successes".
    assert proportion(30, 40, originals=4)["ci_low"] == pytest.approx(clopper_pearson(3, 4)[0])
    # One row per photo: the plain exact interval.
    assert proportion(3, 7, originals=7) == proportion(3, 7)
    assert proportion(0, 0, originals=0) == {"value": None, "ci_low": 0.0, "ci_high": 1.0}
    with pytest.raises(ValueError, match="originals"):
        proportion(3, 7, originals=8)


def test_resampling_draws_whole_originals_and_is_seeded() -> None:
    ids = ["a", "a", "a", "b", "c", "c"]
    samples = list(resample_originals(ids, resamples=50, seed=3))
    assert all(np.array_equal(x, y) for x, y in zip(samples, resample_originals(ids, resamples=50, seed=3), strict=True))
    assert any(not np.array_equal(x, y) for x, y in zip(samples, resample_originals(ids, resamples=50, seed=4), strict=True))
    for rows in samples:
        # The copies of "a" (rows 0-2) and of "c" (rows 4-5) always come together.
        counts = np.bincount(rows, minlength=6)
        assert counts[0] == counts[1] == counts[2]
        assert counts[4] == counts[5]
        assert counts[0] + counts[3] + counts[4] == 3  # three originals drawn per resample


def test_resampling_does_not_depend_on_row_order() -> None:
    ids = np.array(["p", "q", "r", "s", "t"])
    order = np.array([3, 0, 4, 1, 2])
    for original, shuffled in zip(resample_originals(ids, resamples=20, seed=0),
                                  resample_originals(ids[order], resamples=20, seed=0), strict=True):
        assert sorted(ids[original]) == sorted(ids[order][shuffled])


def test_stratified_resampling_keeps_every_class_size() -> None:
    ids = [f"o{i}" for i in range(9)]
    labels = [0] * 6 + [1] * 2 + [2]
    for rows in resample_originals(ids, resamples=100, seed=1, strata=labels):
        assert np.bincount(np.asarray(labels)[rows], minlength=3).tolist() == [6, 2, 1]
    with pytest.raises(ValueError, match="several strata"):
        next(resample_originals(["a", "a"], resamples=1, seed=0, strata=[0, 1]))


def _accuracy_interval(correct: np.ndarray, ids: list[str]) -> tuple[float, float]:
    (interval,) = cluster_bootstrap(lambda rows: correct[rows].mean(), ids, resamples=2000, seed=0)
    assert interval is not None
    return interval


def test_ten_copies_of_one_photo_do_not_narrow_the_interval() -> None:
    correct = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 1], dtype=float)
    ids = [f"photo{i}" for i in range(10)]
    alone = _accuracy_interval(correct, ids)
    # The same ten photos, each copied ten times (as in an augmented set): no new evidence.
    copied = _accuracy_interval(np.repeat(correct, 10), [i for i in ids for _ in range(10)])
    assert copied == alone
    # Had the copies counted as 100 independent photos, the interval would be much narrower.
    independent = _accuracy_interval(np.repeat(correct, 10), [f"img{i}" for i in range(100)])
    assert (independent[1] - independent[0]) < 0.5 * (alone[1] - alone[0])


def test_bootstrap_is_reproducible_and_leaves_out_undefined_resamples() -> None:
    rng = np.random.default_rng(0)
    values = rng.random(30)
    ids = [f"o{i // 2}" for i in range(30)]
    first = cluster_bootstrap(lambda rows: (values[rows].mean(), np.nan), ids, resamples=300, seed=7)
    assert first == cluster_bootstrap(lambda rows: (values[rows].mean(), np.nan), ids, resamples=300, seed=7)
    assert first[0] != cluster_bootstrap(lambda rows: values[rows].mean(), ids, resamples=300, seed=8)[0]
    low, high = first[0]
    assert low < values.mean() < high
    assert first[1] is None  # undefined on every resample


def test_within_noise_is_overlap() -> None:
    assert within_noise((0.5, 0.7), (0.65, 0.9))
    assert within_noise((0.5, 0.7), (0.7, 0.9))  # touching counts as overlapping
    assert not within_noise((0.5, 0.69), (0.7, 0.9))
    assert not within_noise((0.7, 0.9), (0.5, 0.69))
    assert within_noise((0.1, 0.9), (0.4, 0.5))  # one inside the other
