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
def nonzero_entries(x: NDArray[np.floating]) -> tuple[NDArray[np.int32], NDArray[np.float64]]:
    """Coordinates (d, b, c, y, x) and values of the non-zero entries of a 5-D array."""
    n_d, n_b, n_c, h, wd = x.shape
    count = 0
    for d in range(n_d):
        for b in range(n_b):
            for c in range(n_c):
                for iy in range(h):
                    for ix in range(wd):
                        if x[d, b, c, iy, ix] != 0:
                            count += 1
    coords = np.empty((count, 5), dtype=np.int32)
    values = np.empty(count)
    k = 0
    for d in range(n_d):
        for b in range(n_b):
            for c in range(n_c):
                for iy in range(h):
                    for ix in range(wd):
                        v = x[d, b, c, iy, ix]
                        if v != 0:
                            coords[k, 0], coords[k, 1], coords[k, 2] = d, b, c
                            coords[k, 3], coords[k, 4] = iy, ix
                            values[k] = v
                            k += 1
    return coords, values


@numba.njit(cache=True, nogil=True)
def conv_taps(
    coords: NDArray[np.int32], stride: int, padding: int, k: int, h_out: int, w_out: int
) -> NDArray[np.int32]:
    """Every (event, output y, output x, kernel y, kernel x) that a non-zero input of
    :func:`nonzero_entries` reaches through a k x k convolution: the work list of both the
    forward pass and the weight gradient, computed once."""
    count = 0
    for second in range(2):  # count, then fill
        if second:
            taps = np.empty((count, 5), dtype=np.int32)
        t = 0
        for e in range(coords.shape[0]):
            iy, ix = coords[e, 3], coords[e, 4]
            for ky in range(k):
                ty = iy + padding - ky
                if ty < 0 or ty % stride or ty // stride >= h_out:
                    continue
                for kx in range(k):
                    tx = ix + padding - kx
                    if tx < 0 or tx % stride or tx // stride >= w_out:
                        continue
                    if second:
                        taps[t, 0], taps[t, 1], taps[t, 2] = e, ty // stride, tx // stride
                        taps[t, 3], taps[t, 4] = ky, kx
                    t += 1
        count = t
    return taps


@numba.njit(cache=True, nogil=True)
def sparse_conv_forward(
    coords: NDArray[np.int32],
    values: NDArray[np.float64],
    taps: NDArray[np.int32],
    w: NDArray[np.floating],
    out: NDArray[np.floating],
) -> None:
    """``out[d, b, oy, ox, co] += x[d, b, c, iy, ix] w[c, ky, kx, co]`` over the taps of the
    non-zero inputs (:func:`conv_taps`); ``w`` in (C, K, K, C_out) order, ``out`` (D, B, H_out,
    W_out, C_out) zeroed by the caller. The work follows the number of events, not the frame
    size."""
    c_out = w.shape[3]
    for t in range(taps.shape[0]):
        e, oy, ox, ky, kx = taps[t, 0], taps[t, 1], taps[t, 2], taps[t, 3], taps[t, 4]
        d, b, c = coords[e, 0], coords[e, 1], coords[e, 2]
        v = values[e]
        for co in range(c_out):
            out[d, b, oy, ox, co] += v * w[c, ky, kx, co]


@numba.njit(cache=True, nogil=True)
def sparse_conv_weight_grad(
    coords: NDArray[np.int32],
    values: NDArray[np.float64],
    taps: NDArray[np.int32],
    grad: NDArray[np.floating],
    gw: NDArray[np.float64],
) -> None:
    """``gw[c, ky, kx, co] += x[d, b, c, iy, ix] grad[d, b, oy, ox, co]`` over the same taps."""
    c_out = gw.shape[3]
    for t in range(taps.shape[0]):
        e, oy, ox, ky, kx = taps[t, 0], taps[t, 1], taps[t, 2], taps[t, 3], taps[t, 4]
        d, b, c = coords[e, 0], coords[e, 1], coords[e, 2]
        v = values[e]
        for co in range(c_out):
            gw[c, ky, kx, co] += v * grad[d, b, oy, ox, co]


@numba.njit(cache=True, nogil=True)
def lif_backward_reduced(
    grad_s: NDArray[np.floating],
    u_all: NDArray[np.floating],
    s_all: NDArray[np.floating],
    beta: NDArray[np.floating],
    thresh: NDArray[np.floating],
    subtract: bool,
    code: int,
    k: float,
    channels: int,
    need_beta: bool,
    need_thresh: bool,
    need_bias: bool,
    g_drive: NDArray[np.floating],
    g_sums: NDArray[np.float64],
    g_bias: NDArray[np.float64],
) -> None:
    """The surrogate backward pass of :func:`lif_forward` (float64 arithmetic), with the trained
    parameters shared by a layer (beta, threshold: one value, gradients summed into
    ``g_sums[0]``, ``g_sums[1]``) or by a channel (bias: element ``i`` is channel
    ``i % channels`` in memory order, summed into ``g_bias``)."""
    steps, n = grad_s.shape
    n_drive = g_drive.shape[0]
    g_v = np.zeros(n)
    sum_beta = 0.0
    sum_thresh = 0.0
    for m in range(steps - 1, -1, -1):
        for i in range(n):
            s = float(s_all[m, i])
            g_spike = float(grad_s[m, i]) * _surrogate(code, float(u_all[m, i] - thresh[i]), k)
            g_u = g_spike + (g_v[i] if subtract else g_v[i] * (1.0 - s))
            if 0 < m <= n_drive:
                g_drive[m - 1, i] = g_u
            if need_bias:
                g_bias[i % channels] += g_u
            if need_thresh:
                sum_thresh -= g_spike
                if subtract:
                    sum_thresh -= g_v[i] * s
            if need_beta and m > 0:
                s_prev = float(s_all[m - 1, i])
                u_prev = float(u_all[m - 1, i])
                v_prev = u_prev - s_prev * thresh[i] if subtract else u_prev * (1.0 - s_prev)
                sum_beta += g_u * v_prev
            g_v[i] = g_u * beta[i]
    g_sums[0] = sum_beta
    g_sums[1] = sum_thresh
