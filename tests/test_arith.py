"""snn.arith.exp_arith: accuracy against libm/NumPy and a 40-digit reference, special values, and
bit-identical results between its NumPy evaluation and its Numba compilation."""

from __future__ import annotations

import math
from decimal import Decimal, getcontext

import numpy as np
import pytest

from snn.arith import exp_arith, exp_arith_kernel

#: worst error allowed against np.exp (glibc's exp is within 0.5 ulp + tiny), in ulp
MAX_ULP_VS_NUMPY = 1


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in units in the last place between float64 arrays of the same sign (or zero)."""
    ia, ib = a.view(np.int64), b.view(np.int64)
    assert ((a >= 0) == (b >= 0)).all()
    return np.abs(ia - ib)


def wide_arguments() -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.concatenate(
        [
            rng.uniform(-3.0, 0.0, 200_000),  # the IF_cond_exp range: -dt g / c_m
            rng.uniform(-1e-3, 1e-3, 50_000),
            rng.uniform(-1e-12, 1e-12, 10_000),
            rng.uniform(-708.0, 709.7, 200_000),
            rng.uniform(-50.0, 50.0, 100_000),
            np.linspace(-0.5, 0.5, 10_001) * math.log(2),  # around the reduction boundaries
            np.arange(-1020, 1020) * math.log(2),
        ]
    )


def test_within_one_ulp_of_numpy() -> None:
    x = wide_arguments()
    ours, ref = exp_arith(x), np.exp(x)
    d = ulp_distance(ours, ref)
    assert d.max() <= MAX_ULP_VS_NUMPY, f"max {d.max()} ulp at x = {x[d.argmax()]!r}"
    assert (d == 0).mean() > 0.8  # mostly identical to the libm result


def test_true_error_below_one_ulp() -> None:
    getcontext().prec = 40
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-2.0, 0.0, 400), rng.uniform(-700.0, 700.0, 400)])
    ours = exp_arith(x)
    worst = 0.0
    for xi, yi in zip(x.tolist(), ours.tolist(), strict=True):
        exact = Decimal(xi).exp()
        worst = max(worst, float(abs(Decimal(yi) - exact)) / math.ulp(float(exact)))
    assert worst < 1.0, worst


def test_subnormal_results_and_underflow() -> None:
    x = np.linspace(-745.2, -708.0, 20_001)
    ours, ref = exp_arith(x), np.exp(x)
    assert np.abs(ours - ref).max() <= 2.0**-1074  # within one unit of the smallest subnormal
    assert (ours[x < -745.14] == 0.0).all()
    assert exp_arith(np.array([-745.13]))[0] == 5e-324
    assert exp_arith(np.array([-800.0, -1e300, -np.inf])).tolist() == [0.0, 0.0, 0.0]


def test_special_values_and_overflow() -> None:
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 709.782712893384, 709.7827128933841, 1e300])
    with np.errstate(over="ignore"):
        ours = exp_arith(x)
    assert ours[0] == 1.0 and ours[1] == 1.0
    assert ours[2] == np.inf and ours[3] == 0.0 and np.isnan(ours[4])
    assert ours[5] == np.exp(709.782712893384) and np.isfinite(ours[5])  # largest finite
    assert ours[6] == np.inf and ours[7] == np.inf


def test_scalar_and_array_shapes() -> None:
    assert exp_arith(0.5).shape == ()
    assert float(exp_arith(0.5)) == pytest.approx(math.exp(0.5), rel=2e-16)
    assert exp_arith(np.zeros((3, 4))).shape == (3, 4)
    assert exp_arith(np.zeros(1)).shape == (1,)


@pytest.mark.parametrize("dtype", [np.float16, np.int64])
def test_other_dtypes_are_rejected(dtype: type) -> None:
    with pytest.raises(ValueError, match="float64 or float32 values, got dtype"):
        exp_arith(np.zeros(3, dtype=dtype))


def float32_arguments() -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.concatenate(
        [
            rng.uniform(-3.0, 0.0, 200_000),
            rng.uniform(-1e-3, 1e-3, 50_000),
            np.linspace(-104.0, 89.0, 400_001),
            np.arange(-150, 128) * math.log(2),
        ]
    ).astype(np.float32)


def test_float32_within_one_ulp_of_the_correctly_rounded_exp() -> None:
    x = float32_arguments()
    with np.errstate(over="ignore"):
        ours = exp_arith(x)
        exact = np.exp(x.astype(np.float64))  # float64: exact enough to round to float32
        rounded = exact.astype(np.float32)
    assert ours.dtype == np.float32
    normal = np.isfinite(rounded) & (rounded >= np.finfo(np.float32).tiny)
    d = np.abs(ours[normal].view(np.int32) - rounded[normal].view(np.int32))
    assert d.max() <= 1, f"max {d.max()} ulp at x = {x[normal][d.argmax()]!r}"
    assert (d == 0).mean() > 0.85
    # subnormal results within one unit of the smallest subnormal; overflow and specials
    tiny = ~normal & (x < 0)
    assert np.abs(ours[tiny] - rounded[tiny]).max() <= np.float32(2.0**-149)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 88.72, 88.73, -104.0], np.float32)
    with np.errstate(over="ignore"):
        out = exp_arith(special)
    assert out[0] == 1.0 and out[1] == 1.0 and out[2] == np.inf and out[3] == 0.0
    assert np.isnan(out[4]) and np.isfinite(out[5]) and out[6] == np.inf and out[7] == 0.0


def test_numba_compilation_is_bit_identical() -> None:
    pytest.importorskip("numba", reason="needs the 'numba' package")
    from numba import njit

    from snn.backends import numba_backend  # registers the Numba overloads of the helpers

    # the kernel as the Numba backend inlines it, in a vectorisable loop and as a scalar call
    kernel = numba_backend._exp

    @njit(error_model="numpy")
    def loop(x: np.ndarray, out: np.ndarray) -> None:
        for i in range(x.size):
            out[i] = kernel(x[i])

    @njit(error_model="numpy")
    def scalar(x: float) -> float:
        return kernel(x)

    specials = np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, 709.782712893384, 709.79, -745.13, -745.2, 1e-320]
    )
    x = np.concatenate([wide_arguments(), np.linspace(-745.2, -708.0, 5001), specials])
    with np.errstate(over="ignore"):
        ref = exp_arith_kernel(x)
    out = np.empty_like(x)
    loop(x, out)
    assert np.array_equal(out.view(np.int64)[~np.isnan(ref)], ref.view(np.int64)[~np.isnan(ref)])
    assert np.array_equal(np.isnan(out), np.isnan(ref))
    for v in [*specials.tolist(), -1.25, 3.5]:
        a = np.float64(scalar(v))
        with np.errstate(over="ignore"):
            b = np.float64(exp_arith_kernel(np.array(v)))
        assert (np.isnan(a) and np.isnan(b)) or a.view(np.int64) == b.view(np.int64), v

    # float32: the same dispatching kernel on float32 elements gives exp_arith32_kernel's bits
    x32 = np.concatenate([float32_arguments(), specials.astype(np.float32)])
    with np.errstate(over="ignore"):
        ref32 = exp_arith(x32)
    out32 = np.empty_like(x32)
    loop(x32, out32)
    assert out32.dtype == np.float32
    nan = np.isnan(ref32)
    assert np.array_equal(np.isnan(out32), nan)
    assert np.array_equal(out32.view(np.int32)[~nan], ref32.view(np.int32)[~nan])
