r"""Benchmark tasks for reservoirs: seeded data generators and the scores computed from states.

* **Linear memory capacity** (Jaeger 2001): i.i.d. uniform input, one ridge readout per delay
  :math:`k = 1 .. K` (``K = 2N`` by default) trained to output :math:`u(t-k)`,
  :math:`MC = \sum_k r^2_k` with :math:`r^2_k` the squared correlation between readout and target
  on held-out data (:func:`memory_capacity`).
* **Mackey-Glass** (:math:`\tau = 17`) forecasting: from the state driven by the series up to
  :math:`t`, predict :math:`x(t + H)`; one-step (``H = 1``) and direct multi-step (larger ``H``)
  NRMSE (:func:`forecast_nrmse`). Generator: :func:`mackey_glass`.
* **Closed-loop (generative) forecasting**: a one-step readout trained with teacher forcing,
  then fed its own predictions as input for ``horizon`` steps (:func:`closed_loop_forecast`);
  scored by the NRMSE over the horizon and the number of valid steps.
* **NARMA-10** (Atiya and Parlos 2000): :func:`narma10`, scored by :func:`readout_nrmse`.

NRMSE is :math:`\sqrt{\langle (\hat y - y)^2 \rangle} / \operatorname{std}(y)` on held-out data.
States follow the convention of the reservoirs here: row ``t`` has seen input ``t``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import fft, stats

from snn.models.reservoir import _kernels
from snn.models.reservoir.readout import (
    RidgeScale,
    centered_gram,
    fit_ridge,
    ridge_lambda,
    solve_ridge,
)

FloatArray = NDArray[np.float64]
MGScheme = Literal["rk4", "reservoirpy"]
MG_SCHEMES = ("rk4", "reservoirpy")


class Reservoir(Protocol):
    """Anything with ``run(inputs) -> (states (T, N), final state)``."""

    def run(self, inputs: ArrayLike) -> tuple[FloatArray, Any]: ...


class ContinuableReservoir(Protocol):
    """A reservoir whose ``run`` continues from a given state (as the E/I reservoir and ESN)."""

    def run(self, inputs: ArrayLike, state: Any = None) -> tuple[FloatArray, Any]: ...


# ---------------------------------------------------------------------------------------------
# data generators


def uniform_input(
    n_steps: int,
    low: float = -1.0,
    high: float = 1.0,
    seed: int | np.random.Generator | None = None,
) -> FloatArray:
    """I.i.d. input uniform on [low, high), shape (n_steps,)."""
    if n_steps < 1 or not high > low:
        raise ValueError(
            f"uniform_input: need n_steps >= 1 and high > low, got {n_steps}, {low}, {high}"
        )
    return np.random.default_rng(seed).uniform(low, high, n_steps)


def mackey_glass(
    n_steps: int,
    tau: float = 17.0,
    a: float = 0.2,
    b: float = 0.1,
    n: float = 10.0,
    x0: float = 1.2,
    h: float = 1.0,
    *,
    history: ArrayLike | None = None,
    seed: int | np.random.Generator | None = None,
    scheme: MGScheme = "rk4",
    substeps: int = 10,
) -> FloatArray:
    r"""The Mackey-Glass series :math:`\dot x = a x(t-\tau) / (1 + x(t-\tau)^n) - b x(t)`,
    sampled every ``h`` time units, shape (n_steps,), starting at ``x(0) = x0``.

    ``history`` gives :math:`x` at ``t = -L h, ..., -h`` with ``L = floor(tau / h)`` samples (as
    ReservoirPy's ``mackey_glass``); by default ``x0 + 0.2 (U(0, 1) - 0.5)`` drawn from ``seed``.

    ``scheme="rk4"`` (default): classical RK4 with ``substeps`` steps per sample (``tau / h *
    substeps`` must be an integer), delayed values at half steps by cubic interpolation, the
    history linear between its samples. Against an independent reference (SciPy's DOP853 by the
    method of steps, tolerance 1e-13) it is within 5e-5 over the first 400 samples at the default
    ``substeps=10`` and converges at second order (the history's kinks limit the order).
    ``scheme="reservoirpy"``: ReservoirPy 0.4.2's update, the delayed value held over the step,

    .. math:: x \leftarrow x + (F - z x)\,(1 - 5z/6 + z^2/2 - z^3/6), \quad z = b h,
        \quad F = \frac{a\, x(t-\tau)}{1 + x(t-\tau)^n},

    which is first-order accurate (and consistent only for ``h = 1``, since ``F`` is not
    multiplied by ``h``); it reproduces ReservoirPy's series for the same history.
    """
    if scheme not in MG_SCHEMES:
        raise ValueError(
            f"mackey_glass: unknown scheme {scheme!r}; valid choices: {', '.join(MG_SCHEMES)}"
        )
    if n_steps < 1 or not (h > 0 and tau >= 2 * h):
        raise ValueError(
            f"mackey_glass: need n_steps >= 1, h > 0 and tau >= 2 h; got {n_steps}, h={h}, "
            f"tau={tau}"
        )
    n_hist = int(np.floor(tau / h))
    if history is None:
        rng = np.random.default_rng(seed)
        hist = x0 + 0.2 * (rng.random(n_hist) - 0.5)
    else:
        hist = np.asarray(history, dtype=np.float64).ravel()
        if hist.size < n_hist or not np.isfinite(hist).all():
            raise ValueError(
                f"mackey_glass: history needs at least floor(tau / h) = {n_hist} finite samples, "
                f"got {hist.size}"
            )
        hist = hist[-n_hist:]
    if scheme == "reservoirpy":
        out = np.empty(n_steps)
        buf = np.concatenate([hist, np.empty(n_steps)])
        bh = -b * h
        x = x0
        for i in range(n_steps):
            buf[n_hist + i] = x
            out[i] = x
            xd = buf[i]
            # the stages as ReservoirPy writes them (same rounding); they sum to the formula above
            k1 = bh * x + a * xd / (1.0 + xd**n)
            k2 = 2.0 * k1 + bh * k1
            k3 = 2.0 * k1 + bh * k2
            k4 = k1 + bh * k3
            x = x + (k1 + k2 + k3 + k4) / 6.0
        return out
    if int(substeps) != substeps or substeps < 1:
        raise ValueError(f"mackey_glass: substeps must be an integer >= 1, got {substeps}")
    n_delay_f = tau / h * substeps
    n_delay = round(n_delay_f)
    if abs(n_delay - n_delay_f) > 1e-9:
        raise ValueError(
            f"mackey_glass: tau / h * substeps = {n_delay_f} must be an integer for scheme='rk4'"
        )
    dt = h / substeps
    # the history on the fine grid t = -(n_delay + 1) dt .. 0, linear between samples
    t_fine = -dt * np.arange(n_delay + 1, -1, -1)
    t_hist = np.concatenate([-h * np.arange(n_hist, 0, -1), [0.0]])
    x_hist = np.concatenate([hist, [x0]])
    buf = np.empty(n_delay + 2 + (n_steps - 1) * substeps)
    buf[: n_delay + 2] = np.interp(t_fine, t_hist, x_hist)
    _kernels.mackey_glass_rk4(
        buf, n_delay, n_delay + 1, (n_steps - 1) * substeps, dt, a, b, float(n)
    )
    return np.ascontiguousarray(buf[n_delay + 1 :: substeps])


def narma10(
    n_steps: int, seed: int | np.random.Generator | None = None
) -> tuple[FloatArray, FloatArray]:
    r"""NARMA-10 input ``u`` (uniform on [0, 0.5]) and target ``y``, both (n_steps,):

    .. math:: y_{t} = 0.3\, y_{t-1} + 0.05\, y_{t-1} \sum_{i=1}^{10} y_{t-i}
        + 1.5\, u_{t-10} u_{t-1} + 0.1

    re-indexed so that ``y[t]`` depends on inputs up to ``u[t]`` (``y[t]`` is the formula's
    :math:`y_{t+1}`), the target for the state that has seen ``u[t]``. Values before the start
    are 0.
    """
    if n_steps < 1:
        raise ValueError(f"narma10: n_steps must be >= 1, got {n_steps}")
    u = np.random.default_rng(seed).uniform(0.0, 0.5, n_steps)
    y = np.zeros(n_steps)
    prev = 0.0
    window = 0.0  # sum of the last 10 outputs
    for t in range(n_steps):
        u_old = u[t - 9] if t >= 9 else 0.0
        nxt = 0.3 * prev + 0.05 * prev * window + 1.5 * u_old * u[t] + 0.1
        y[t] = nxt
        window += nxt - (y[t - 10] if t >= 10 else 0.0)
        prev = nxt
    if not np.isfinite(y).all():
        raise ValueError(f"narma10: the series diverged for seed {seed!r}; try another seed")
    return u, y


def scale_to_unit(series: ArrayLike) -> FloatArray:
    """Affinely map ``series`` from [min, max] to [-1, 1]."""
    x = np.asarray(series, dtype=np.float64)
    lo, hi = float(x.min()), float(x.max())
    if not hi > lo:
        raise ValueError("scale_to_unit: the series is constant")
    return 2.0 * (x - lo) / (hi - lo) - 1.0


# ---------------------------------------------------------------------------------------------
# scores


def nrmse(predicted: ArrayLike, target: ArrayLike) -> float:
    """Root-mean-square error over the target's standard deviation."""
    p = np.asarray(predicted, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    return float(np.sqrt(np.mean((p - y) ** 2)) / np.std(y))


def _split(n_rows: int, washout: int, train_fraction: float, owner: str) -> tuple[int, int]:
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"{owner}: train_fraction must lie in (0, 1), got {train_fraction}")
    usable = n_rows - washout
    n_train = round(train_fraction * usable)
    if washout < 0 or n_train < 2 or usable - n_train < 2:
        raise ValueError(
            f"{owner}: {n_rows} rows with washout {washout} leave too few for training "
            f"({n_train}) and testing ({usable - n_train})"
        )
    return washout + n_train, n_rows


def readout_nrmse(
    states: ArrayLike,
    targets: ArrayLike,
    washout: int = 100,
    train_fraction: float = 0.75,
    ridge: float = 1e-8,
    ridge_scale: RidgeScale = "relative",
) -> FloatArray:
    """Held-out NRMSE of a ridge readout, per target column: train on rows ``washout .. s``,
    test on ``s .. T`` with ``s`` splitting the rows after the washout by ``train_fraction``."""
    x = np.asarray(states, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    y2 = y[:, None] if y.ndim == 1 else y
    split, end = _split(x.shape[0], washout, train_fraction, "readout_nrmse")
    readout = fit_ridge(x[washout:split], y2[washout:split], ridge, 0, ridge_scale)
    pred = readout.predict(x[split:end])
    return np.array([nrmse(pred[:, j], y2[split:end, j]) for j in range(y2.shape[1])])


def forecast_nrmse(
    states: ArrayLike,
    series: ArrayLike,
    horizons: Sequence[int] = (1,),
    washout: int = 100,
    train_fraction: float = 0.75,
    ridge: float = 1e-8,
    ridge_scale: RidgeScale = "relative",
) -> dict[int, float]:
    """Direct ``H``-step forecasting: from ``states[t]`` (driven by ``series`` up to ``t``)
    predict ``series[t + H]`` for every ``H`` in ``horizons``; held-out NRMSE per horizon."""
    x = np.asarray(states, dtype=np.float64)
    s = np.asarray(series, dtype=np.float64).ravel()
    hs = [int(h) for h in horizons]
    if not hs or min(hs) < 1 or s.size != x.shape[0]:
        raise ValueError(
            f"forecast_nrmse: need horizons >= 1 and one series value per state row; got "
            f"horizons {list(horizons)}, {s.size} values for {x.shape[0]} rows"
        )
    h_max = max(hs)
    rows = x.shape[0] - h_max
    targets = np.stack([s[h : h + rows] for h in hs], axis=1)
    scores = readout_nrmse(x[:rows], targets, washout, train_fraction, ridge, ridge_scale)
    return dict(zip(hs, (float(v) for v in scores), strict=True))


class MemoryCapacity(NamedTuple):
    """What :func:`memory_capacity` returns."""

    #: sum over delays of the held-out r^2 that pass the chance threshold
    total: float
    #: r^2 per delay 1 .. K after the threshold (K,)
    per_delay: FloatArray
    #: r^2 per delay before the threshold (K,)
    raw_per_delay: FloatArray
    #: r^2 below this were set to 0 (chance level)
    threshold: float
    n_train: int
    n_test: int


def _lagged_products(
    xt: FloatArray, u: FloatArray, start: int, stop: int, k_max: int
) -> FloatArray:
    """``C[i, k-1] = sum_{t=start}^{stop-1} xt[i, t - start] * u[t - k]`` for k = 1 .. k_max, from
    the transposed states ``xt`` (N, T), by FFT cross-correlation (O(T N log T) instead of
    O(T N K)); transforms along the contiguous time axis, products in place."""
    length = stop - start
    b = u[start - k_max : stop]  # b[j] = u[start - k_max + j]
    nfft = fft.next_fast_len(length + k_max, real=True)
    spec = fft.rfft(xt, nfft, axis=1)
    np.conjugate(spec, out=spec)
    spec *= fft.rfft(b, nfft)
    corr = fft.irfft(spec, nfft, axis=1, overwrite_x=True)  # corr[i, m] = sum_s xt[i, s] b[s + m]
    # delay k is m = k_max - k: columns k_max - 1 down to 0
    return np.ascontiguousarray(corr[:, k_max - 1 :: -1])


def memory_capacity(
    states: ArrayLike,
    inputs: ArrayLike,
    max_delay: int | None = None,
    washout: int = 100,
    train_fraction: float = 0.75,
    ridge: float = 1e-10,
    ridge_scale: RidgeScale = "relative",
    significance: float = 1e-3,
) -> MemoryCapacity:
    r"""Linear memory capacity from states (T, N) driven by i.i.d. ``inputs`` (T,).

    Rows ``t >= max(washout, max_delay)`` are used (so every target :math:`u(t-k)` exists), the
    first ``train_fraction`` of them to fit one ridge readout per delay (all sharing the Gram
    matrix), the rest to score it. ``max_delay`` defaults to ``2 N``. A held-out :math:`r^2_k`
    below the ``1 - significance`` quantile of its null distribution, Beta(1/2, (L - 2)/2) for
    ``L`` test rows, is set to 0, so that thousands of chance correlations (about 1/L each) do not
    add up; ``significance=0`` keeps them.

    Each :math:`r^2_k \le 1`, and the total stays below ``N`` (Jaeger's bound for i.i.d. input)
    up to estimation noise, which the threshold removes: a delay line holding delays 1 .. N - 1
    exactly scores N - 1 (tested).
    """
    x = np.asarray(states, dtype=np.float64)
    u = np.asarray(inputs, dtype=np.float64).ravel()
    if x.ndim != 2 or u.size != x.shape[0]:
        raise ValueError(
            f"memory_capacity: states must be (T, N) with one input per row; got {x.shape} "
            f"and {u.size} inputs"
        )
    if not (np.isfinite(x).all() and np.isfinite(u).all()):
        raise ValueError("memory_capacity: states and inputs must be finite")
    k_max = 2 * x.shape[1] if max_delay is None else int(max_delay)
    if k_max < 1:
        raise ValueError(f"memory_capacity: max_delay must be >= 1, got {max_delay}")
    if not 0.0 <= significance < 1.0:
        raise ValueError(f"memory_capacity: significance must lie in [0, 1), got {significance}")
    start = max(int(washout), k_max)
    split, stop = _split(x.shape[0], start, train_fraction, "memory_capacity")
    # fit: W = (Xc^T Xc + lam I)^{-1} Xc^T Y, Xc^T Y by FFT (centring Y is not needed: Xc sums to 0)
    _, xct, gram = centered_gram(x[start:split])
    lam = ridge_lambda(gram, ridge, ridge_scale)
    weights = solve_ridge(gram, _lagged_products(xct, u, start, split, k_max), lam)
    # score on the held-out rows: r^2 = cov(yhat, y)^2 / (var(yhat) var(y)), all delays at once
    _, xtt, gram_t = centered_gram(x[split:stop])
    cross = _lagged_products(xtt, u, split, stop, k_max)
    cov = np.einsum("ik,ik->k", weights, cross)
    var_hat = np.einsum("ik,ik->k", weights, gram_t @ weights)
    n_test = stop - split
    csum = np.concatenate([[0.0], np.cumsum(u)])
    csq = np.concatenate([[0.0], np.cumsum(u * u)])
    delays = np.arange(1, k_max + 1)
    lo, hi = split - delays, stop - delays
    s1, s2 = csum[hi] - csum[lo], csq[hi] - csq[lo]
    var_y = s2 - s1 * s1 / n_test
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where((var_hat > 0) & (var_y > 0), cov * cov / (var_hat * var_y), 0.0)
    raw = np.clip(raw, 0.0, 1.0)
    threshold = (
        float(stats.beta.ppf(1.0 - significance, 0.5, (n_test - 2) / 2.0)) if significance else 0.0
    )
    kept = np.where(raw >= threshold, raw, 0.0)
    return MemoryCapacity(float(kept.sum()), kept, raw, threshold, split - start, n_test)


# ---------------------------------------------------------------------------------------------
# tasks end to end


class ClosedLoopForecast(NamedTuple):
    """What :func:`closed_loop_forecast` returns."""

    #: the generated series (horizon,) and the true continuation
    prediction: FloatArray
    target: FloatArray
    #: NRMSE over the whole horizon (normalised by the training series' standard deviation)
    nrmse: float
    #: steps before the absolute error first exceeds ``tolerance`` times that deviation
    valid_steps: int


def closed_loop_forecast(
    reservoir: ContinuableReservoir,
    series: ArrayLike,
    n_train: int,
    horizon: int,
    washout: int = 100,
    ridge: float = 1e-8,
    tolerance: float = 0.2,
) -> ClosedLoopForecast:
    """Generative forecasting: teacher-force ``series[:n_train]``, fit a one-step readout
    (``states[t] -> series[t + 1]``, rows after ``washout``), then run autonomously: each
    prediction is the next input, for ``horizon`` steps, compared with
    ``series[n_train : n_train + horizon]``."""
    s = np.asarray(series, dtype=np.float64).ravel()
    if not np.isfinite(s).all():
        raise ValueError("closed_loop_forecast: the series must be finite")
    if horizon < 1 or washout < 0 or n_train - washout < 3 or n_train + horizon > s.size:
        raise ValueError(
            f"closed_loop_forecast: need horizon >= 1, n_train - washout >= 3 and n_train + "
            f"horizon <= {s.size} (the series' length); got n_train={n_train}, "
            f"horizon={horizon}, washout={washout}"
        )
    if not tolerance > 0:
        raise ValueError(f"closed_loop_forecast: tolerance must be > 0, got {tolerance}")
    states, state = reservoir.run(s[:n_train])
    readout = fit_ridge(states[washout : n_train - 1], s[washout + 1 : n_train], ridge)
    x = states[n_train - 1]
    prediction = np.empty(horizon)
    for h in range(horizon):
        y = float(readout.predict(x[None, :])[0])
        prediction[h] = y
        row, state = reservoir.run(np.array([y]), state)
        x = row[0]
    target = s[n_train : n_train + horizon]
    scale = float(np.std(s[:n_train]))
    error = np.abs(prediction - target)
    beyond = np.flatnonzero(~(error <= tolerance * scale))  # a NaN prediction ends it too
    valid = int(beyond[0]) if beyond.size else horizon
    score = float(np.sqrt(np.mean((prediction - target) ** 2)) / scale)
    return ClosedLoopForecast(prediction, target, score, valid)


def memory_capacity_task(
    reservoir: Reservoir,
    n_steps: int,
    max_delay: int | None = None,
    washout: int = 100,
    train_fraction: float = 0.75,
    ridge: float = 1e-10,
    seed: int | np.random.Generator | None = None,
    **kwargs: Any,
) -> MemoryCapacity:
    """Drive ``reservoir`` with ``n_steps`` of uniform [-1, 1) input and score its memory."""
    u = uniform_input(n_steps, seed=seed)
    states, _ = reservoir.run(u)
    return memory_capacity(states, u, max_delay, washout, train_fraction, ridge, **kwargs)


def mackey_glass_task(
    reservoir: Reservoir,
    series: ArrayLike,
    horizons: Sequence[int] = (1, 17),
    washout: int = 100,
    train_fraction: float = 0.75,
    ridge: float = 1e-8,
) -> dict[int, float]:
    """Drive ``reservoir`` with ``series`` (already scaled) and score direct forecasts."""
    s = np.asarray(series, dtype=np.float64).ravel()
    states, _ = reservoir.run(s)
    return forecast_nrmse(states, s, horizons, washout, train_fraction, ridge)


def narma10_task(
    reservoir: Reservoir,
    n_steps: int,
    washout: int = 100,
    train_fraction: float = 0.75,
    ridge: float = 1e-8,
    seed: int | np.random.Generator | None = None,
) -> float:
    """NARMA-10 NRMSE; the input (uniform on [0, 0.5]) is fed as ``4 u - 1`` (on [-1, 1])."""
    u, y = narma10(n_steps, seed)
    states, _ = reservoir.run(4.0 * u - 1.0)
    return float(readout_nrmse(states, y, washout, train_fraction, ridge)[0])
