"""NumPy reference of the deep-network semantics (:mod:`snn.deep.graph`), one sample at a time.

Each projection's input is summed synapse by synapse with ``np.bincount`` over the stored
synapses in (pre, post) order: an implementation independent of torch's convolutions, and the
order of additions the event-driven Numba kernel reproduces bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from snn.deep.graph import DeepGraph
from snn.recording import Recording, SpikeTrains, Trace


@dataclass(frozen=True)
class DeepActivity:
    """What an event-driven executor counted during a run, for the workload metrics
    (:func:`snn.metrics.measure` uses it instead of rescanning the rasters).

    ``frames``: the run's input, shape ``(T, n_input)`` (read-only); ``spikes[label]``: spikes
    of a spiking layer. Per projection, by label, indexed by arrival step (the step at which
    the pre population's output of the previous step is delivered, ``(n_steps,)``):
    ``binary_ops`` and ``graded_ops`` count the synaptic operations (synapses of non-zero
    weight) driven by inputs with ``|y| = 1`` and by other non-zero inputs, ``graded_inputs``
    the number of those other inputs. ``crossbar_reads[label]``: the projection's crossbar
    reads (:mod:`snn.metrics.core`: one per (arrival step, output position) with any input for
    a convolution, one per arrival step with any input otherwise).
    """

    frames: NDArray[np.float64]
    spikes: dict[str, int]
    binary_ops: dict[str, NDArray[np.int64]]
    graded_ops: dict[str, NDArray[np.int64]]
    graded_inputs: dict[str, NDArray[np.int64]]
    crossbar_reads: dict[str, int]


@dataclass(frozen=True)
class DeepResult:
    """One sample's run: per-layer spikes, the readout trace and the prediction.

    ``spikes[label]`` has shape ``(n_steps, *layer.shape)`` (bool); ``readout_v`` has shape
    ``(n_steps, n_classes)`` (V); ``logits`` is its mean over steps; ``synaptic_events[label]``
    counts, per projection, the synapses that carried a non-zero input (the work an
    event-driven processor does).
    """

    spikes: dict[str, NDArray[np.bool_]]
    readout_v: NDArray[np.float64]
    synaptic_events: dict[str, int]
    n_steps: int
    dt: float
    #: per layer, NeuroBench's membrane updates: every neuron at the first step, then the
    #: neurons whose potential after the step differs from before it
    membrane_changes: dict[str, int] = field(default_factory=dict)
    #: the workload counts of an event-driven executor (the Numba kernel); None: not counted
    activity: DeepActivity | None = None

    @property
    def logits(self) -> NDArray[np.float64]:
        return self.readout_v.mean(axis=0)

    @property
    def prediction(self) -> int:
        return int(np.argmax(self.logits))

    def to_recording(self, backend: str, readout: str = "readout") -> Recording:
        """The run as a :class:`~snn.recording.Recording` (spikes of every layer, the readout's
        ``v`` trace, synaptic events in the metadata), to save or to measure."""
        rec = Recording(
            dt=self.dt,
            duration=self.n_steps * self.dt,
            backend=backend,
            seed=0,
            metadata={"synaptic_events": dict(self.synaptic_events), "deep": True},
        )
        for label, spikes in self.spikes.items():
            flat = spikes.reshape(self.n_steps, -1)
            steps, ids = np.nonzero(flat)
            rec.spikes[label] = SpikeTrains(
                population=label,
                neurons=np.arange(flat.shape[1], dtype=np.int64),
                times=steps.astype(np.float64) * self.dt,
                ids=ids.astype(np.int64),
            )
        n_out = self.readout_v.shape[1]
        rec.traces[readout] = {
            "v": Trace(
                "v",
                "V",
                np.arange(self.n_steps, dtype=np.float64) * self.dt,
                self.readout_v.copy(),
                np.arange(n_out, dtype=np.int64),
            )
        }
        return rec


def run_reference(
    graph: DeepGraph, frames: NDArray[np.floating], n_steps: int | None = None
) -> DeepResult:
    """Run one sample of input ``frames`` (T, *input.shape) through the deep network."""
    x = graph.check_frames(frames)
    steps = graph.n_steps(x.shape[0]) if n_steps is None else _check_steps(n_steps)
    net = graph.network
    prev: dict[int, NDArray[np.float64]] = {p.index: np.zeros(p.size) for p in net.populations}
    v = {layer.population.index: np.zeros(layer.size) for layer in graph.layers}
    spikes = {
        layer.label: np.zeros((steps, layer.size), dtype=bool)
        for layer in graph.layers
        if layer.spiking
    }
    readout_v = np.zeros((steps, graph.readout.size))
    events = {proj.label: 0 for proj in graph.projections}
    changes = {layer.label: 0 for layer in graph.layers}
    zeros = np.zeros(graph.input.size)
    for m in range(steps):
        cur: dict[int, NDArray[np.float64]] = {graph.input.index: x[m] if m < x.shape[0] else zeros}
        for layer in graph.layers:
            q = layer.population.index
            drive = np.zeros(layer.size)
            for proj in layer.incoming:
                y = prev[proj.pre.parent.index][proj.pre_idx]
                events[proj.label] += int(np.count_nonzero(y))
                drive = drive + np.bincount(
                    proj.post_idx, weights=proj.weights * y, minlength=layer.size
                )
            vq = (layer.beta * v[q] + drive) + layer.v_bias
            if layer.spiking:
                s = vq > layer.v_thresh
                if layer.reset_subtract:
                    vq = vq - np.where(s, layer.v_thresh, 0.0)
                else:
                    vq = np.where(s, 0.0, vq)
                spikes[layer.label][m] = s
                cur[q] = s.astype(np.float64)
            else:
                readout_v[m] = vq
                cur[q] = vq
            changes[layer.label] += layer.size if m == 0 else int(np.count_nonzero(vq != v[q]))
            v[q] = vq
        prev = cur
    return DeepResult(
        spikes={
            layer.label: spikes[layer.label].reshape((steps, *layer.shape))
            for layer in graph.layers
            if layer.spiking
        },
        readout_v=readout_v,
        synaptic_events=events,
        n_steps=steps,
        dt=net.dt,
        membrane_changes=changes,
    )


def _check_steps(n_steps: int) -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    return int(n_steps)
