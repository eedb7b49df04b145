r"""Deterministic elementary functions written as plain float64 arithmetic.

Why this module exists
----------------------
The compiled backends must reproduce the NumPy reference bit for bit. Additions, multiplications
and divisions are correctly rounded IEEE 754 operations, identical everywhere as long as they are
evaluated in the same order without fused multiply-add; ``exp`` is not: ``np.exp`` calls the C
library's ``exp`` on some CPUs and NumPy's own SIMD ``exp`` on CPUs with AVX-512F (which rounds
differently in a few cases), and the libm call is scalar code that a compiler cannot vectorise
(about 8 ns per call here, most of the ``IF_cond_exp`` update).

:func:`exp_arith` is ``exp`` written once with ``+ - *``, integer shifts and bit reinterpretation
only. The same Python source runs element-wise on NumPy arrays (the reference) and is compiled by
Numba into the kernels (:mod:`snn.backends.numba_backend`), where LLVM vectorises it (about 2 ns
per element on one shared Zen 3 core, 4 per AVX2 vector); the operations and their order are
identical, NumPy's ufuncs never fuse a multiply and an add, and Numba compiles without fastmath
(no reassociation, no FMA contraction), so both give the same bits whatever the CPU's vector
extensions.

Algorithm
---------
.. math::

    x = n \ln 2 + r, \quad |r| \le \frac{\ln 2}{2}, \qquad e^x = 2^n e^r

* ``n = round(x / ln 2)`` by the shifter trick (adding ``1.5 * 2**52`` rounds to an integer,
  which the low bits of the sum then hold: no float-to-int conversion is needed);
* ``r = (x - n L_hi) - n L_lo`` with ``ln 2 = L_hi + L_lo``, ``L_hi`` having 13 trailing zero
  bits, so ``n L_hi`` and the first subtraction are exact for ``|n| < 2**13``;
* ``e^r ~ 1 + (r + r^2 P(r))``, ``P`` the Taylor polynomial ``1/2! + r/3! + ... + r^11/13!``
  (Estrin's scheme); the truncation error is below ``|r|^14 / 14! < 5e-18`` relative. No
  table: a table lookup is a gather, which LLVM does not vectorise on AVX2 CPUs (Zen 3 here);
* the result is ``y 2^h 2^{n-h}`` with ``h = floor(n / 2)``: both factors are normal powers of
  two built from their exponent bits, the first product is exact, so the result is rounded once
  even when it is subnormal, and overflows to ``inf`` exactly where the product does.

Accuracy: below 1 ulp from the exact ``exp`` for normal results (0.89 ulp worst measured against
a 60-digit reference; it differs from glibc's ``exp`` by at most 1 ulp, in about 10 % of
arguments). Subnormal results (``x < -708.4``) are within 1 unit of the smallest subnormal.
Special values: ``exp(+-0.0) = 1``, ``x > 709.78 -> inf``, ``x < -745.14 -> 0``,
``+inf -> inf``, ``-inf -> 0``, ``nan -> nan``.

Caching: Numba's on-disk cache of a kernel does not notice edits of this module (it only checks
the kernel's own source file); after changing it, delete the ``__pycache__`` ``*.nbi``/``*.nbc``
files of :mod:`snn.backends.numba_backend`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

#: 1 / ln 2, rounded
INV_LN2 = float.fromhex("0x1.71547652b82fep+0")
#: ln 2 = LN2_HI + LN2_LO; the high part has 13 trailing zero bits
LN2_HI = float.fromhex("0x1.62e42fefa4000p-1")
LN2_LO = float.fromhex("-0x1.8432a1b0e2634p-43")
#: 1.5 * 2**52: ``x + SHIFTER`` rounds ``x`` to an integer held in the low mantissa bits
SHIFTER = 6755399441055744.0
SHIFTER_BITS = 0x4338000000000000
#: inputs are clamped to this range first (beyond it the result is already 0 or inf), which keeps
#: ``|n| < 2**11`` and both scale factors normal
X_MIN = -760.0
X_MAX = 720.0
#: Taylor coefficients 1/k!, correctly rounded (Python's int / int division is)
C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13 = (1.0 / math.factorial(k) for k in range(2, 14))
EXPONENT_BIAS = 1023


def float_bits(x: Any) -> Any:
    """The IEEE 754 bits of float64 ``x`` as int64 (an exact reinterpretation, no conversion).

    Compiled code uses an equivalent Numba overload (registered by the Numba backend).
    """
    return np.asarray(x, dtype=np.float64).view(np.int64)


def bits_float(bits: Any) -> Any:
    """The float64 whose IEEE 754 bits are the int64 ``bits`` (inverse of :func:`float_bits`)."""
    return np.asarray(bits, dtype=np.int64).view(np.float64)


def clamp(x: Any, lo: Any, hi: Any) -> Any:
    """``min(max(x, lo), hi)`` element-wise; ``nan`` stays ``nan``.

    Compiled code uses an equivalent Numba overload (``min(max(x, lo), hi)`` on scalars, which
    gives the same values, ``nan`` included, and compiles to two instructions per vector).
    """
    return np.minimum(np.maximum(x, lo), hi)


def exp_arith_kernel(x: Any) -> Any:
    """``exp(x)`` element-wise, as plain arithmetic (see the module docstring).

    The shared source: NumPy evaluates it on float64 arrays, Numba compiles it for float64
    scalars. Do not change the order of operations in one place only; there is one place.
    """
    xc = clamp(x, X_MIN, X_MAX)
    shifted = xc * INV_LN2 + SHIFTER
    n = float_bits(shifted) - SHIFTER_BITS
    nf = shifted - SHIFTER
    r = (xc - nf * LN2_HI) - nf * LN2_LO
    # P(r) = C2 + C3 r + ... + C13 r^11 by Estrin's scheme: a short dependency chain, so that
    # the CPU overlaps consecutive elements (Horner's 11-deep chain made the loop latency-bound)
    r2 = r * r
    r4 = r2 * r2
    p01 = (C2 + C3 * r) + (C4 + C5 * r) * r2
    p23 = (C6 + C7 * r) + (C8 + C9 * r) * r2
    p45 = (C10 + C11 * r) + (C12 + C13 * r) * r2
    p = (p01 + p23 * r4) + p45 * (r4 * r4)
    y = 1.0 + (r + r2 * p)
    h = n >> 1
    return (y * bits_float((h + EXPONENT_BIAS) << 52)) * bits_float((n - h + EXPONENT_BIAS) << 52)


# float32: the same algorithm with float32 constants and int32 bit patterns
#: 1 / ln 2 as float32
INV_LN2_F32 = np.float32(INV_LN2)
#: ln 2 = LN2_HI_F32 + LN2_LO_F32; the high part has 9 trailing zero bits (``|n| < 2**8``)
LN2_HI_F32 = np.float32(float.fromhex("0x1.62e400p-1"))
LN2_LO_F32 = np.float32(math.log(2.0) - float.fromhex("0x1.62e400p-1"))
#: 1.5 * 2**23 and its bits: the float32 shifter
SHIFTER_F32 = np.float32(12582912.0)
SHIFTER_F32_BITS = np.int32(0x4B400000)
#: beyond these the float32 result is already 0 or inf; keeps ``|n| < 2**8``, factors normal
X_MIN_F32 = np.float32(-104.0)
X_MAX_F32 = np.float32(89.0)
#: Taylor coefficients 1/k!, k = 2..7, rounded to float32 (truncation error < 6e-9 relative)
F2, F3, F4, F5, F6, F7 = (np.float32(1.0 / math.factorial(k)) for k in range(2, 8))
ONE_F32 = np.float32(1.0)
EXPONENT_BIAS_F32 = np.int32(127)


def float_bits32(x: Any) -> Any:
    """The IEEE 754 bits of float32 ``x`` as int32 (compiled code: a Numba overload)."""
    return np.asarray(x, dtype=np.float32).view(np.int32)


def bits_float32(bits: Any) -> Any:
    """The float32 whose bits are the int32 ``bits`` (compiled code: a Numba overload)."""
    return np.asarray(bits, dtype=np.int32).view(np.float32)


def exp_arith32_kernel(x: Any) -> Any:
    """``exp(x)`` of float32 values in float32 arithmetic: :func:`exp_arith_kernel`'s algorithm.

    Range reduction with a 9-trailing-zero ``ln 2`` high part (exact products for ``|n| < 2**8``),
    Taylor polynomial to ``r**7 / 7!`` by Estrin's scheme (truncation below ``6e-9`` relative),
    two-factor scaling. Within 1 ulp of the correctly rounded float32 ``exp`` for normal
    results (tested on a dense grid). The shared source of the NumPy reference and the Numba
    kernels, as the float64 kernel is.
    """
    xc = clamp(x, X_MIN_F32, X_MAX_F32)
    shifted = xc * INV_LN2_F32 + SHIFTER_F32
    n = float_bits32(shifted) - SHIFTER_F32_BITS
    nf = shifted - SHIFTER_F32
    r = (xc - nf * LN2_HI_F32) - nf * LN2_LO_F32
    r2 = r * r
    p = ((F2 + F3 * r) + (F4 + F5 * r) * r2) + (F6 + F7 * r) * (r2 * r2)
    y = ONE_F32 + (r + r2 * p)
    h = n >> 1
    scale_lo = bits_float32((h + EXPONENT_BIAS_F32) << 23)
    return (y * scale_lo) * bits_float32((n - h + EXPONENT_BIAS_F32) << 23)


def exp_arith(x: ArrayLike) -> NDArray[np.floating[Any]]:
    """``exp(x)`` of a float64 or float32 array, bit-identical on every CPU and in the compiled
    backends; float64 inputs give float64 (1 ulp), float32 inputs float32 (1 ulp, computed in
    float32 by :func:`exp_arith32_kernel`).

    Raises ``ValueError`` for any other dtype (say which one to convert to).
    """
    arr = np.asarray(x)
    if arr.dtype == np.float64:
        return np.asarray(exp_arith_kernel(arr), dtype=np.float64)
    if arr.dtype == np.float32:
        return np.asarray(exp_arith32_kernel(arr), dtype=np.float32)
    raise ValueError(
        f"exp_arith needs float64 or float32 values, got dtype {arr.dtype}; convert with "
        "np.asarray(x, dtype=np.float64) first"
    )
