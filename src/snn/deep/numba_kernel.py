"""Event-driven Numba inference of deep networks, bit for bit equal to the NumPy reference.

Per step, each projection walks only the presynaptic neurons whose output of the previous step
is non-zero (input pixels with events, neurons that spiked) and adds their weighted output to
their targets along a CSR over pre neurons: the synaptic work is proportional to the activity,
which is what sparse event-camera input and sparse spiking layers save. The order of additions
per target (synapses in (pre, post) order, one projection at a time, then projections in
declaration order) is the reference's, so spikes and membrane potentials agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

from snn.deep.graph import DeepGraph
from snn.deep.reference import DeepResult, _check_steps


@dataclass(frozen=True)
class _Lowered:
    pop_offset: NDArray[np.int64]  # per population: first slot in the global neuron vector
    pop_size: NDArray[np.int64]
    layer_pop: NDArray[np.int64]  # populations updated each step, in order
    layer_spiking: NDArray[np.bool_]
    layer_subtract: NDArray[np.bool_]
    layer_proj_ptr: NDArray[np.int64]  # incoming projections of layer l: proj_ptr[l]:proj_ptr[l+1]
    proj_pre: NDArray[np.int64]
    proj_row_offset: NDArray[np.int64]  # where the projection's CSR row pointers start
    row_ptr: NDArray[np.int64]  # concatenated, absolute synapse positions
    post: NDArray[np.int64]
    weights: NDArray[np.float64]
    beta: NDArray[np.float64]  # per neuron of the global vector (input neurons unused)
    v_thresh: NDArray[np.float64]
    v_bias: NDArray[np.float64]


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
    proj_pre, row_off, rows, posts, weights = [], [], [], [], []
    n_syn = 0
    n_rows = 0
    for layer in graph.layers:
        q = layer.population.index
        sl = slice(offsets[q], offsets[q] + sizes[q])
        beta[sl], thresh[sl], bias[sl] = layer.beta, layer.v_thresh, layer.v_bias
        for proj in layer.incoming:
            pre = proj.pre.parent
            counts = np.bincount(proj.pre_idx, minlength=pre.size)
            rp = np.zeros(pre.size + 1, dtype=np.int64)
            np.cumsum(counts, out=rp[1:])
            proj_pre.append(pre.index)
            row_off.append(n_rows)
            rows.append(rp + n_syn)
            posts.append(np.asarray(proj.post_idx, dtype=np.int64))
            weights.append(np.asarray(proj.weights, dtype=np.float64))
            n_syn += proj.size
            n_rows += pre.size + 1
        proj_ptr.append(len(proj_pre))
    return _Lowered(
        pop_offset=offsets,
        pop_size=sizes,
        layer_pop=np.array([layer.population.index for layer in graph.layers], dtype=np.int64),
        layer_spiking=np.array([layer.spiking for layer in graph.layers], dtype=np.bool_),
        layer_subtract=np.array([layer.reset_subtract for layer in graph.layers], dtype=np.bool_),
        layer_proj_ptr=np.array(proj_ptr, dtype=np.int64),
        proj_pre=np.array(proj_pre, dtype=np.int64),
        proj_row_offset=np.array(row_off, dtype=np.int64),
        row_ptr=np.concatenate(rows),
        post=np.concatenate(posts),
        weights=np.concatenate(weights),
        beta=beta,
        v_thresh=thresh,
        v_bias=bias,
    )


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
    layer_proj_ptr: NDArray[np.int64],
    proj_pre: NDArray[np.int64],
    proj_row_offset: NDArray[np.int64],
    row_ptr: NDArray[np.int64],
    post: NDArray[np.int64],
    weights: NDArray[np.float64],
    beta: NDArray[np.float64],
    v_thresh: NDArray[np.float64],
    v_bias: NDArray[np.float64],
    readout_pop: int,
    spikes_out: NDArray[np.bool_],
    readout_v: NDArray[np.float64],
    events: NDArray[np.int64],
) -> None:
    total = pop_offset[-1] + pop_size[-1]
    prev = np.zeros(total)
    cur = np.zeros(total)
    v = np.zeros(total)
    max_size = 0
    for q in range(pop_size.size):
        max_size = max(max_size, pop_size[q])
    drive = np.zeros(max_size)
    part = np.zeros(max_size)
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
            for pj in range(layer_proj_ptr[li], layer_proj_ptr[li + 1]):
                for i in range(n):
                    part[i] = 0.0
                pre = proj_pre[pj]
                pre_off = pop_offset[pre]
                rp = proj_row_offset[pj]
                count = 0
                for j in range(pop_size[pre]):
                    y = prev[pre_off + j]
                    if y != 0.0:
                        lo = row_ptr[rp + j]
                        hi = row_ptr[rp + j + 1]
                        count += hi - lo
                        for s in range(lo, hi):
                            part[post[s]] += weights[s] * y
                events[pj] += count
                for i in range(n):
                    drive[i] = drive[i] + part[i]
            spiking = layer_spiking[li]
            subtract = layer_subtract[li]
            for i in range(n):
                k = off + i
                vk = (beta[k] * v[k] + drive[i]) + v_bias[k]
                if spiking:
                    if vk > v_thresh[k]:
                        if subtract:
                            vk = vk - v_thresh[k]
                        else:
                            vk = 0.0
                        cur[k] = 1.0
                        spikes_out[m, k] = True
                    else:
                        cur[k] = 0.0
                else:
                    cur[k] = vk
                v[k] = vk
            if q == readout_pop:
                for i in range(n):
                    readout_v[m, i] = v[r_off + i]
        for k in range(total):
            prev[k] = cur[k]


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
    events = np.zeros(low.proj_pre.size, dtype=np.int64)
    _run_kernel(
        x,
        steps,
        graph.input.index,
        low.pop_offset,
        low.pop_size,
        low.layer_pop,
        low.layer_spiking,
        low.layer_subtract,
        low.layer_proj_ptr,
        low.proj_pre,
        low.proj_row_offset,
        low.row_ptr,
        low.post,
        low.weights,
        low.beta,
        low.v_thresh,
        low.v_bias,
        graph.readout.population.index,
        spikes,
        readout_v,
        events,
    )
    out = {}
    for layer in graph.layers:
        if layer.spiking:
            off = int(low.pop_offset[layer.population.index])
            out[layer.label] = spikes[:, off : off + layer.size].reshape((steps, *layer.shape))
    labels = [proj.label for layer in graph.layers for proj in layer.incoming]
    return DeepResult(
        spikes=out,
        readout_v=readout_v,
        synaptic_events={label: int(n) for label, n in zip(labels, events, strict=True)},
        n_steps=steps,
        dt=graph.network.dt,
    )
