"""Numba lowerings of the reservoir steps (the NumPy steps in ``ei.py`` and ``esn.py`` are the
reference; ``tests/test_reservoir.py`` compares them).

Every kernel is compiled with ``cache=True`` and ``error_model="numpy"`` (no Python exception
checks in the inner loops) and runs on one thread: on the shared 2-core machines ``prange``
inside a step costs more than it saves (see DESIGN.md, Vogels-Abbott anchor).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _sigmoid(x: float) -> float:
    # branch-free (a sign branch is mispredicted half the time); exp(-x) overflowing to inf for
    # x < -709 gives 0, the right limit, and error_model="numpy" raises nothing
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True, error_model="numpy")
def ei_run(
    pre_exc: np.ndarray,
    w_exc: np.ndarray,
    pre_inh: np.ndarray,
    w_inh: np.ndarray,
    w_in: np.ndarray,
    inputs: np.ndarray,
    gain: np.ndarray,
    threshold: np.ndarray,
    leak_rate: float,
    v: np.ndarray,
    r: np.ndarray,
    out: np.ndarray,
) -> None:
    """Run the E/I rate reservoir over ``inputs`` (T, d); rates go to ``out`` (T, N).

    ``v`` and ``r`` hold the initial state and are overwritten with the final one.
    """
    n_steps, n_in = inputs.shape
    n = v.shape[0]
    k_exc = pre_exc.shape[1]
    k_inh = pre_inh.shape[1]
    prev = r.copy()
    for t in range(n_steps):
        cur = out[t]
        # two passes: the gathers first, then the sigmoids in a loop free of indirect loads,
        # which LLVM schedules better (measured 1.5x faster at N = 1000, k = 10)
        for i in range(n):
            s = 0.0
            for m in range(k_exc):
                s += w_exc[i, m] * prev[pre_exc[i, m]]
            for m in range(k_inh):
                s -= w_inh[i, m] * prev[pre_inh[i, m]]
            for j in range(n_in):
                s += w_in[i, j] * inputs[t, j]
            v[i] = (1.0 - leak_rate) * v[i] + leak_rate * s
        for i in range(n):
            cur[i] = _sigmoid(gain[i] * (v[i] - threshold[i]))
        prev = cur
    r[:] = prev


@njit(cache=True, error_model="numpy")
def ei_adapt(
    pre_exc: np.ndarray,
    w_exc: np.ndarray,
    pre_inh: np.ndarray,
    w_inh: np.ndarray,
    w_in: np.ndarray,
    inputs: np.ndarray,
    gain: np.ndarray,
    threshold: np.ndarray,
    leak_rate: float,
    targets: np.ndarray,
    learning_rate: np.ndarray,
    v: np.ndarray,
    r: np.ndarray,
    error_trace: np.ndarray,
) -> None:
    """Run the reservoir while each neuron's inhibitory weights follow its rate error.

    After step ``t``, ``A_I[i, j] += learning_rate[t] * (r_i - rho_i)`` on every inhibitory
    synapse onto ``i``, clipped at 0 (Dale's law). ``w_inh`` is updated in place;
    ``error_trace[t]`` is the mean of ``|r_i - rho_i|`` over neurons at step ``t``.
    """
    n_steps, n_in = inputs.shape
    n = v.shape[0]
    k_exc = pre_exc.shape[1]
    k_inh = pre_inh.shape[1]
    prev = r.copy()
    cur = np.empty(n)
    for t in range(n_steps):
        for i in range(n):
            s = 0.0
            for m in range(k_exc):
                s += w_exc[i, m] * prev[pre_exc[i, m]]
            for m in range(k_inh):
                s -= w_inh[i, m] * prev[pre_inh[i, m]]
            for j in range(n_in):
                s += w_in[i, j] * inputs[t, j]
            vi = (1.0 - leak_rate) * v[i] + leak_rate * s
            v[i] = vi
            cur[i] = _sigmoid(gain[i] * (vi - threshold[i]))
        err_sum = 0.0
        for i in range(n):
            err = cur[i] - targets[i]
            err_sum += abs(err)
            dw = learning_rate[t] * err
            for m in range(k_inh):
                w = w_inh[i, m] + dw
                w_inh[i, m] = w if w > 0.0 else 0.0
        error_trace[t] = err_sum / n
        prev, cur = cur, prev
    r[:] = prev


@njit(cache=True, error_model="numpy")
def csr_run(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    w_in: np.ndarray,
    bias: np.ndarray,
    inputs: np.ndarray,
    leak_rate: float,
    linear: bool,
    x: np.ndarray,
    out: np.ndarray,
) -> None:
    """Run ``x <- (1 - a) x + a f(W x + W_in u + b)`` with ``W`` in CSR form, ``f`` tanh or
    the identity; states go to ``out`` (T, N) and ``x`` ends as the final state."""
    n_steps, n_in = inputs.shape
    n = x.shape[0]
    prev = x.copy()
    for t in range(n_steps):
        cur = out[t]
        for i in range(n):
            s = bias[i]
            for p in range(indptr[i], indptr[i + 1]):
                s += data[p] * prev[indices[p]]
            for j in range(n_in):
                s += w_in[i, j] * inputs[t, j]
            f = s if linear else math.tanh(s)
            cur[i] = (1.0 - leak_rate) * prev[i] + leak_rate * f
        prev = cur
    x[:] = prev


@njit(cache=True, error_model="numpy")
def rls_run(
    features: np.ndarray,
    targets: np.ndarray,
    precision: np.ndarray,
    weights: np.ndarray,
    forgetting: float,
    predictions: np.ndarray,
) -> None:
    """Recursive least squares over the rows of ``features`` (T, n) and ``targets`` (T, d).

    ``predictions[t]`` is the a-priori output ``weights.T @ features[t]`` (before the update at
    ``t``). ``precision`` (the inverse correlation matrix ``P``) and ``weights`` are updated in
    place.
    """
    n_steps, n = features.shape
    d = targets.shape[1]
    px = np.empty(n)
    for t in range(n_steps):
        x = features[t]
        denom = forgetting
        for a in range(n):
            acc = 0.0
            for b in range(n):
                acc += precision[a, b] * x[b]
            px[a] = acc
            denom += x[a] * acc
        for j in range(d):
            y = 0.0
            for a in range(n):
                y += weights[a, j] * x[a]
            predictions[t, j] = y
            err = targets[t, j] - y
            for a in range(n):
                weights[a, j] += px[a] * err / denom
        for a in range(n):
            ka = px[a] / denom
            for b in range(n):
                precision[a, b] = (precision[a, b] - ka * px[b]) / forgetting


@njit(cache=True, inline="always")
def _mg_rate(x: float, x_delayed: float, a: float, b: float, n: float) -> float:
    return a * x_delayed / (1.0 + x_delayed**n) - b * x


@njit(cache=True, error_model="numpy")
def mackey_glass_rk4(
    buffer: np.ndarray,
    n_delay: int,
    n_linear: int,
    n_total: int,
    dt: float,
    a: float,
    b: float,
    n: float,
) -> None:
    """Classical RK4 on the Mackey-Glass DDE over ``n_total`` steps of ``dt``.

    ``buffer[: n_delay + 2]`` holds the solution at ``t = -(n_delay + 1) dt .. 0``; step ``j``
    writes ``buffer[n_delay + 2 + j]``. The delay is ``n_delay`` steps; the delayed value at a
    half step is the 4-point cubic interpolation (error O(dt^4), keeping RK4's order), or the
    mean of its neighbours while both lie in ``buffer[: n_linear + 1]``, the linear history.
    """
    for j in range(n_total):
        i = n_delay + 1 + j  # index of the current time t
        x = buffer[i]
        d0 = buffer[i - n_delay]
        d1 = buffer[i - n_delay + 1]
        if i - n_delay + 1 <= n_linear:
            dm = 0.5 * (d0 + d1)  # inside the piecewise-linear history: exact
        else:
            dm = (-buffer[i - n_delay - 1] + 9.0 * d0 + 9.0 * d1 - buffer[i - n_delay + 2]) / 16.0
        k1 = _mg_rate(x, d0, a, b, n)
        k2 = _mg_rate(x + 0.5 * dt * k1, dm, a, b, n)
        k3 = _mg_rate(x + 0.5 * dt * k2, dm, a, b, n)
        k4 = _mg_rate(x + dt * k3, d1, a, b, n)
        buffer[i + 1] = x + dt * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0
