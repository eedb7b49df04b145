"""Deep (layered, feed-forward) networks: validation and the shared per-step semantics.

A deep network is an :class:`~snn.network.Network` whose input is one
:class:`~snn.neurons.FrameInput` population, whose other populations are
:class:`~snn.neurons.DeltaLIF` layers and one :class:`~snn.neurons.LeakyIntegrator` readout,
connected feed-forward by :class:`~snn.connectors.Conv2d`, :class:`~snn.connectors.Pool2d` and
:class:`~snn.connectors.Dense` projections (declared in topological order: each projection's pre
population is declared before its post population).

Per step ``m`` of a run over input frames ``X`` of shape ``(T, *input.shape)``, with ``y_q[m]``
the output of population ``q`` (frame values for the input, 0/1 spikes for a DeltaLIF layer):

1. ``y_input[m] = X[m]`` for ``m < T``, else 0;
2. for every other population ``q`` in declaration order:
   ``I_q[m] = sum_p W_p y_pre(p)[m - 1]`` over its incoming projections ``p`` in declaration
   order (one step of delay, as every projection of the clock-driven backends; ``y[-1] = 0``);
   each projection's sum runs over its synapses in their stored (pre, post) order;
3. ``v_q[m] = (beta_q v_q[m-1] + I_q[m]) + v_bias_q`` (evaluated in that order); DeltaLIF:
   ``s = v > v_thresh``, then ``v -= v_thresh s`` (reset "subtract") or ``v = 0`` where ``s``
   (reset "zero"); ``y_q[m] = s``; the readout does not spike.

Input frame ``m`` reaches a population ``d`` projections downstream at step ``m + d``: a run over
``T`` frames lasts ``T + latency`` steps by default (``latency`` = the readout's depth), and the
network's output (logits) is the readout's membrane potential averaged over all the run's steps.
The NumPy reference (:mod:`snn.deep.reference`), the event-driven Numba kernel
(:mod:`snn.deep.numba_kernel`) and the torch lowering (:mod:`snn.deep.torch_lowering`) implement
exactly this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from snn.connectors import StructuredConnector
from snn.network import Network, Population, Projection
from snn.neurons import DeltaLIF, FrameInput, LeakyIntegrator


@dataclass(frozen=True)
class Layer:
    """One non-input population of a deep network with its lowered constants."""

    population: Population
    incoming: tuple[Projection, ...]
    depth: int
    beta: NDArray[np.float64]
    v_thresh: NDArray[np.float64]
    v_bias: NDArray[np.float64]
    spiking: bool
    reset_subtract: bool

    @property
    def label(self) -> str:
        return self.population.label

    @property
    def shape(self) -> tuple[int, ...]:
        return self.population.shape

    @property
    def size(self) -> int:
        return self.population.size


@dataclass(frozen=True)
class DeepGraph:
    """A validated deep network: its input, layers in update order and readout."""

    network: Network
    input: Population
    layers: tuple[Layer, ...]
    readout: Layer
    latency: int
    projections: tuple[Projection, ...] = field(repr=False)

    def n_steps(self, n_frames: int) -> int:
        """Default run length for ``n_frames`` input frames: every frame reaches the readout."""
        return int(n_frames) + self.latency

    def check_frames(self, frames: NDArray[np.floating]) -> NDArray[np.float64]:
        """Validate input frames of shape (T, *input.shape) (or (T, n_input)); float64 copy."""
        arr = np.asarray(frames)
        shape = self.input.shape
        if arr.ndim < 2 or (arr.shape[1:] != shape and arr.shape[1:] != (self.input.size,)):
            raise ValueError(
                f"input frames of shape {arr.shape}; expected (T, {', '.join(map(str, shape))}) "
                f"for input population {self.input.label!r}"
            )
        if arr.dtype == np.bool_:
            arr = arr.astype(np.float64)
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
            raise ValueError(f"input frames must be real numbers, got dtype {arr.dtype}")
        out = np.ascontiguousarray(arr.reshape(arr.shape[0], -1), dtype=np.float64)
        if not np.isfinite(out).all():
            raise ValueError("input frames contain NaN or inf")
        return out


def deep_graph(net: Network) -> DeepGraph:
    """Validate ``net`` as a deep network (see the module docstring) and order its layers."""
    if not isinstance(net, Network):
        raise ValueError(f"expected an snn.Network, got {net!r}")
    inputs = [p for p in net.populations if isinstance(p.model, FrameInput)]
    if len(inputs) != 1:
        raise ValueError(
            f"a deep network has exactly one input population (Network.input), found {len(inputs)}"
        )
    source = inputs[0]
    for pop in net.populations:
        if pop is not source and not isinstance(pop.model, DeltaLIF):
            raise ValueError(
                f"population {pop.label!r} is {pop.model.name}; a deep network's layers are "
                "DeltaLIF (spiking) and LeakyIntegrator (readout)"
            )
    incoming: dict[int, list[Projection]] = {p.index: [] for p in net.populations}
    outgoing: dict[int, int] = {p.index: 0 for p in net.populations}
    for proj in net.projections:
        if not isinstance(proj.connector, StructuredConnector):
            raise ValueError(
                f"projection {proj.label!r} uses {proj.connector.name}; deep networks connect "
                "layers with conv2d, pool2d or dense projections"
            )
        pre, post = proj.pre.parent, proj.post.parent
        if pre.index >= post.index:
            raise ValueError(
                f"projection {proj.label!r} goes from {pre.label!r} back to {post.label!r}: deep "
                "networks are feed-forward, declare each layer after the layers feeding it"
            )
        incoming[post.index].append(proj)
        outgoing[pre.index] += 1
    depth = {source.index: 0}
    layers = []
    for pop in net.populations:
        if pop is source:
            continue
        projs = incoming[pop.index]
        if not projs:
            raise ValueError(f"population {pop.label!r} receives no projection")
        depth[pop.index] = 1 + max(depth[p.pre.parent.index] for p in projs)
        model = pop.model
        if not isinstance(model, DeltaLIF):  # for the type checker; checked above
            raise ValueError(f"population {pop.label!r} is not a DeltaLIF")
        consts = model.lower(pop.params, net.dt)
        layers.append(
            Layer(
                population=pop,
                incoming=tuple(projs),
                depth=depth[pop.index],
                beta=consts["beta"],
                v_thresh=consts["v_thresh"],
                v_bias=consts["v_bias"],
                spiking=not isinstance(model, LeakyIntegrator),
                reset_subtract=model.reset == "subtract",
            )
        )
    if outgoing[source.index] == 0:
        raise ValueError(f"the input {source.label!r} feeds no projection")
    ends = [layer for layer in layers if outgoing[layer.population.index] == 0]
    if len(ends) != 1 or ends[0].spiking:
        names = ", ".join(repr(layer.label) for layer in ends) or "none"
        raise ValueError(
            "a deep network ends in exactly one LeakyIntegrator readout (the only population "
            f"without outgoing projections); found: {names}"
        )
    for layer in layers:
        if not layer.spiking and layer is not ends[0]:
            raise ValueError(
                f"LeakyIntegrator {layer.label!r} feeds other layers; only the readout may be "
                "non-spiking"
            )
    return DeepGraph(
        network=net,
        input=source,
        layers=tuple(layers),
        readout=ends[0],
        latency=ends[0].depth,
        projections=tuple(net.projections),
    )
