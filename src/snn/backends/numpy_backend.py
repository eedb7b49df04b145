"""The NumPy reference backend: the ground truth of the shared semantics.

One step ``m`` of the whole network, in this order (the compiled backends follow it exactly,
including the order of floating-point additions):

1. sample recorded state variables and plastic weights (start of step, before arrivals);
2. per population, take this step's arrivals from the ring buffer of static input
   (``ring[m % L, receptor, neuron]``, filled when spikes were emitted);
3. per plastic projection (in declaration order), synapses whose presynaptic spike arrives now
   (``spiked at m - delay``) in synapse order: depress by the post trace, clip, add the weight to
   the arrivals, bump the synapse's pre trace;
4. per population (in declaration order), the neuron model's ``step`` (sources draw uniforms from
   their own generator);
5. per plastic projection, for postsynaptic neurons that spiked: potentiate their incoming
   synapses by the pre traces, clip, bump the post trace;
6. per static projection (in declaration order), spikes of this step are added into the ring
   buffer at ``(m + delay) % L`` in synapse order (sorted by pre, then post);
7. record spikes and remember them in the spike history (for plastic arrivals).

A network with ``semantics="spinnaker"`` runs sPyNNaker's update rules instead (documented with
their sources in :mod:`snn.backends.spinnaker_semantics`); per step ``m``:

1. sample recorded state variables and plastic weights (start of step);
2. per population, take this step's arrivals (summed weights, A) from the ring buffer;
3. per population (in declaration order), the SpiNNaker step (arrival scaling, closed-form
   membrane update or refractory countdown, threshold ``>=``, reset, synaptic decay);
4. per plastic projection, neurons that spiked append ``(m, trace)`` to their post history;
5. per projection (in declaration order), this step's spikes: static synapses add their weight
   at slot ``(m + delay) % L``; plastic synapses are updated lazily and add the updated weight;
   the pre trace of each spiking pre neuron is advanced;
6. record spikes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from snn.backends import spinnaker_semantics as spinn
from snn.backends.precision import precision_dtype
from snn.compiled import CompiledNetwork, CompiledProjection, CompiledSTDP
from snn.network import run_generator
from snn.recording import Recording, RecordingCollector


class NumpySimulator:
    """Clock-driven simulation of a compiled network in NumPy (see module docstring).

    Option ``precision`` (``"float64"``, the default, or ``"float32"``): the float type of state,
    constants, weights and neuron arithmetic (see :mod:`snn.backends.precision`).
    """

    #: the options this backend accepts
    OPTIONS: tuple[str, ...] = ("precision",)

    def __init__(self, compiled: CompiledNetwork, seed: int, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.OPTIONS))
        if unknown:
            raise ValueError(
                f"numpy backend: unknown option(s) {', '.join(unknown)}; "
                f"valid options: {', '.join(self.OPTIONS)}"
            )
        self.precision = options.get("precision", "float64")
        fdt = precision_dtype("numpy", self.precision, compiled.semantics)
        self.compiled = compiled
        self.seed = seed
        self.step = 0
        L = compiled.ring_length

        def cast(values: NDArray[Any]) -> NDArray[Any]:
            """Float arrays in the simulator's precision (copies), others as they are."""
            return values.astype(fdt) if values.dtype.kind == "f" else values.copy()

        self.states: list[dict[str, NDArray[Any]]] = [
            {k: cast(v) for k, v in p.initial.items()} for p in compiled.populations
        ]
        self.consts: list[dict[str, NDArray[Any]]] = [
            {k: cast(v) for k, v in p.consts.items()} for p in compiled.populations
        ]
        self.ring = [np.zeros((L, 2, p.size), fdt) for p in compiled.populations]
        self.history = [np.zeros((L, p.size), dtype=bool) for p in compiled.populations]
        self.rngs = [
            run_generator(seed, p.index) if p.is_poisson else None for p in compiled.populations
        ]
        self.plastic = [p for p in compiled.projections if p.stdp is not None]
        self.static = [p for p in compiled.projections if p.stdp is None]
        self.weights: dict[int, NDArray[np.floating[Any]]] = {
            p.index: p.weights.astype(fdt) for p in self.plastic
        }
        self.static_weights = {p.index: p.weights.astype(fdt) for p in self.static}
        never = np.iinfo(np.int64).min // 4
        self.pre_trace = {p.index: np.zeros(p.weights.size) for p in self.plastic}
        self.pre_last = {p.index: np.full(p.weights.size, never, np.int64) for p in self.plastic}
        self.post_trace = {
            p.index: np.zeros(compiled.populations[p.post].size) for p in self.plastic
        }
        self.post_last = {
            p.index: np.full(compiled.populations[p.post].size, never, np.int64)
            for p in self.plastic
        }
        self.collector = RecordingCollector(compiled)
        self._spinnaker: _SpinnakerSchedule | None = None
        if compiled.semantics == "spinnaker":
            self._spinnaker = _SpinnakerSchedule(compiled, self.rngs, self.collector)

    def run(self, n_steps: int) -> None:
        if self._spinnaker is not None:
            for _ in range(n_steps):
                self._spinnaker.step(self.step)
                self.step += 1
            return
        for _ in range(n_steps):
            self._step()

    def recording(self, duration: float) -> Recording:
        return self.collector.build(duration, "numpy", self.seed)

    def _step(self) -> None:
        c = self.compiled
        m = self.step
        L = c.ring_length
        slot = m % L
        if self.collector.wants_sample(m):
            self.collector.add_sample(m, self.states, self.weights)

        arrivals = []
        for i in range(len(c.populations)):
            arrivals.append(self.ring[i][slot].copy())
            self.ring[i][slot] = 0.0

        for proj in self.plastic:
            if proj.stdp is not None:
                self._plastic_arrivals(proj, proj.stdp, m, arrivals[proj.post])

        spikes: list[NDArray[np.bool_]] = []
        for i, pop in enumerate(c.populations):
            rng = self.rngs[i]
            uniforms = rng.random(pop.size) if rng is not None else None
            state, spiked = pop.model.step(
                self.states[i], self.consts[i], m, arrivals[i][0], arrivals[i][1], uniforms
            )
            self.states[i] = state
            spikes.append(spiked)

        for proj in self.plastic:
            if proj.stdp is not None:
                self._post_events(proj, proj.stdp, m, spikes[proj.post])

        for proj in self.static:
            fired = spikes[proj.pre][proj.pre_idx]
            if fired.any():
                s = np.flatnonzero(fired)
                target = (m + proj.delays[s]) % L
                where = (target, proj.receptor, proj.post_idx[s])
                weights = self.static_weights[proj.index][s]
                np.add.at(self.ring[proj.post], where, weights)  # type: ignore[arg-type]

        for i, spiked in enumerate(spikes):
            self.history[i][slot] = spiked
            if spiked.any():
                self.collector.add_spikes(m, i, spiked)
        self.step = m + 1

    def _plastic_arrivals(
        self,
        proj: CompiledProjection,
        rule: CompiledSTDP,
        m: int,
        arrivals: NDArray[np.floating[Any]],
    ) -> None:
        L = self.compiled.ring_length
        arriving = self.history[proj.pre][(m - proj.delays) % L, proj.pre_idx]
        if not arriving.any():
            return
        s = np.flatnonzero(arriving)
        w = self.weights[proj.index]
        post = proj.post_idx[s]
        lag = np.minimum(m - self.post_last[proj.index][post], rule.decay_minus.size - 1)
        x_post = self.post_trace[proj.index][post] * rule.decay_minus[lag]
        w_s = w[s].astype(np.float64)  # plasticity arithmetic is float64 in either precision
        if rule.vogels:
            w_new = w_s + rule.A_minus * (x_post - rule.alpha)
        elif rule.multiplicative:
            w_new = w_s - rule.A_minus * (w_s - rule.w_min) * x_post
        else:
            w_new = w_s - rule.A_minus * x_post
        w[s] = np.minimum(np.maximum(w_new, rule.w_min), rule.w_max)
        np.add.at(arrivals[proj.receptor], post, w[s])
        lag_pre = np.minimum(m - self.pre_last[proj.index][s], rule.decay_plus.size - 1)
        self.pre_trace[proj.index][s] = (
            self.pre_trace[proj.index][s] * rule.decay_plus[lag_pre] + 1.0
        )
        self.pre_last[proj.index][s] = m

    def _post_events(
        self, proj: CompiledProjection, rule: CompiledSTDP, m: int, spiked: NDArray[np.bool_]
    ) -> None:
        if not spiked.any():
            return
        s = np.flatnonzero(spiked[proj.post_idx])
        if s.size:
            w = self.weights[proj.index]
            lag = np.minimum(m - self.pre_last[proj.index][s], rule.decay_plus.size - 1)
            x_pre = self.pre_trace[proj.index][s] * rule.decay_plus[lag]
            w_s = w[s].astype(np.float64)
            if rule.multiplicative:
                dw = rule.A_plus * (rule.w_max - w_s) * x_pre
            else:
                dw = rule.A_plus * x_pre
            w[s] = np.minimum(np.maximum(w_s + dw, rule.w_min), rule.w_max)
        j = np.flatnonzero(spiked)
        lag_post = np.minimum(m - self.post_last[proj.index][j], rule.decay_minus.size - 1)
        self.post_trace[proj.index][j] = (
            self.post_trace[proj.index][j] * rule.decay_minus[lag_post] + 1.0
        )
        self.post_last[proj.index][j] = m


