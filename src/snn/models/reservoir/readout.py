r"""Linear readouts of reservoir states: ridge regression (offline) and recursive least squares
(online).

Ridge, with an unpenalised intercept, on states :math:`X` (T, N) and targets :math:`Y` (T, d)
after discarding the first ``washout`` rows:

.. math::

    W = (X_c^\top X_c + \lambda I)^{-1} X_c^\top Y_c, \qquad
    b = \bar y - \bar x^\top W,

:math:`X_c, Y_c` centred. With ``ridge_scale="relative"`` (default)
:math:`\lambda = \text{ridge} \cdot \operatorname{tr}(X_c^\top X_c) / N`, which makes the
regularisation independent of the states' scale (sigmoid rates and tanh states differ by orders of
magnitude in variance); ``"absolute"`` uses :math:`\lambda` = ``ridge`` as ReservoirPy's ``Ridge``
does (added to the sum over samples).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.linalg import blas, cho_factor, cho_solve

from snn.models.reservoir import _kernels

FloatArray = NDArray[np.float64]
RidgeScale = Literal["relative", "absolute"]
RIDGE_SCALES = ("relative", "absolute")


@dataclass(frozen=True, eq=False)
class LinearReadout:
    """``y = x @ weights + intercept``; ``weights`` (N, d), ``intercept`` (d,)."""

    weights: FloatArray
    intercept: FloatArray
    #: the targets were 1-D: :meth:`predict` returns (T,)
    scalar_output: bool = False

    def predict(self, states: ArrayLike) -> FloatArray:
        x = np.asarray(states, dtype=np.float64)
        y = x @ self.weights + self.intercept
        return y[..., 0] if self.scalar_output else y


def _as_xy(
    states: ArrayLike, targets: ArrayLike, washout: int, owner: str
) -> tuple[FloatArray, FloatArray, bool]:
    x = np.asarray(states, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    scalar = y.ndim == 1
    if scalar:
        y = y[:, None]
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{owner}: states must be (T, N) and targets (T,) or (T, d) with the same T; got "
            f"{x.shape} and {np.shape(targets)}"
        )
    if int(washout) != washout or not 0 <= washout < x.shape[0] - 1:
        raise ValueError(
            f"{owner}: washout must be an integer in [0, T - 1) = [0, {x.shape[0] - 1}), "
            f"got {washout}"
        )
    x, y = x[washout:], y[washout:]
    for name, arr in (("states", x), ("targets", y)):
        if not np.isfinite(arr).all():
            raise ValueError(f"{owner}: {name} must be finite (NaN and inf are rejected)")
    return x, y, scalar


def centered_gram(x: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Mean (N,), the centred states transposed, X_c^T (N, T) C-contiguous (centring and
    transposing in one pass, for transforms along time), and the Gram matrix X_c^T X_c (N, N)
    by BLAS syrk (half the flops of a GEMM)."""
    mean = x.mean(axis=0)
    xct = np.empty((x.shape[1], x.shape[0]))
    np.subtract(x.T, mean[:, None], out=xct)
    # xct.T is the (T, N) Fortran view: syrk with trans=1 forms X_c^T X_c without a copy
    upper = blas.dsyrk(1.0, xct.T, trans=1, lower=0)
    gram = np.triu(upper) + np.triu(upper, 1).T
    return mean, xct, gram


def ridge_lambda(gram: FloatArray, ridge: float, ridge_scale: str) -> float:
    """The lambda added to the Gram diagonal for ``ridge`` and ``ridge_scale``."""
    if ridge_scale not in RIDGE_SCALES:
        raise ValueError(
            f"unknown ridge_scale {ridge_scale!r}; valid choices: {', '.join(RIDGE_SCALES)}"
        )
    if not (np.isfinite(ridge) and ridge >= 0):
        raise ValueError(f"ridge must be finite and >= 0, got {ridge}")
    if ridge_scale == "absolute":
        return float(ridge)
    return float(ridge * np.trace(gram) / gram.shape[0])


