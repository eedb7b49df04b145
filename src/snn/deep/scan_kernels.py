"""Numba kernels of the DeltaLIF scan (forward and surrogate backward) for CPU tensors.

The same arithmetic as the step-by-step torch loop (``u = (beta v + I) + v_bias``,
``s = [u - v_thresh > 0]``, detached soft or zero reset) in one pass over memory per step instead
of a dozen tensor operations, each allocating its result. Arrays are 2-D ``(steps, n)`` views in
memory order, with per-element parameters of length ``n``; the forward pass computes in the
arrays' precision, the backward pass in float64 (stored back in the arrays' precision).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import NDArray

#: surrogate codes understood by the backward kernel (names as in snn.deep.surrogate)
SURROGATE_CODES = {"fast_sigmoid": 0, "atan": 1, "sigmoid": 2, "triangle": 3}


@numba.njit(cache=True, nogil=True)
def lif_forward(
    drive: NDArray[np.floating],
    steps: int,
    beta: NDArray[np.floating],
    thresh: NDArray[np.floating],
    bias: NDArray[np.floating],
    subtract: bool,
    u_all: NDArray[np.floating],
    s_all: NDArray[np.floating],
) -> None:
    n = beta.size
    n_drive = drive.shape[0]
    v = np.zeros_like(beta)
    for m in range(steps):
        for i in range(n):
            u = beta[i] * v[i]
            if 0 < m <= n_drive:
                u = u + drive[m - 1, i]
            u = u + bias[i]
            u_all[m, i] = u
            if u - thresh[i] > 0:
                s_all[m, i] = 1
                v[i] = u - thresh[i] if subtract else u - u
            else:
                s_all[m, i] = 0
                v[i] = u


@numba.njit(cache=True, nogil=True)
def _surrogate(code: int, x: float, k: float) -> float:
    if code == 0:
        d = 1.0 + k * abs(x)
        return 1.0 / (d * d)
    if code == 1:
        a = math.pi / 2.0 * k * x
        return (k / 2.0) / (1.0 + a * a)
    if code == 2:
        sig = 1.0 / (1.0 + math.exp(-k * x))
        return k * sig * (1.0 - sig)
    return max(0.0, 1.0 - k * abs(x))


@numba.njit(cache=True, nogil=True)
def lif_backward(
    grad_s: NDArray[np.floating],
    u_all: NDArray[np.floating],
    s_all: NDArray[np.floating],
    beta: NDArray[np.floating],
    thresh: NDArray[np.floating],
    subtract: bool,
    code: int,
    k: float,
    g_drive: NDArray[np.floating],
    g_beta: NDArray[np.float64],
    g_thresh: NDArray[np.float64],
    g_bias: NDArray[np.float64],
) -> None:
    steps, n = grad_s.shape
    n_drive = g_drive.shape[0]
    g_v = np.zeros(n)
    for m in range(steps - 1, -1, -1):
        for i in range(n):
            s = float(s_all[m, i])
            g_spike = float(grad_s[m, i]) * _surrogate(code, float(u_all[m, i] - thresh[i]), k)
            g_u = g_spike + (g_v[i] if subtract else g_v[i] * (1.0 - s))
            if 0 < m <= n_drive:
                g_drive[m - 1, i] = g_u
            g_bias[i] += g_u
            g_thresh[i] -= g_spike
            if subtract:
                g_thresh[i] -= g_v[i] * s
            if m > 0:
                s_prev = float(s_all[m - 1, i])
                u_prev = float(u_all[m - 1, i])
                v_prev = u_prev - s_prev * thresh[i] if subtract else u_prev * (1.0 - s_prev)
                g_beta[i] += g_u * v_prev
            g_v[i] = g_u * beta[i]
