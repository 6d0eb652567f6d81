"""sin, cos, exp and atan2 that give the same bits on every x86-64 machine.

NumPy picks a vectorised loop for ``np.sin``, ``np.exp`` and friends at run
time from the CPU's features (SSE4, AVX2 + FMA, AVX-512, Intel's SVML on
AVX-512 machines). The loops differ in the last bit or two, and a
generated image turns such a difference into another pixel value wherever a
value lies near a rounding or comparison edge: the same code and seed drew
other sample images on an AVX2 machine than on an AVX-512 one.

These functions use only additions, multiplications, divisions, ``rint``,
``ldexp`` and comparisons, which IEEE 754 defines exactly (every SIMD path
returns the correctly rounded result), in a fixed order. They work in
float64 on arrays or scalars and return float64 arrays; the polynomials
are fdlibm's, accurate to about 1 ulp over the argument ranges below.
"""

from __future__ import annotations

import numpy as np

ArrayLike = np.ndarray | float

# pi/2 in two parts: the first has 33 significant bits, so n * _PIO2_HI is exact for |n| < 2**20.
_PIO2_HI = 1.57079632673412561417e00
_PIO2_LO = 6.07710050650619224932e-11
_TWO_OVER_PI = 6.36619772367581382433e-01
_FOLD_ABOVE = 1.0e6
"""Larger arguments are first folded by fmod (exact in IEEE 754) with float64's 2 pi: no longer accurate, still fixed."""
_TWO_PI = 6.28318530717958623200e00

_SIN = (
    -1.66666666666666324348e-01,
    8.33333333332248946124e-03,
    -1.98412698298579493134e-04,
    2.75573137070700676789e-06,
    -2.50507602534068634195e-08,
    1.58969099521155010221e-10,
)
_COS = (
    4.16666666666666019037e-02,
    -1.38888888888741095749e-03,
    2.48015872894767294178e-05,
    -2.75573143513906633035e-07,
    2.08757232129817482790e-09,
    -1.13596475577881948265e-11,
)

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_EXP = (
    1.66666666666666019037e-01,
    -2.77777777770155933842e-03,
    6.61375632143793436117e-05,
    -1.65339022054652515390e-06,
    4.13813679705723846039e-08,
)
_MAX_EXP_ARG = 700.0

_ATAN_HI = (4.63647609000806093515e-01, 7.85398163397448278999e-01)
_ATAN_LO = (2.26987774529616870924e-17, 3.06161699786838301793e-17)
_ATAN = (
    3.33333333333329318027e-01,
    -1.99999999998764832476e-01,
    1.42857142725034663711e-01,
    -1.11111104054623557880e-01,
    9.09088713343650656196e-02,
    -7.69187620504482999495e-02,
    6.66107313738753120669e-02,
    -5.83357013379057348645e-02,
    4.97687799461593236017e-02,
    -3.65315727442169155270e-02,
    1.62858201153657823623e-02,
)
_PI = 3.14159265358979311600e00
_PI_LO = 1.22464679914735317720e-16
_PIO2 = 1.57079632679489655800e00
_PIO2_LO_ATAN = 6.12323399573676603587e-17