def solve_ridge(gram: FloatArray, rhs: FloatArray, lam: float) -> FloatArray:
    """``(gram + lam I)^{-1} rhs`` by Cholesky.

    A Gram matrix is positive semidefinite, but rounding can leave ``gram + lam I`` indefinite
    when ``lam`` is tiny (or 0) and the states nearly collinear; then the eigenvalues of ``gram``
    are clipped at 0 and those of ``gram + lam I`` at or below rounding level (``N`` eps times
    the largest) are dropped: the minimum-norm solution, as least squares would give, at about a
    tenth of its cost (an eigendecomposition instead of an SVD).
    """
    a = gram + lam * np.eye(gram.shape[0])
    try:
        factor = cho_factor(a, lower=False, overwrite_a=True, check_finite=False)
        return np.asarray(cho_solve(factor, rhs, check_finite=False))
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(gram)
        shifted = np.maximum(values, 0.0) + lam
        cutoff = gram.shape[0] * np.finfo(np.float64).eps * max(float(shifted.max()), 0.0)
        inverse = np.divide(1.0, shifted, out=np.zeros_like(shifted), where=shifted > cutoff)
        return np.asarray(vectors @ (inverse[:, None] * (vectors.T @ rhs)))


def fit_ridge(
    states: ArrayLike,
    targets: ArrayLike,
    ridge: float = 1e-8,
    washout: int = 0,
    ridge_scale: RidgeScale = "relative",
) -> LinearReadout:
    """Fit a ridge readout on ``states[washout:]`` -> ``targets[washout:]`` (see module doc)."""
    x, y, scalar = _as_xy(states, targets, washout, "fit_ridge")
    mean, xct, gram = centered_gram(x)
    lam = ridge_lambda(gram, ridge, ridge_scale)
    y_mean = y.mean(axis=0)
    weights = solve_ridge(gram, xct @ (y - y_mean), lam)
    return LinearReadout(weights, y_mean - mean @ weights, scalar)


class RLSResult(NamedTuple):
    #: the readout after the last sample
    readout: LinearReadout
    #: a-priori predictions made online, before each update (T - washout, d) or (T - washout,)
    predictions: FloatArray


def fit_rls(
    states: ArrayLike,
    targets: ArrayLike,
    washout: int = 0,
    forgetting: float = 1.0,
    regularization: float = 1e-2,
) -> RLSResult:
    r"""Train a readout online by recursive least squares (Sussillo & Abbott 2009 use it for
    FORCE learning).

    Features are the states with a constant 1 appended (the intercept). ``P`` starts at
    :math:`I / \delta` with :math:`\delta` = ``regularization``; per sample
    :math:`k = P x / (\lambda + x^\top P x)`, :math:`W \mathrel{+}= k (y - W^\top x)^\top`,
    :math:`P \leftarrow (P - k x^\top P) / \lambda` with forgetting factor :math:`\lambda \in
    (0, 1]`. With :math:`\lambda = 1` the final weights equal ridge regression on the augmented
    features with penalty :math:`\delta` on every weight, intercept included. Cost O(N^2) per
    sample: meant for online use and moderate N.
    """
    x, y, scalar = _as_xy(states, targets, washout, "fit_rls")
    if not 0.0 < forgetting <= 1.0:
        raise ValueError(f"fit_rls: forgetting must lie in (0, 1], got {forgetting}")
    if not (np.isfinite(regularization) and regularization > 0):
        raise ValueError(f"fit_rls: regularization must be > 0, got {regularization}")
    features = np.hstack([x, np.ones((x.shape[0], 1))])
    n = features.shape[1]
    precision = np.eye(n) / regularization
    weights = np.zeros((n, y.shape[1]))
    predictions = np.empty_like(y)
    _kernels.rls_run(
        features, np.ascontiguousarray(y), precision, weights, float(forgetting), predictions
    )
    readout = LinearReadout(weights[:-1].copy(), weights[-1].copy(), scalar)
    return RLSResult(readout, predictions[:, 0] if scalar else predictions)
