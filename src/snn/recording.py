"""The result of a run: recorded spikes, state traces and weights, in one format for all backends.

* spikes: for each recorder, parallel arrays ``times`` (s) and ``ids`` (population-local neuron
  index), sorted by (time, id);
* traces: for each recorder and variable, ``values`` of shape (n_samples, n_recorded) sampled at
  the start of steps ``0, k, 2k, ...`` (the first sample is the initial state), with ``times``;
  a plastic projection's ``weights`` are a trace over its synapses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from snn.compiled import CompiledNetwork

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.int64]


@dataclass(frozen=True)
class SpikeTrains:
    """Spikes of the recorded neurons of one population (or view)."""

    population: str
    neurons: IndexArray
    times: FloatArray
    ids: IndexArray

    @property
    def count(self) -> int:
        return int(self.times.size)

    def counts(self) -> IndexArray:
        """Spike count of each recorded neuron, in the order of ``neurons``."""
        order = np.searchsorted(np.sort(self.neurons), self.ids)
        sorted_counts = np.bincount(order, minlength=self.neurons.size)
        return sorted_counts[np.argsort(np.argsort(self.neurons))].astype(np.int64)

    def trains(self) -> dict[int, FloatArray]:
        """Spike times of each recorded neuron."""
        return {int(n): self.times[self.ids == n] for n in self.neurons}


@dataclass(frozen=True)
class Trace:
    """A sampled variable: ``values[k, i]`` at ``times[k]`` for element ``index[i]``."""

    variable: str
    unit: str
    times: FloatArray
    values: FloatArray
    index: IndexArray


@dataclass
class Recording:
    """Everything recorded in one run, keyed by recorder label."""

    dt: float
    duration: float
    backend: str
    seed: int
    spikes: dict[str, SpikeTrains] = field(default_factory=dict)
    traces: dict[str, dict[str, Trace]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def rate(self, label: str) -> float:
        """Mean firing rate (Hz) of the recorded neurons of ``label``."""
        sp = self._spikes(label)
        if self.duration <= 0 or sp.neurons.size == 0:
            return 0.0
        return sp.count / (sp.neurons.size * self.duration)

    def rates(self) -> dict[str, float]:
        return {label: self.rate(label) for label in self.spikes}

    def trace(self, label: str, variable: str) -> Trace:
        try:
            return self.traces[label][variable]
        except KeyError:
            have = [f"{k}.{v}" for k, vs in self.traces.items() for v in vs]
            raise ValueError(
                f"no trace {label}.{variable} in this recording; recorded: {', '.join(have) or '-'}"
            ) from None

    def _spikes(self, label: str) -> SpikeTrains:
        try:
            return self.spikes[label]
        except KeyError:
            raise ValueError(
                f"no spikes recorded under {label!r}; recorded: {', '.join(self.spikes) or '-'}"
            ) from None

    def raster(self, labels: list[str] | None = None, max_neurons: int = 500) -> Figure:
        """A spike raster, one panel per recorder (at most ``max_neurons`` rows each)."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure

        labels = labels or list(self.spikes)
        fig = Figure(figsize=(8, 1.0 + 1.6 * max(1, len(labels))))
        axes = fig.subplots(max(1, len(labels)), 1, sharex=True, squeeze=False)[:, 0]
        for ax, label in zip(axes, labels, strict=False):
            sp = self._spikes(label)
            shown = np.sort(sp.neurons)[:max_neurons]
            keep = np.isin(sp.ids, shown)
            rows = np.searchsorted(shown, sp.ids[keep])
            ax.scatter(sp.times[keep], rows, s=1.0, marker="|", linewidths=0.5, color="k")
            ax.set_ylabel(f"{label}\nneuron")
            ax.set_ylim(-0.5, max(1, shown.size) - 0.5)
            ax.set_title(f"{label}: {self.rate(label):.2f} Hz", fontsize=9, loc="left")
        axes[-1].set_xlabel("time (s)")
        axes[-1].set_xlim(0, self.duration)
        fig.tight_layout()
        return fig