def _horner(z: np.ndarray, coefficients: tuple[float, ...]) -> np.ndarray:
    """``c0 + z * (c1 + z * (c2 + ...))``, always in this order."""
    result = np.full_like(z, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        result = result * z + c
    return result


def _reduce_quarter_turns(x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(r, n)`` with ``x = n * pi/2 + r`` and ``|r| <= pi/4`` (about)."""
    x = np.asarray(x, dtype=np.float64)
    x = np.where(np.abs(x) > _FOLD_ABOVE, np.fmod(x, _TWO_PI), x)
    n = np.rint(x * _TWO_OVER_PI)
    r = (x - n * _PIO2_HI) - n * _PIO2_LO
    return r, n.astype(np.int64)


def _sin_cos_kernels(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = r * r
    sin_r = r + (r * z) * _horner(z, _SIN)
    cos_r = (1.0 - 0.5 * z) + (z * z) * _horner(z, _COS)
    return sin_r, cos_r


def _by_quadrant(s: np.ndarray, c: np.ndarray, quadrant: np.ndarray) -> np.ndarray:
    """sin(n * pi/2 + r) from ``s = sin(r)``, ``c = cos(r)`` and ``n mod 4``; cos is the next quadrant's."""
    base = np.where(quadrant & 1, c, s)
    return np.where(quadrant & 2, -base, base)


def sin_cos(x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(sin(x), cos(x))`` of radians ``x``, float64.

    Accurate to about 1 ulp for ``|x|`` up to about 1e6; beyond, the
    reduction by pi/2 loses accuracy (a renderer passes such values only
    where they are masked out), but the result is still the same on every CPU.
    """
    r, quadrant = _reduce_quarter_turns(x)
    s, c = _sin_cos_kernels(r)
    return _by_quadrant(s, c, quadrant), _by_quadrant(s, c, quadrant + 1)


def sin(x: ArrayLike) -> np.ndarray:
    """sin of radians ``x``, float64 (see :func:`sin_cos`)."""
    return sin_cos(x)[0]


def cos(x: ArrayLike) -> np.ndarray:
    """cos of radians ``x``, float64 (see :func:`sin_cos`)."""
    return sin_cos(x)[1]


def exp(x: ArrayLike) -> np.ndarray:
    """e**x, float64; arguments are clipped to +-700 (no overflow to inf)."""
    x = np.clip(np.asarray(x, dtype=np.float64), -_MAX_EXP_ARG, _MAX_EXP_ARG)
    n = np.rint(x * _INV_LN2)
    hi = x - n * _LN2_HI
    lo = n * _LN2_LO
    r = hi - lo
    z = r * r
    c = r - z * _horner(z, _EXP)
    # fdlibm's e**r = 1 + r + r*c/(2 - c), rearranged to keep the small terms apart.
    e_r = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    return np.ldexp(e_r, n.astype(np.int32))


def _atan_unit(a: np.ndarray) -> np.ndarray:
    """atan of ``a`` in [0, 1], float64 (fdlibm's reduction for these arguments)."""
    small = a < 0.4375
    middle = ~small & (a < 0.6875)
    # 0.4375 <= a < 0.6875: about atan(1/2); above: about atan(1) (a <= 1 here).
    t = np.where(small, a, np.where(middle, (2.0 * a - 1.0) / (2.0 + a), (a - 1.0) / (a + 1.0)))
    z = t * t
    w = z * z
    odd = z * _horner(w, _ATAN[0::2])
    even = w * _horner(w, _ATAN[1::2])
    correction = t * (odd + even)
    hi = np.where(middle, _ATAN_HI[0], _ATAN_HI[1])
    lo = np.where(middle, _ATAN_LO[0], _ATAN_LO[1])
    return np.where(small, t - correction, hi - ((correction - lo) - t))


def atan2(y: ArrayLike, x: ArrayLike) -> np.ndarray:
    """The angle of the point ``(x, y)`` in radians, in [-pi, pi], float64; 0 at the origin."""
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    ax, ay = np.abs(x), np.abs(y)
    big = np.maximum(ax, ay)
    small = np.minimum(ax, ay)
    ratio = np.divide(small, big, out=np.zeros(np.broadcast(x, y).shape), where=big > 0)
    angle = _atan_unit(ratio)
    angle = np.where(ay > ax, (_PIO2 - angle) + _PIO2_LO_ATAN, angle)
    angle = np.where(x < 0, (_PI - angle) + _PI_LO, angle)
    return np.where(np.signbit(y), -angle, angle)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for small float matrices (or a matrix and a vector), summed in a fixed order.

    NumPy hands ``@`` and ``np.linalg`` to BLAS, whose kernels (chosen per
    CPU) may fuse or reorder the products; this sums ``a[:, k] * b[k]`` over
    ``k`` one by one.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    column = b.ndim == 1
    b2 = b[:, None] if column else b
    result = a[:, 0, None] * b2[0]
    for k in range(1, a.shape[1]):
        result = result + a[:, k, None] * b2[k]
    return result[:, 0] if column else result