class _SpinnakerSchedule:
    """The per-step schedule of the SpiNNaker semantics (module docstring, second list)."""

    def __init__(
        self,
        compiled: CompiledNetwork,
        rngs: list[np.random.Generator | None],
        collector: RecordingCollector,
    ) -> None:
        spinn.check_supported(compiled)
        self.compiled = compiled
        self.rngs = rngs
        self.collector = collector
        L = compiled.ring_length
        self.ring = [np.zeros((L, 2, p.size)) for p in compiled.populations]
        self.consts: list[dict[str, NDArray[Any]]] = []
        self.states: list[dict[str, NDArray[Any]]] = []
        for p in compiled.populations:
            if p.is_source:
                self.consts.append(p.consts)
                self.states.append({})
            else:
                self.consts.append(spinn.lower_if_curr_exp(p.params, compiled.dt))
                self.states.append(spinn.if_curr_exp_initial_state(p.initial, p.size))
        self.plastic = [p for p in compiled.projections if p.stdp is not None]
        self.rules = {
            p.index: spinn.SpinnakerSTDP.lower(p.stdp, compiled.dt)
            for p in self.plastic
            if p.stdp is not None
        }
        self.weights: dict[int, NDArray[np.float64]] = {
            p.index: p.weights.copy() for p in self.plastic
        }
        # pre-event history per synaptic row (pre neuron) of each plastic projection: time 0,
        # trace 0 until the first spike, as sPyNNaker initialises it
        self.pre_time = {
            p.index: np.zeros(compiled.populations[p.pre].size, np.int64) for p in self.plastic
        }
        self.pre_trace = {
            p.index: np.zeros(compiled.populations[p.pre].size, np.int64) for p in self.plastic
        }
        self.post_history = {
            p.index: spinn.PostHistory.empty(compiled.populations[p.post].size)
            for p in self.plastic
        }

    def step(self, m: int) -> None:
        c = self.compiled
        L = c.ring_length
        slot = m % L
        if self.collector.wants_sample(m):
            self.collector.add_sample(m, self.states, self.weights)

        spikes: list[NDArray[np.bool_]] = []
        for i, pop in enumerate(c.populations):
            arrivals = self.ring[i][slot].copy()
            self.ring[i][slot] = 0.0
            if pop.is_source:
                rng = self.rngs[i]
                uniforms = rng.random(pop.size) if rng is not None else None
                _, spiked = pop.model.step({}, pop.consts, m, arrivals[0], arrivals[1], uniforms)
            else:
                self.states[i], spiked = spinn.if_curr_exp_step(
                    self.states[i], self.consts[i], arrivals[0], arrivals[1]
                )
            spikes.append(spiked)

        for proj in self.plastic:
            fired_post = np.flatnonzero(spikes[proj.post])
            if fired_post.size:
                rule = self.rules[proj.index]
                self.post_history[proj.index] = spinn.add_post_spikes(
                    self.post_history[proj.index], fired_post, m, rule.lut_minus
                )

        for proj in c.projections:
            fired = spikes[proj.pre][proj.pre_idx]
            if not fired.any():
                continue
            s = np.flatnonzero(fired)
            if proj.stdp is None:
                w = proj.weights[s]
            else:
                w = self._plastic_spikes(proj, s, m, spikes[proj.pre])
            target = (m + proj.delays[s]) % L
            where = (target, proj.receptor, proj.post_idx[s])
            np.add.at(self.ring[proj.post], where, w)  # type: ignore[arg-type]

        for i, spiked in enumerate(spikes):
            if spiked.any():
                self.collector.add_spikes(m, i, spiked)

    def _plastic_spikes(
        self, proj: CompiledProjection, s: NDArray[np.int64], m: int, pre_spiked: NDArray[np.bool_]
    ) -> NDArray[np.float64]:
        rule = self.rules[proj.index]
        pre = proj.pre_idx[s]
        w = self.weights[proj.index]
        w[s] = spinn.stdp_pre_spike_update(
            w[s],
            proj.post_idx[s],
            proj.delays[s],
            m,
            self.pre_time[proj.index][pre],
            self.pre_trace[proj.index][pre],
            self.post_history[proj.index],
            rule,
        )
        # the row's pre trace advances once per spike, after its synapses read the old one
        fired = np.flatnonzero(pre_spiked)
        times, traces = self.pre_time[proj.index], self.pre_trace[proj.index]
        traces[fired] = spinn.add_spike_to_trace(m, times[fired], traces[fired], rule.lut_plus)
        times[fired] = m
        return w[s].copy()
