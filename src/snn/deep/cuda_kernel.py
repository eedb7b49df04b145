r"""Batched CUDA inference of deep networks, bit for bit equal to the NumPy reference.

:func:`run_cuda_batch` runs ``B`` samples (input frames of shape ``(B, T, *input.shape)``) of one
deep network (:mod:`snn.deep.graph`) at once, on a GPU or on Numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1`` set before ``numba.cuda`` is first imported; see
:mod:`snn.backends.cuda_backend`), and returns one :class:`~snn.deep.reference.DeepResult` per
sample, equal to :func:`~snn.deep.reference.run_reference`'s for that sample.

Layer by layer
--------------
Every projection delays one step, so layer ``q`` at step ``m`` reads only its pre populations'
outputs of step ``m - 1``: once a layer's whole output raster (all samples, all steps) is known,
the next layer can run all its steps. One kernel launch per layer (in declaration order, which
is topological) runs one thread per ``(sample b, neuron i)`` of the layer; the thread keeps its
membrane potential in a register and walks the ``n_steps`` steps:

.. math::

    I_i[m] = \sum_{p \to q} \Big( \sum_{j \in \mathrm{pre}_p(i)} W_{p,ij}\, y_j[m - 1] \Big),
    \qquad v_i[m] = (\beta_i v_i[m - 1] + I_i[m]) + v_{\mathrm{bias}, i},

then ``s = v > v_thresh`` and the reset (subtract ``v_thresh`` or set to 0) of a spiking layer;
the readout's ``v`` is stored. Each projection's inner sum is a **gather** over the layer
geometry (convolution taps, pooling window, dense row; the shared weights of
:func:`snn.deep.numba_kernel.lower`). Outputs live on the device between launches: the input
frames (float64, ``(B, T, n_input)``), the spikes of every spiking layer (uint8,
``(B, n_steps, n_spiking)``), the readout's potentials (float64, ``(B, n_steps, n_classes)``) and
per-thread counters (synaptic events per projection target, membrane changes per neuron), which
the host sums into :attr:`DeepResult.synaptic_events` and :attr:`DeepResult.membrane_changes`.

Parity
------
The reference sums each projection with ``np.bincount`` over its synapses in (pre, post) order:
per target, its inputs in increasing pre index, starting from ``0.0``; then
``drive = drive + part`` per projection in declaration order, from ``0.0``. The gather visits a
target's pre neurons in increasing index (convolution: input channel, then kernel row, then
kernel column, which is increasing ``(c, y, x)``; pooling: window row, column; dense: pre index),
adds each projection's sum to the drive in declaration order, and evaluates
``(beta v + I) + v_bias`` and the reset in the reference's order: the same float64 additions in
the same order. Two details:

* inputs with ``y = 0`` are skipped (as the event-driven Numba kernel does). The reference adds
  ``w * 0 = +-0`` to a running sum that starts at ``+0`` and so is never ``-0`` (round to
  nearest gives ``+0`` for an exact cancellation and for ``+0 + -0``): adding ``+-0`` leaves it
  unchanged, so skipping is exact for finite weights (which every projection has);
* every float64 product is :func:`~snn.backends.cuda_backend._mul_exact` (``libdevice.dmul_rn``,
  ``mul.rn.f64``): NVVM would otherwise contract ``beta v + I`` and ``part + w y`` into fused
  multiply-adds, which round once instead of twice. Under the simulator the kernel runs as
  Python on NumPy float64 scalars, one IEEE operation at a time, so the simulator checks the
  order of operations; the compiled arithmetic is checked on the LLVM IR handed to NVVM (no
  plain ``fmul``) and, where NVVM is installed, on the PTX (no ``fma.rn.f64``).

Spikes, readout potentials (hence logits and prediction), synaptic events and membrane changes
therefore equal the reference's exactly, sample by sample; the samples of a batch never interact.

Cost: every synapse is visited per sample and step (a dense gather: no atomics, deterministic),
its input a byte of the spike raster read by neighbouring threads at neighbouring addresses;
shared weights are read by all threads of an output channel (broadcast, cached).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import cuda
from numpy.typing import NDArray

from snn.backends.cuda_backend import SIMULATOR, _mul_exact, _to_device, unavailable_reason
from snn.deep import check_batch
from snn.deep.graph import DeepGraph
from snn.deep.numba_kernel import _DENSE, _POOL, lower
from snn.deep.reference import DeepResult, _check_steps

#: threads per block on a GPU, and in the simulator (one Python thread per CUDA thread)
GPU_THREADS_PER_BLOCK = 128
SIM_THREADS_PER_BLOCK = 8


@dataclass(frozen=True)
class _Tables:
    """A deep graph flattened for the layer kernel (host arrays; built once per network)."""

    layer_ptr: NDArray[np.int64]  # neurons of layer l: layer_ptr[l]:layer_ptr[l + 1]
    layer_spike_off: NDArray[np.int64]  # first column in the spike raster; -1: the readout
    layer_subtract: NDArray[np.bool_]
    layer_proj_ptr: NDArray[np.int64]  # incoming projections of layer l (declaration order)
    proj_src_off: NDArray[np.int64]  # pre population's first spike column; -1: the input
    proj_event_ptr: NDArray[np.int64]  # event counters of projection p: ptr[p]:ptr[p + 1]
    #: per projection: kind, C_in, H, W, C_out, H_out, W_out, kernel size, stride, padding
    proj_geometry: NDArray[np.int64]
    proj_kernel_offset: NDArray[np.int64]
    kernels: NDArray[np.float64]  # numba_kernel.lower's shared weights, in its layout
    beta: NDArray[np.float64]  # per layer neuron (layer_ptr order)
    v_thresh: NDArray[np.float64]
    v_bias: NDArray[np.float64]
    n_spiking: int  # columns of the spike raster


def _tables(graph: DeepGraph) -> _Tables:
    low = lower(graph)
    spike_off: dict[int, int] = {}
    layer_spike_off, layer_ptr = [], [0]
    n_spiking = 0
    for layer in graph.layers:
        if layer.spiking:
            spike_off[layer.population.index] = n_spiking
            layer_spike_off.append(n_spiking)
            n_spiking += layer.size
        else:
            layer_spike_off.append(-1)
        layer_ptr.append(layer_ptr[-1] + layer.size)
    src_off, event_off = [], [0]
    for layer in graph.layers:
        for proj in layer.incoming:
            src_off.append(spike_off.get(proj.pre.parent.index, -1))
            event_off.append(event_off[-1] + layer.size)
    return _Tables(
        layer_ptr=np.array(layer_ptr, dtype=np.int64),
        layer_spike_off=np.array(layer_spike_off, dtype=np.int64),
        layer_subtract=low.layer_subtract,
        layer_proj_ptr=low.layer_proj_ptr,
        proj_src_off=np.array(src_off, dtype=np.int64),
        proj_event_ptr=np.array(event_off, dtype=np.int64),
        proj_geometry=low.proj_geometry,
        proj_kernel_offset=low.proj_kernel_offset,
        kernels=low.kernels,
        beta=np.concatenate([layer.beta for layer in graph.layers]),
        v_thresh=np.concatenate([layer.v_thresh for layer in graph.layers]),
        v_bias=np.concatenate([layer.v_bias for layer in graph.layers]),
        n_spiking=n_spiking,
    )


@cuda.jit(device=True)
def _gather(
    src: Any, b: int, t: int, off: int, geo: Any, kernels: Any, k_off: int, i: int
) -> tuple[float, int]:
    """Projection input of target ``i`` from sample ``b``'s pre outputs of step ``t``
    (``src[b, t, off + j]``): the sum of ``w y`` over its non-zero inputs in increasing pre
    index, from 0.0, and their synapse count (its synaptic events)."""
    kind = geo[0]
    c_in, h, w = geo[1], geo[2], geo[3]
    c_out, h_out, w_out = geo[4], geo[5], geo[6]
    k, stride, pad = geo[7], geo[8], geo[9]
    part = 0.0
    used = 0
    if kind == _DENSE:  # kernel stored (n_pre, n_post); c_in = n_pre, c_out = n_post
        for j in range(c_in):
            y = src[b, t, off + j]
            if y != 0:
                part += _mul_exact(kernels[k_off + j * c_out + i], float(y))
                used += 1
        return part, used
    plane = h_out * w_out
    co = i // plane
    rem = i - co * plane
    oy = rem // w_out
    ox = rem - oy * w_out
    # pooling is depthwise (channel co reads channel co), a convolution reads every channel
    first, last = (co, co + 1) if kind == _POOL else (0, c_in)
    for ci in range(first, last):
        for ky in range(k):
            iy = oy * stride - pad + ky
            if iy < 0 or iy >= h:
                continue
            for kx in range(k):
                ix = ox * stride - pad + kx
                if ix < 0 or ix >= w:
                    continue
                y = src[b, t, off + (ci * h + iy) * w + ix]
                if y != 0:
                    if kind == _POOL:
                        weight = kernels[k_off]
                    else:  # convolution: kernel stored (C_in, K, K, C_out)
                        weight = kernels[k_off + ((ci * k + ky) * k + kx) * c_out + co]
                    part += _mul_exact(weight, float(y))
                    used += 1
    return part, used


@cuda.jit
def _layer_kernel(
    layer: int,
    n_batch: int,
    n_steps: int,
    n_frames: int,
    frames: Any,
    spikes: Any,
    readout_v: Any,
    events: Any,
    changes: Any,
    layer_ptr: Any,
    layer_spike_off: Any,
    layer_subtract: Any,
    layer_proj_ptr: Any,
    proj_src_off: Any,
    proj_event_ptr: Any,
    proj_geometry: Any,
    proj_kernel_offset: Any,
    kernels: Any,
    beta: Any,
    v_thresh: Any,
    v_bias: Any,
) -> None:
    """All ``n_steps`` steps of one layer; thread ``b * n + i`` owns neuron ``i`` of sample
    ``b``. Writes its spikes (or readout potentials), its synaptic events per incoming
    projection and its membrane changes."""
    first = layer_ptr[layer]
    n = layer_ptr[layer + 1] - first
    thread: int = cuda.grid(1)  # type: ignore[call-arg]
    if thread >= n_batch * n:
        return
    b = thread // n
    i = thread - b * n
    neuron = first + i
    beta_i, thresh_i, bias_i = beta[neuron], v_thresh[neuron], v_bias[neuron]
    spike_col = layer_spike_off[layer]
    subtract = layer_subtract[layer]
    for pj in range(layer_proj_ptr[layer], layer_proj_ptr[layer + 1]):
        events[b, proj_event_ptr[pj] + i] = 0
    v = 0.0
    n_changes = 0
    for m in range(n_steps):
        drive = 0.0
        for pj in range(layer_proj_ptr[layer], layer_proj_ptr[layer + 1]):
            src = proj_src_off[pj]
            part = 0.0
            used = 0
            if src < 0:  # the input population: frame m - 1, none before the first or after T
                if 0 < m <= n_frames:
                    part, used = _gather(
                        frames, b, m - 1, 0, proj_geometry[pj], kernels, proj_kernel_offset[pj], i
                    )
            elif m > 0:
                part, used = _gather(
                    spikes, b, m - 1, src, proj_geometry[pj], kernels, proj_kernel_offset[pj], i
                )
            events[b, proj_event_ptr[pj] + i] += used
            drive = drive + part
        vk = (_mul_exact(beta_i, v) + drive) + bias_i
        if spike_col < 0:
            readout_v[b, m, i] = vk
        elif vk > thresh_i:
            vk = vk - thresh_i if subtract else 0.0
            spikes[b, m, spike_col + i] = 1
        else:
            spikes[b, m, spike_col + i] = 0
        if m == 0 or vk != v:
            n_changes += 1
        v = vk
    changes[b, neuron] = n_changes


def run_cuda_batch(
    graph: DeepGraph, frames: NDArray[np.floating], n_steps: int | None = None
) -> list[DeepResult]:
    """Run a batch of input frames ``(B, T, *input.shape)`` through the deep network on CUDA;
    one result per sample, each equal to ``run_reference(graph, frames[b], n_steps)``."""
    reason = unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"deep backend 'cuda' is not available: {reason}")
    x = check_batch(graph, frames)
    n_batch, n_frames = x.shape[0], x.shape[1]
    steps = graph.n_steps(n_frames) if n_steps is None else _check_steps(n_steps)
    tab = _tables(graph)
    n_out = graph.readout.size
    n_neurons = int(tab.layer_ptr[-1])
    d_frames = _to_device(x)
    # every entry is written by the kernel (uninitialised memory, no host-to-device copy)
    d_spikes = cuda.device_array((n_batch, steps, max(tab.n_spiking, 1)), np.uint8)
    d_readout = cuda.device_array((n_batch, steps, n_out), np.float64)
    d_events = cuda.device_array((n_batch, int(tab.proj_event_ptr[-1])), np.int64)
    d_changes = cuda.device_array((n_batch, n_neurons), np.int64)
    consts = tuple(
        _to_device(a)
        for a in (
            tab.layer_ptr,
            tab.layer_spike_off,
            tab.layer_subtract,
            tab.layer_proj_ptr,
            tab.proj_src_off,
            tab.proj_event_ptr,
            tab.proj_geometry,
            tab.proj_kernel_offset,
            tab.kernels,
            tab.beta,
            tab.v_thresh,
            tab.v_bias,
        )
    )
    per_block = SIM_THREADS_PER_BLOCK if SIMULATOR else GPU_THREADS_PER_BLOCK
    for li, layer in enumerate(graph.layers):
        blocks = -(-n_batch * layer.size // per_block)
        _layer_kernel[blocks, per_block](
            li,
            n_batch,
            steps,
            n_frames,
            d_frames,
            d_spikes,
            d_readout,
            d_events,
            d_changes,
            *consts,
        )
    spikes = d_spikes.copy_to_host()
    readout_v = d_readout.copy_to_host()
    events = d_events.copy_to_host()
    changes = d_changes.copy_to_host()
    projections = [proj for layer in graph.layers for proj in layer.incoming]
    event_sums = {
        proj.label: events[:, lo:hi].sum(axis=1)
        for proj, lo, hi in zip(
            projections, tab.proj_event_ptr[:-1], tab.proj_event_ptr[1:], strict=True
        )
    }
    results = []
    for b in range(n_batch):
        out: dict[str, NDArray[np.bool_]] = {}
        for layer, col in zip(graph.layers, tab.layer_spike_off, strict=True):
            if layer.spiking:
                raster = spikes[b, :, col : col + layer.size].astype(np.bool_)
                out[layer.label] = raster.reshape((steps, *layer.shape))
        results.append(
            DeepResult(
                spikes=out,
                readout_v=readout_v[b].copy(),
                synaptic_events={label: int(s[b]) for label, s in event_sums.items()},
                n_steps=steps,
                dt=graph.network.dt,
                membrane_changes={
                    layer.label: int(changes[b, lo:hi].sum())
                    for layer, lo, hi in zip(
                        graph.layers, tab.layer_ptr[:-1], tab.layer_ptr[1:], strict=True
                    )
                },
            )
        )
    return results
