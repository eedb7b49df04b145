"""Event-driven Numba inference of deep networks, bit for bit equal to the NumPy reference.

Per step, each projection walks only the presynaptic neurons whose output of the previous step
is non-zero (input pixels with events, neurons that spiked) and adds their weighted output to
their targets, found from the layer geometry (convolution taps, pooling window, dense row) and
weighted by the shared kernel, which stays in cache: the synaptic work is proportional to the
activity, which is what sparse event-camera input and sparse spiking layers save. The order of
additions per target (synapses in (pre, post) order, one projection at a time, then projections
in declaration order) is the reference's, so spikes and membrane potentials agree exactly.

While it runs, the kernel also counts what the workload metrics (:func:`snn.metrics.measure`)
need, so that they do not rescan the dense rasters: per layer its spikes; per projection and
arrival step the synaptic operations (synapses of non-zero weight) driven by inputs of
``|y| = 1`` and by other non-zero inputs, and the number of those other inputs; per projection
its crossbar reads (see :class:`snn.deep.reference.DeepActivity`). A pre neuron's operations come
from a per-tap table of non-zero weights, so counting adds one addition per tap walked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

from snn.connectors import Conv2d, Dense, Pool2d
from snn.deep.graph import DeepGraph
from snn.deep.reference import DeepActivity, DeepResult, _check_steps
from snn.network import Projection

#: projection kinds of the kernel: convolution, depthwise sum pooling, dense
_CONV, _POOL, _DENSE = 0, 1, 2


@dataclass(frozen=True)
class _Lowered:
    pop_offset: NDArray[np.int64]  # per population: first slot in the global neuron vector
    pop_size: NDArray[np.int64]
    layer_pop: NDArray[np.int64]  # populations updated each step, in order
    layer_spiking: NDArray[np.bool_]
    layer_subtract: NDArray[np.bool_]
    #: layers whose inputs are all convolutions accumulate their drive channels last
    layer_channels_last: NDArray[np.bool_]
    layer_channels: NDArray[np.int64]  # C of a (C, H, W) layer, else 1
    layer_proj_ptr: NDArray[np.int64]  # incoming projections of layer l: proj_ptr[l]:proj_ptr[l+1]
    proj_pre: NDArray[np.int64]
    #: per projection: kind, C_in, H, W, C_out, H_out, W_out, kernel size, stride, padding
    proj_geometry: NDArray[np.int64]
    proj_kernel_offset: NDArray[np.int64]  # where the projection's shared weights start
    #: shared weights, concatenated: conv (C_in, K, K, C_out), pool (1,), dense (n_pre, n_post)
    kernels: NDArray[np.float64]
    proj_nonzero_offset: NDArray[np.int64]  # where the projection's non-zero counts start
    #: non-zero weights per tap, concatenated: conv (C_in, K, K) over C_out, pool (1,) its one
    #: weight, dense (n_pre,) over n_post: an input's synaptic operations, tap by tap
    tap_nonzero: NDArray[np.int64]
    beta: NDArray[np.float64]  # per neuron of the global vector (input neurons unused)
    v_thresh: NDArray[np.float64]
    v_bias: NDArray[np.float64]


def _geometry(proj: Projection) -> tuple[list[int], NDArray[np.float64], NDArray[np.int64]]:
    """Kind, shape numbers, the shared weights in the kernel's loop order and the non-zero
    weights per tap (the weights one tap of one input reads: all output channels of a
    convolution tap, the pooling weight, a dense row)."""
    c = proj.connector
    kernel = proj.kernel()
    pre_shape, post_shape = proj.pre.parent.shape, proj.post.parent.shape
    if isinstance(c, Conv2d | Pool2d):
        c_in, h, w = pre_shape
        c_out, h_out, w_out = post_shape
        if isinstance(c, Conv2d):
            geo = [_CONV, c_in, h, w, c_out, h_out, w_out, c.kernel_size, c.stride, c.padding]
            taps = np.ascontiguousarray(kernel.transpose(1, 2, 3, 0)).reshape(-1, c_out)
        else:
            geo = [_POOL, c_in, h, w, c_out, h_out, w_out, c.kernel_size, c.step, 0]
            taps = kernel.reshape(1, 1)
    elif isinstance(c, Dense):
        n_pre, n_post = proj.pre.parent.size, proj.post.parent.size
        geo = [_DENSE, n_pre, 1, 1, n_post, 1, 1, 1, 1, 0]
        taps = np.ascontiguousarray(kernel.T)
    else:
        raise ValueError(f"projection {proj.label!r}: no event-driven kernel for {c.name}")
    return geo, taps.ravel(), np.count_nonzero(taps, axis=1).astype(np.int64)


def lower(graph: DeepGraph) -> _Lowered:
    """Flatten a deep graph into the arrays the kernel reads (once per network)."""
    pops = graph.network.populations
    sizes = np.array([p.size for p in pops], dtype=np.int64)
    offsets = np.zeros(len(pops), dtype=np.int64)
    np.cumsum(sizes[:-1], out=offsets[1:])
    total = int(sizes.sum())
    beta = np.zeros(total)
    thresh = np.full(total, np.inf)
    bias = np.zeros(total)
    proj_ptr = [0]
    proj_pre, geometry, kernel_offset, kernels = [], [], [], []
    nonzero_offset, tap_nonzero = [], []
    n_weights = n_taps = 0
    for layer in graph.layers:
        q = layer.population.index
        sl = slice(offsets[q], offsets[q] + sizes[q])
        beta[sl], thresh[sl], bias[sl] = layer.beta, layer.v_thresh, layer.v_bias
        for proj in layer.incoming:
            geo, kernel, nonzero = _geometry(proj)
            proj_pre.append(proj.pre.parent.index)
            geometry.append(geo)
            kernel_offset.append(n_weights)
            kernels.append(kernel)
            n_weights += kernel.size
            nonzero_offset.append(n_taps)
            tap_nonzero.append(nonzero)
            n_taps += nonzero.size
        proj_ptr.append(len(proj_pre))
    return _Lowered(
        pop_offset=offsets,
        pop_size=sizes,
        layer_pop=np.array([layer.population.index for layer in graph.layers], dtype=np.int64),
        layer_spiking=np.array([layer.spiking for layer in graph.layers], dtype=np.bool_),
        layer_subtract=np.array([layer.reset_subtract for layer in graph.layers], dtype=np.bool_),
        layer_channels_last=np.array(
            [
                len(layer.shape) == 3
                and all(isinstance(p.connector, Conv2d) for p in layer.incoming)
                for layer in graph.layers
            ],
            dtype=np.bool_,
        ),
        layer_channels=np.array(
            [layer.shape[0] if len(layer.shape) == 3 else 1 for layer in graph.layers],
            dtype=np.int64,
        ),
        layer_proj_ptr=np.array(proj_ptr, dtype=np.int64),
        proj_pre=np.array(proj_pre, dtype=np.int64),
        proj_geometry=np.array(geometry, dtype=np.int64).reshape(-1, 10),
        proj_kernel_offset=np.array(kernel_offset, dtype=np.int64),
        kernels=np.concatenate(kernels) if kernels else np.zeros(0),
        proj_nonzero_offset=np.array(nonzero_offset, dtype=np.int64),
        tap_nonzero=(np.concatenate(tap_nonzero) if tap_nonzero else np.zeros(0, dtype=np.int64)),
        beta=beta,
        v_thresh=thresh,
        v_bias=bias,
    )


@numba.njit(cache=True, nogil=True)
def _scatter(
    prev: NDArray[np.float64],
    pre_off: int,
    n_pre: int,
    geo: NDArray[np.int64],
    kernels: NDArray[np.float64],
    k_off: int,
    tap_nonzero: NDArray[np.int64],
    nz_off: int,
    part: NDArray[np.float64],
    channels_last: bool,
    read_stamp: NDArray[np.int64],
    stamp: int,
) -> tuple[int, int, int, int, int]:
    """Add the weighted outputs of the active pre neurons (in increasing order) to ``part``.
    Each target receives at most one term per pre neuron, so every target's sum runs over its
    pre neurons in increasing order, as the reference's.

    Returns the synapses used, their synapses of non-zero weight driven by inputs of
    ``|y| = 1`` and by other inputs, the number of those other inputs, and the crossbar reads:
    the output positions reached (convolution; ``read_stamp[position] == stamp`` marks the
    positions already read in this call), else 1 if any input is active.
    """
    kind = geo[0]
    h, w = geo[2], geo[3]
    c_out, h_out, w_out = geo[4], geo[5], geo[6]
    k, stride, pad = geo[7], geo[8], geo[9]
    count = binary_ops = graded_ops = graded_inputs = active = reads = 0
    for j in range(n_pre):
        y = prev[pre_off + j]
        if y == 0.0:
            continue
        active += 1
        ops = 0
        if kind == 2:  # dense: kernel stored (n_pre, n_post)
            base = k_off + j * c_out
            for i in range(c_out):
                part[i] += kernels[base + i] * y
            count += c_out
            ops = tap_nonzero[nz_off + j]
        else:
            c = j // (h * w)
            rem = j - c * h * w
            iy = rem // w
            ix = rem - iy * w
            for ky in range(k):
                ty = iy + pad - ky
                if ty < 0 or ty % stride != 0:
                    continue
                oy = ty // stride
                if oy >= h_out:
                    continue
                for kx in range(k):
                    tx = ix + pad - kx
                    if tx < 0 or tx % stride != 0:
                        continue
                    ox = tx // stride
                    if ox >= w_out:
                        continue
                    if kind == 1:  # depthwise pooling, one shared weight
                        part[(c * h_out + oy) * w_out + ox] += kernels[k_off] * y
                        count += 1
                        ops += tap_nonzero[nz_off]
                        continue
                    tap = (c * k + ky) * k + kx
                    base = k_off + tap * c_out
                    target = oy * w_out + ox
                    if channels_last:  # contiguous over output channels: vectorises
                        first = target * c_out
                        for co in range(c_out):
                            part[first + co] += kernels[base + co] * y
                    else:
                        plane = h_out * w_out
                        for co in range(c_out):
                            part[co * plane + target] += kernels[base + co] * y
                    count += c_out
                    ops += tap_nonzero[nz_off + tap]
                    if read_stamp[target] != stamp:
                        read_stamp[target] = stamp
                        reads += 1
        if y == 1.0 or y == -1.0:
            binary_ops += ops
        else:
            graded_ops += ops
            graded_inputs += 1
    if kind != 0 and active > 0:
        reads = 1
    return count, binary_ops, graded_ops, graded_inputs, reads


@numba.njit(cache=True, nogil=True)
def _run_kernel(
    frames: NDArray[np.float64],
    n_steps: int,
    input_pop: int,
    pop_offset: NDArray[np.int64],
    pop_size: NDArray[np.int64],
    layer_pop: NDArray[np.int64],
    layer_spiking: NDArray[np.bool_],
    layer_subtract: NDArray[np.bool_],
    layer_channels_last: NDArray[np.bool_],
    layer_channels: NDArray[np.int64],
    layer_proj_ptr: NDArray[np.int64],
    proj_pre: NDArray[np.int64],
    proj_geometry: NDArray[np.int64],
    proj_kernel_offset: NDArray[np.int64],
    kernels: NDArray[np.float64],
    proj_nonzero_offset: NDArray[np.int64],
    tap_nonzero: NDArray[np.int64],
    beta: NDArray[np.float64],
    v_thresh: NDArray[np.float64],
    v_bias: NDArray[np.float64],
    readout_pop: int,
    spikes_out: NDArray[np.bool_],
    readout_v: NDArray[np.float64],
    events: NDArray[np.int64],
    changes: NDArray[np.int64],
    spike_counts: NDArray[np.int64],
    binary_ops: NDArray[np.int64],
    graded_ops: NDArray[np.int64],
    graded_inputs: NDArray[np.int64],
    reads: NDArray[np.int64],
) -> None:
    """Run ``n_steps`` steps; fills the rasters and the counters (by layer: ``changes``,
    ``spike_counts``; by projection: ``events``, ``reads``; by arrival step and projection:
    ``binary_ops``, ``graded_ops``, ``graded_inputs``)."""
    total = pop_offset[-1] + pop_size[-1]
    prev = np.zeros(total)
    cur = np.zeros(total)
    v = np.zeros(total)
    max_size = 0
    for q in range(pop_size.size):
        max_size = max(max_size, pop_size[q])
    drive = np.zeros(max_size)
    part = np.zeros(max_size)
    read_stamp = np.zeros(max_size, dtype=np.int64)  # stamp of a (step, projection)'s reads
    n_proj = proj_pre.size
    in_off = pop_offset[input_pop]
    n_in = pop_size[input_pop]
    n_frames = frames.shape[0]
    r_off = pop_offset[readout_pop]
    for m in range(n_steps):
        for i in range(n_in):
            cur[in_off + i] = frames[m, i] if m < n_frames else 0.0
        for li in range(layer_pop.size):
            q = layer_pop[li]
            off = pop_offset[q]
            n = pop_size[q]
            for i in range(n):
                drive[i] = 0.0
            single = layer_proj_ptr[li + 1] - layer_proj_ptr[li] == 1
            for pj in range(layer_proj_ptr[li], layer_proj_ptr[li + 1]):
                # one projection: its sum is the drive (0 + x == x); several: sum each apart
                target = drive if single else part
                if not single:
                    for i in range(n):
                        part[i] = 0.0
                pre = proj_pre[pj]
                used, binary, graded, graded_in, read = _scatter(
                    prev,
                    pop_offset[pre],
                    pop_size[pre],
                    proj_geometry[pj],
                    kernels,
                    proj_kernel_offset[pj],
                    tap_nonzero,
                    proj_nonzero_offset[pj],
                    target,
                    layer_channels_last[li],
                    read_stamp,
                    m * n_proj + pj + 1,
                )
                events[pj] += used
                binary_ops[m, pj] = binary
                graded_ops[m, pj] = graded
                graded_inputs[m, pj] = graded_in
                reads[pj] += read
                if not single:
                    for i in range(n):
                        drive[i] = drive[i] + part[i]
            spiking = layer_spiking[li]
            subtract = layer_subtract[li]
            n_ch = layer_channels[li] if layer_channels_last[li] else 1
            plane = n // n_ch
            for c in range(n_ch):
                for t in range(plane):
                    i = c * plane + t
                    k = off + i
                    # the drive of neuron (c, y, x) sits at (y, x, c) when channels last
                    vk = (beta[k] * v[k] + drive[t * n_ch + c]) + v_bias[k]
                    if not spiking:
                        cur[k] = vk
                    elif vk > v_thresh[k]:
                        vk = vk - v_thresh[k] if subtract else 0.0
                        cur[k] = 1.0
                        spikes_out[m, k] = True
                        spike_counts[li] += 1
                    else:
                        cur[k] = 0.0
                    if m == 0 or vk != v[k]:
                        changes[li] += 1
                    v[k] = vk
            if q == readout_pop:
                for i in range(n):
                    readout_v[m, i] = v[r_off + i]
        prev, cur = cur, prev  # every entry of cur is rewritten next step


def run_numba(
    graph: DeepGraph,
    frames: NDArray[np.floating],
    n_steps: int | None = None,
    lowered: _Lowered | None = None,
) -> DeepResult:
    """Event-driven run of one sample; ``lowered`` (from :func:`lower`) saves re-flattening."""
    x = graph.check_frames(frames)
    steps = graph.n_steps(x.shape[0]) if n_steps is None else _check_steps(n_steps)
    low = lower(graph) if lowered is None else lowered
    total = int(low.pop_offset[-1] + low.pop_size[-1])
    spikes = np.zeros((steps, total), dtype=np.bool_)
    readout_v = np.zeros((steps, graph.readout.size))
    n_proj, n_layers = low.proj_pre.size, low.layer_pop.size
    events = np.zeros(n_proj, dtype=np.int64)
    changes = np.zeros(n_layers, dtype=np.int64)
    spike_counts = np.zeros(n_layers, dtype=np.int64)
    binary_ops = np.zeros((steps, n_proj), dtype=np.int64)
    graded_ops = np.zeros((steps, n_proj), dtype=np.int64)
    graded_inputs = np.zeros((steps, n_proj), dtype=np.int64)
    reads = np.zeros(n_proj, dtype=np.int64)
    _run_kernel(
        x,
        steps,
        graph.input.index,
        low.pop_offset,
        low.pop_size,
        low.layer_pop,
        low.layer_spiking,
        low.layer_subtract,
        low.layer_channels_last,
        low.layer_channels,
        low.layer_proj_ptr,
        low.proj_pre,
        low.proj_geometry,
        low.proj_kernel_offset,
        low.kernels,
        low.proj_nonzero_offset,
        low.tap_nonzero,
        low.beta,
        low.v_thresh,
        low.v_bias,
        graph.readout.population.index,
        spikes,
        readout_v,
        events,
        changes,
        spike_counts,
        binary_ops,
        graded_ops,
        graded_inputs,
        reads,
    )
    out = {}
    for layer in graph.layers:
        if layer.spiking:
            off = int(low.pop_offset[layer.population.index])
            out[layer.label] = spikes[:, off : off + layer.size].reshape((steps, *layer.shape))
    labels = [proj.label for layer in graph.layers for proj in layer.incoming]
    run_frames = x.copy()  # x may be the caller's array, which may change after the run
    run_frames.setflags(write=False)
    activity = DeepActivity(
        frames=run_frames,
        spikes={
            layer.label: int(n)
            for layer, n in zip(graph.layers, spike_counts, strict=True)
            if layer.spiking
        },
        binary_ops={label: binary_ops[:, j] for j, label in enumerate(labels)},
        graded_ops={label: graded_ops[:, j] for j, label in enumerate(labels)},
        graded_inputs={label: graded_inputs[:, j] for j, label in enumerate(labels)},
        crossbar_reads={label: int(n) for label, n in zip(labels, reads, strict=True)},
    )
    return DeepResult(
        spikes=out,
        readout_v=readout_v,
        synaptic_events={label: int(n) for label, n in zip(labels, events, strict=True)},
        n_steps=steps,
        dt=graph.network.dt,
        membrane_changes={
            layer.label: int(n) for layer, n in zip(graph.layers, changes, strict=True)
        },
        activity=activity,
    )
