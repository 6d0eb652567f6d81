"""Platform-stable float functions: they agree with NumPy's to the last bits, and are exact where they must be.

The sample generator and the augment code compute with them, so that every
CPU (whatever its vector level) writes the same bytes; see
``tests/data/test_platform_stability.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from textile_defects.utils import stable_math


def test_stable_functions_agree_with_numpy_to_the_last_bits() -> None:
    rng = np.random.default_rng(0)
    angles = rng.uniform(-1000.0, 1000.0, 100_000)
    sin, cos = stable_math.sin_cos(angles)
    assert np.max(np.abs(sin - np.sin(angles))) < 4e-16
    assert np.max(np.abs(cos - np.cos(angles))) < 4e-16
    exponents = rng.uniform(-700.0, 700.0, 100_000)
    assert np.max(np.abs(stable_math.exp(exponents) / np.exp(exponents) - 1.0)) < 4e-16
    y, x = rng.normal(size=(2, 100_000))
    assert np.max(np.abs(stable_math.atan2(y, x) - np.arctan2(y, x))) < 1e-15
    a, b = rng.normal(size=(2, 3, 3))
    np.testing.assert_allclose(stable_math.matmul(a, b), a @ b, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(stable_math.matmul(a, b[0]), a @ b[0], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize(("y", "x"), [(0.0, 0.0), (1.0, 0.0), (-1.0, 0.0), (0.0, -1.0), (-0.0, -1.0), (1.0, 1.0)])
def test_atan2_quadrants_and_axes_are_those_of_math_atan2(y: float, x: float) -> None:
    assert float(stable_math.atan2(y, x)) == pytest.approx(math.atan2(y, x), abs=1e-16)


def test_stable_functions_are_exact_where_they_must_be() -> None:
    assert float(stable_math.exp(0.0)) == 1.0
    assert float(stable_math.sin(0.0)) == 0.0 and float(stable_math.cos(0.0)) == 1.0
    assert float(stable_math.exp(-1e9)) == pytest.approx(math.exp(-700.0))  # clipped, not an underflow error
    # Far beyond the accurate range (masked-out pixels pass such values): finite and bounded.
    huge = stable_math.sin(np.array([1e7, -3e12, 1e300]))
    assert np.all(np.abs(huge) <= 1.0)