class RecordingCollector:
    """Accumulates samples and spikes during a clock-driven run and builds the Recording."""

    def __init__(self, compiled: CompiledNetwork) -> None:
        self.compiled = compiled
        self._spike_steps: dict[str, list[IndexArray]] = {}
        self._spike_ids: dict[str, list[IndexArray]] = {}
        self._samples: dict[str, dict[str, list[FloatArray]]] = {}
        #: per recorder and variable, the sample steps (ints from add_sample, arrays of blocks)
        self._sample_steps: dict[str, dict[str, list[Any]]] = {}
        self._neuron_mask: dict[str, NDArray[np.bool_]] = {}
        for rec in compiled.recorders:
            if "spikes" in rec.variables:
                self._spike_steps[rec.label] = []
                self._spike_ids[rec.label] = []
                mask = np.zeros(compiled.populations[rec.target].size, dtype=bool)
                mask[rec.neurons] = True
                self._neuron_mask[rec.label] = mask
            state_vars = [v for v in rec.variables if v != "spikes"]
            if state_vars:
                self._samples[rec.label] = {v: [] for v in state_vars}
                self._sample_steps[rec.label] = {v: [] for v in state_vars}

    def add_spikes(self, step: int, population: int, spiked: NDArray[np.bool_]) -> None:
        for rec in self.compiled.recorders:
            if (
                rec.kind == "population"
                and rec.target == population
                and rec.label in self._spike_ids
            ):
                ids = np.flatnonzero(spiked & self._neuron_mask[rec.label])
                if ids.size:
                    self._spike_steps[rec.label].append(np.full(ids.size, step, dtype=np.int64))
                    self._spike_ids[rec.label].append(ids.astype(np.int64))

    def add_spike_block(self, label: str, steps: IndexArray, ids: IndexArray) -> None:
        """Spikes of one recorder, already filtered to its neurons (for compiled backends)."""
        self._spike_steps[label].append(np.asarray(steps, dtype=np.int64))
        self._spike_ids[label].append(np.asarray(ids, dtype=np.int64))

    def add_global_spikes(
        self, steps: IndexArray, gids: IndexArray, population_offsets: IndexArray
    ) -> None:
        """Spikes as (step, global neuron id) pairs of all populations, as the compiled backends
        record them (population ``p``'s neurons start at ``population_offsets[p]``); each
        recorder keeps those of its neurons."""
        for rec in self.compiled.recorders:
            if rec.kind != "population" or rec.label not in self._spike_ids:
                continue
            local = gids - int(population_offsets[rec.target])
            mask = self._neuron_mask[rec.label]
            inside = (local >= 0) & (local < mask.size)
            keep = np.zeros(gids.size, dtype=bool)
            keep[inside] = mask[local[inside]]
            if keep.any():
                self.add_spike_block(rec.label, steps[keep], local[keep])

    def add_sample_block(
        self, label: str, variable: str, steps: IndexArray, values: NDArray[Any]
    ) -> None:
        """Samples of one recorder's variable at ``steps`` (values: one row per step), as the
        compiled backends harvest them per chunk."""
        self._sample_steps[label][variable].append(np.asarray(steps, dtype=np.int64))
        self._samples[label][variable].append(np.asarray(values, dtype=np.float64))

    def wants_sample(self, step: int) -> bool:
        return any(
            step % r.interval_steps == 0
            for r in self.compiled.recorders
            if r.label in self._samples
        )

    def add_sample(
        self,
        step: int,
        states: list[dict[str, NDArray[Any]]],
        weights: Mapping[int, NDArray[Any]],
    ) -> None:
        """Sample every recorder due at ``step`` from population states and plastic weights."""
        for rec in self.compiled.recorders:
            if rec.label not in self._samples or step % rec.interval_steps:
                continue
            for var, store in self._samples[rec.label].items():
                self._sample_steps[rec.label][var].append(step)
                if rec.kind == "projection":
                    store.append(np.array(weights[rec.target], dtype=np.float64))
                else:
                    store.append(np.array(states[rec.target][var][rec.neurons], dtype=np.float64))

    def build(self, duration: float, backend: str, seed: int, **metadata: Any) -> Recording:
        dt = self.compiled.dt
        out = Recording(dt=dt, duration=duration, backend=backend, seed=seed, metadata=metadata)
        for rec in self.compiled.recorders:
            if rec.label in self._spike_ids:
                steps = _concat(self._spike_steps[rec.label])
                ids = _concat(self._spike_ids[rec.label])
                order = np.lexsort((ids, steps))
                out.spikes[rec.label] = SpikeTrains(
                    population=self.compiled.populations[rec.target].label,
                    neurons=rec.neurons.copy(),
                    times=steps[order] * dt,
                    ids=ids[order],
                )
            if rec.label in self._samples:
                traces: dict[str, Trace] = {}
                for var, store in self._samples[rec.label].items():
                    steps_of = self._sample_steps[rec.label][var]
                    times = np.hstack(steps_of).astype(np.float64) * dt if steps_of else np.zeros(0)
                    if rec.kind == "projection":
                        n = self.compiled.projections[rec.target].weights.size
                        index = np.arange(n, dtype=np.int64)
                        unit = _weight_unit(self.compiled, rec.target)
                    else:
                        n = rec.neurons.size
                        index = rec.neurons.copy()
                        model = self.compiled.populations[rec.target].model
                        unit = model.state_variables.get(var, "")
                    values = np.vstack(store) if store else np.zeros((0, n))
                    traces[var] = Trace(var, unit, times, values, index)
                out.traces[rec.label] = traces
        return out


def _weight_unit(compiled: CompiledNetwork, projection: int) -> str:
    post = compiled.populations[compiled.projections[projection].post]
    return "S" if post.model.synapse_type == "conductance" else "A"


def _concat(parts: list[IndexArray]) -> IndexArray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
