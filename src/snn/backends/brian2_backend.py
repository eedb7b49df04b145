r"""Brian2 backend: a compiled network rebuilt as Brian2 objects, an independent cross-check.

Every neuron model is translated from its documented equations (not from our propagators), with
per-neuron parameters as Brian2 ``NeuronGroup`` variables in SI units, and integrated by Brian2's
own methods: ``exact`` (the linear system solved symbolically by sympy) for ``IF_curr_exp`` and
``AdaptiveLIF``, ``exponential_euler`` for ``IF_cond_exp``. Spike sources become
``SpikeGeneratorGroup``\ s fed with exactly the spikes of the reference (Poisson draws come from
:func:`snn.network.run_generator`, the reference's stream). Synapses are created one by one from
the compiled projection (``S.connect(i=pre_idx, j=post_idx)``) with per-synapse weights and delays,
and the initial state is the compiled one. Everything lives in one explicit ``brian2.Network`` on
one ``Clock``; the numpy code-generation target is set only while this backend builds and runs.

Mapping of our schedule onto Brian2's default one (``start, groups, thresholds, synapses,
resets, end``); our step ``m`` is Brian2's time step ``m`` (``t = m dt``):

=========================================  ==================================================
our step ``m``                              Brian2
=========================================  ==================================================
sample state at the start of the step       ``StateMonitor`` at ``start`` (membrane, adaptation,
                                            weights); synaptic variables at ``after_groups`` of
                                            step ``m - 1`` (before the arrivals of step ``m``)
static arrivals of spikes from ``m - d``    pre pathway at ``synapses`` of step ``m - 1``, with
                                            delay ``(d - 1) dt``
plastic arrivals (depress, deliver, bump)   pre pathway moved to ``before_groups``: it pushes the
                                            spikes of step ``m - 1`` with delay ``(d - 1) dt``,
                                            so the event runs at ``t = m dt`` (the arrival step)
integration, ``(unless refractory)`` on v   ``groups`` (refractory ``timestep(t - lastspike) <
                                            R``, ``R = round(tau_refrac / dt)``)
threshold, spike time ``m dt``              ``thresholds``
post events (potentiate, bump)              post pathway at ``synapses`` of step ``m``
reset                                       ``resets``
=========================================  ==================================================

STDP uses event-driven traces per synapse, ``d apre/dt = -apre / tau_plus`` and
``d apost/dt = -apost / tau_minus`` (``apost`` equals the reference's per-neuron post trace)::

    on_pre:  w = clip(w - A_minus f_-(w) apost, w_min, w_max); I_post += w; apre += 1
    on_post: w = clip(w + A_plus f_+(w) apre, w_min, w_max); apost += 1

with ``f = 1`` (additive) or ``f_- = w - w_min``, ``f_+ = w_max - w`` (multiplicative).

A parameter with one value on every neuron of a population is declared ``(constant, shared)``,
so that Brian2 hoists the expressions depending only on it out of the neuron loop (as in its
``examples/CUBA.py``); heterogeneous parameters are per-neuron variables. Results agree with the
reference in every spike; state and weights differ in the last bits (Brian2's closed forms and
order of additions differ from ours).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import brian2 as b2
import numpy as np
from numpy.typing import NDArray

from snn.compiled import EXCITATORY, CompiledNetwork, CompiledPopulation, CompiledProjection
from snn.network import run_generator
from snn.recording import Recording, RecordingCollector, Trace

#: our SI unit symbols -> Brian2 unit names (used in equation strings and for Quantities)
SI_TO_BRIAN2 = {"s": "second", "F": "farad", "V": "volt", "A": "amp", "S": "siemens", "Hz": "hertz"}

#: code-generation targets this runtime backend accepts
CODEGEN_TARGETS = ("numpy", "cython")

#: Brian2 reserves ``cm`` (centimetre); our parameter names that need another name there
_RENAMED = {"cm": "c_m"}


@dataclass(frozen=True)
class NeuronTranslation:
    """How one of our neuron models is written in Brian2.

    ``equations`` hold the differential equations only (parameter declarations are added from
    the model's ``parameters`` table with their units); ``arrival_variables`` are the variables
    that the excitatory and inhibitory receptors jump.
    """

    equations: str
    method: str
    threshold: str
    reset: str
    arrival_variables: tuple[str, str]
    #: parameters that must differ from ``tau_m`` for Brian2's symbolic solution to be regular
    distinct_from_tau_m: tuple[str, ...] = ()


#: translation table: neuron model name -> Brian2 form of its documented equations
NEURON_TRANSLATIONS: dict[str, NeuronTranslation] = {
    # tau_m dv/dt = (v_rest - v) + R (I_E - I_I + i_offset),  R = tau_m / c_m
    "IF_curr_exp": NeuronTranslation(
        equations="""
        dv/dt = ((v_rest - v) / tau_m
                 + (isyn_exc - isyn_inh + i_offset) / c_m) : volt (unless refractory)
        disyn_exc/dt = -isyn_exc / tau_syn_E : amp
        disyn_inh/dt = -isyn_inh / tau_syn_I : amp
        """,
        method="exact",
        threshold="v > v_thresh",
        reset="v = v_reset",
        arrival_variables=("isyn_exc", "isyn_inh"),
        distinct_from_tau_m=("tau_syn_E", "tau_syn_I"),
    ),
    # c_m dv/dt = g_L (v_rest - v) + g_E (e_E - v) + g_I (e_I - v) + i_offset,  g_L = c_m / tau_m
    "IF_cond_exp": NeuronTranslation(
        equations="""
        dv/dt = ((c_m / tau_m) * (v_rest - v) + gsyn_exc * (e_rev_E - v)
                 + gsyn_inh * (e_rev_I - v) + i_offset) / c_m : volt (unless refractory)
        dgsyn_exc/dt = -gsyn_exc / tau_syn_E : siemens
        dgsyn_inh/dt = -gsyn_inh / tau_syn_I : siemens
        """,
        method="exponential_euler",
        threshold="v > v_thresh",
        reset="v = v_reset",
        arrival_variables=("gsyn_exc", "gsyn_inh"),
    ),
    # IF_curr_exp with an adaptation current w and an adaptive threshold theta
    "AdaptiveLIF": NeuronTranslation(
        equations="""
        dv/dt = ((v_rest - v) / tau_m
                 + (isyn_exc - isyn_inh + i_offset - w) / c_m) : volt (unless refractory)
        disyn_exc/dt = -isyn_exc / tau_syn_E : amp
        disyn_inh/dt = -isyn_inh / tau_syn_I : amp
        dw/dt = -w / tau_w : amp
        dtheta/dt = -theta / tau_theta : volt
        """,
        method="exact",
        threshold="v > v_thresh + theta",
        reset="v = v_reset; w += b; theta += delta_theta",
        arrival_variables=("isyn_exc", "isyn_inh"),
        distinct_from_tau_m=("tau_syn_E", "tau_syn_I", "tau_w"),
    ),
}

#: spike-source models, fed to a SpikeGeneratorGroup with the reference's spikes
SOURCE_MODELS = ("SpikeSourceArray", "SpikeSourcePoisson")


def _brian2_name(name: str) -> str:
    return _RENAMED.get(name, name)


def _quantity(values: NDArray[Any], si_unit: str) -> Any:
    """``values`` (SI floats) as a Brian2 Quantity of the unit named by ``si_unit``."""
    if si_unit in ("", "1"):
        return np.asarray(values, dtype=np.float64)
    unit = getattr(b2, SI_TO_BRIAN2[si_unit])
    return np.asarray(values, dtype=np.float64) * unit


@contextlib.contextmanager
def using_codegen_target(target: str) -> Iterator[None]:
    """Set ``brian2.prefs.codegen.target`` for the duration of a block, then restore it."""
    if target not in CODEGEN_TARGETS:
        raise ValueError(
            f"brian2 backend: unknown codegen_target {target!r}; valid choices: "
            f"{', '.join(CODEGEN_TARGETS)}"
        )
    old = b2.prefs.codegen.target
    b2.prefs.codegen.target = target
    try:
        yield
    finally:
        b2.prefs.codegen.target = old


def _is_runtime_device() -> bool:
    from brian2.devices.device import RuntimeDevice

    return isinstance(b2.get_device(), RuntimeDevice)


class Brian2Model:
    """The Brian2 objects of a compiled network: groups, synapses and monitors on one clock.

    Usable with the runtime device (:class:`Brian2Simulator`) and with ``cpp_standalone`` (the
    benchmark); spike sources must then be fed with :meth:`feed_sources` before each run.
    ``record`` adds the monitors that the network's recorders need.
    """

    def __init__(self, compiled: CompiledNetwork, clock: Any, record: bool = True) -> None:
        self.compiled = compiled
        self.clock = clock
        dt = compiled.dt
        self.groups: list[Any] = [self._population(pop, dt) for pop in compiled.populations]
        self.synapses: list[Any] = [self._projection(proj, dt) for proj in compiled.projections]
        self.spike_monitors: dict[int, Any] = {}
        #: recorder label -> (monitor at 'start', monitor at 'after_groups'), either may be None
        self.state_monitors: dict[str, tuple[Any, Any]] = {}
        #: per Poisson population, its run generator (created at the first feed, then continued)
        self._rngs: dict[int, np.random.Generator] = {}
        if record:
            self._monitors()

    # -- building --------------------------------------------------------------------------
    def _population(self, pop: CompiledPopulation, dt: float) -> Any:
        name = pop.model.name
        if name in SOURCE_MODELS:
            return b2.SpikeGeneratorGroup(
                pop.size,
                np.zeros(0, dtype=np.int64),
                np.zeros(0) * b2.second,
                clock=self.clock,
                name=f"snn_source{pop.index}_*",
            )
        if name not in NEURON_TRANSLATIONS:
            raise ValueError(
                f"brian2 backend: no translation for neuron model {name!r} (population "
                f"{pop.label!r}); valid choices: "
                f"{', '.join(sorted([*NEURON_TRANSLATIONS, *SOURCE_MODELS]))}"
            )
        tr = NEURON_TRANSLATIONS[name]
        if not pop.params:
            raise ValueError(
                f"brian2 backend: population {pop.label!r} carries no realised parameters; "
                "compile the network with snn.compiled.compile_network"
            )
        for key in tr.distinct_from_tau_m:
            same = np.abs(pop.params[key] - pop.params["tau_m"]) <= 1e-9 * pop.params["tau_m"]
            if same.any():
                raise ValueError(
                    f"brian2 backend: population {pop.label!r} neuron {int(np.argmax(same))} has "
                    f"{key} == tau_m; Brian2's exact solution of {name} divides by "
                    f"({key} - tau_m) there. Choose different time constants, or use the numpy "
                    "or numba backend"
                )
        # parameter name -> (values, SI unit); R = round(tau_refrac / dt) steps as in the reference
        values = {
            _brian2_name(key): (pop.params[key], spec.unit)
            for key, spec in pop.model.parameters.items()
            if key != "tau_refrac"
        }
        values["t_ref"] = (pop.consts["refrac_steps"] * dt, "s")
        lines = [line.strip() for line in tr.equations.strip().splitlines()]
        for key, (vals, unit) in values.items():
            # a parameter equal on all neurons is one shared scalar, so that Brian2 hoists
            # the expressions that depend only on it (exp(-dt / tau_m)...) out of the neuron loop
            shared = ", shared" if np.all(vals == vals[0]) else ""
            lines.append(f"{key} : {SI_TO_BRIAN2[unit]} (constant{shared})")
        group = b2.NeuronGroup(
            pop.size,
            "\n".join(lines),
            method=tr.method,
            threshold=tr.threshold,
            reset=tr.reset,
            refractory="t_ref",
            clock=self.clock,
            name=f"snn_population{pop.index}_*",
        )
        for key, (vals, unit) in values.items():
            uniform = np.all(vals == vals[0])
            setattr(group, key, _quantity(vals[:1] if uniform else vals, unit))
        for var, unit in pop.model.state_variables.items():
            setattr(group, var, _quantity(pop.initial[var], unit))
        # never-spiked neurons sit NEVER steps in the past, far beyond any refractory period
        group.lastspike = _quantity(pop.initial["last_spike"] * dt, "s")
        return group

    def _projection(self, proj: CompiledProjection, dt: float) -> Any:
        post_pop = self.compiled.populations[proj.post]
        tr = NEURON_TRANSLATIONS[post_pop.model.name]
        target = tr.arrival_variables[0 if proj.receptor == EXCITATORY else 1]
        unit = "amp" if post_pop.model.synapse_type == "current" else "siemens"
        source, dest = self.groups[proj.pre], self.groups[proj.post]
        name = f"snn_projection{proj.index}_*"
        rule = proj.stdp
        # a spike of step n arrives at step n + d; Brian2 delivers it (d - 1) steps later. Equal
        # delays (or weights, on a static projection) are one scalar, as in Brian2's examples
        delays = _quantity((proj.delays - 1) * dt, "s")
        same_delay = proj.delays.size > 0 and bool(np.all(proj.delays == proj.delays[0]))
        same_weight = proj.weights.size > 0 and bool(np.all(proj.weights == proj.weights[0]))
        if rule is None:
            syn = b2.Synapses(
                source,
                dest,
                model=f"weight : {unit} (constant{', shared' if same_weight else ''})",
                on_pre=f"{target}_post += weight",
                delay=delays[0] if same_delay else None,
                clock=self.clock,
                name=name,
            )
        else:
            weight_unit = getattr(b2, unit)
            amplitude_unit: Any
            if rule.vogels:  # Vogels et al. 2011: potentiation by the post trace, alpha per spike
                depress = "weight = clip(weight + A_minus * (apost - alpha), w_min, w_max)"
                potentiate = "weight = clip(weight + A_plus * apre, w_min, w_max)"
                amplitude_unit = weight_unit
            elif rule.multiplicative:
                depress = "weight = clip(weight - A_minus * (weight - w_min) * apost, w_min, w_max)"
                potentiate = (
                    "weight = clip(weight + A_plus * (w_max - weight) * apre, w_min, w_max)"
                )
                amplitude_unit = 1.0
            else:
                depress = "weight = clip(weight - A_minus * apost, w_min, w_max)"
                potentiate = "weight = clip(weight + A_plus * apre, w_min, w_max)"
                amplitude_unit = weight_unit
            tau_plus, tau_minus = rule.tau_plus, rule.tau_minus
            syn = b2.Synapses(
                source,
                dest,
                model=f"""weight : {unit}
                dapre/dt = -apre / tau_plus : 1 (event-driven)
                dapost/dt = -apost / tau_minus : 1 (event-driven)""",
                on_pre=f"{depress}\n{target}_post += weight\napre += 1",
                on_post=f"{potentiate}\napost += 1",
                namespace={
                    "tau_plus": tau_plus * b2.second,
                    "tau_minus": tau_minus * b2.second,
                    "A_plus": rule.A_plus * amplitude_unit,
                    "A_minus": rule.A_minus * amplitude_unit,
                    "w_min": rule.w_min * weight_unit,
                    "w_max": rule.w_max * weight_unit,
                    "alpha": rule.alpha,
                },
                delay=delays[0] if same_delay else None,
                clock=self.clock,
                name=name,
            )
            same_weight = False
            # the pre event must run at the arrival step, before that step's integration
            syn.pre.when = "before_groups"
        syn.connect(i=proj.pre_idx, j=proj.post_idx)
        if _is_runtime_device() and proj.pre_idx.size:
            if not (
                np.array_equal(np.asarray(syn.i[:]), proj.pre_idx)
                and np.array_equal(np.asarray(syn.j[:]), proj.post_idx)
            ):
                raise RuntimeError(
                    f"brian2 backend: Brian2 reordered the synapses of {proj.label!r}; the "
                    "weights could not be mapped back"
                )
        weights = _quantity(proj.weights, "A" if unit == "amp" else "S")
        syn.weight = weights[:1] if same_weight else weights
        if not same_delay:
            syn.delay = delays
        return syn

    def _monitors(self) -> None:
        c = self.compiled
        spiking = {
            r.target for r in c.recorders if r.kind == "population" and "spikes" in r.variables
        }
        for i in sorted(spiking):
            self.spike_monitors[i] = b2.SpikeMonitor(self.groups[i], name=f"snn_spikes{i}_*")
        for k, rec in enumerate(c.recorders):
            variables = [v for v in rec.variables if v != "spikes"]
            if not variables:
                continue
            if rec.kind == "projection":
                start = b2.StateMonitor(
                    self.synapses[rec.target],
                    "weight",
                    record=True,
                    when="start",
                    clock=self.clock,
                    name=f"snn_weights{k}_*",
                )
                self.state_monitors[rec.label] = (start, None)
                continue
            pop = c.populations[rec.target]
            arrivals = NEURON_TRANSLATIONS[pop.model.name].arrival_variables
            at_start = [v for v in variables if v not in arrivals]
            after = [v for v in variables if v in arrivals]
            record = rec.neurons if rec.neurons.size else False
            group = self.groups[rec.target]
            self.state_monitors[rec.label] = (
                b2.StateMonitor(
                    group,
                    at_start,
                    record=record,
                    when="start",
                    clock=self.clock,
                    name=f"snn_state{k}_*",
                )
                if at_start
                else None,
                b2.StateMonitor(
                    group,
                    after,
                    record=record,
                    when="after_groups",
                    clock=self.clock,
                    name=f"snn_arrivals{k}_*",
                )
                if after
                else None,
            )

    def objects(self) -> list[Any]:
        """Every Brian2 object, to be passed to ``brian2.Network``."""
        monitors = [m for pair in self.state_monitors.values() for m in pair if m is not None]
        return [*self.groups, *self.synapses, *self.spike_monitors.values(), *monitors]

    # -- spike sources ---------------------------------------------------------------------
    def feed_sources(self, start: int, n_steps: int, seed: int) -> None:
        """Give each spike source its spikes of steps ``start .. start + n_steps - 1``."""
        for pop, group in zip(self.compiled.populations, self.groups, strict=True):
            if not pop.is_source:
                continue
            steps, ids = self._source_spikes(pop, start, n_steps, seed)
            group.set_spikes(ids, steps * self.compiled.dt * b2.second, sorted=True)

    def _source_spikes(
        self, pop: CompiledPopulation, start: int, n_steps: int, seed: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        c = pop.consts
        if not pop.is_poisson:
            lo, hi = np.searchsorted(c["spike_steps"], [start, start + n_steps])
            return c["spike_steps"][lo:hi], c["spike_ids"][lo:hi]
        if pop.index not in self._rngs:
            self._rngs[pop.index] = run_generator(seed, pop.index)
        rng = self._rngs[pop.index]
        chunk = max(1, 2**20 // pop.size)
        steps_out, ids_out = [], []
        for s0 in range(start, start + n_steps, chunk):
            k = min(chunk, start + n_steps - s0)
            # k * size draws in one call: the same stream as k calls of rng.random(size)
            uniforms = rng.random((k, pop.size))
            step = np.arange(s0, s0 + k, dtype=np.int64)[:, None]
            active = (c["start_step"] <= step) & (step < c["stop_step"])
            rows, cols = np.nonzero((uniforms < c["p_spike"]) & active)
            steps_out.append(rows.astype(np.int64) + s0)
            ids_out.append(cols.astype(np.int64))
        if not steps_out:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(steps_out), np.concatenate(ids_out)

    # -- results ---------------------------------------------------------------------------
    def spikes(self, population: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """All recorded spikes of a population as (steps, ids)."""
        mon = self.spike_monitors[population]
        steps = np.rint(np.asarray(mon.t_[:]) / self.compiled.dt).astype(np.int64)
        return steps, np.asarray(mon.i[:], dtype=np.int64)


class Brian2Simulator:
    """A compiled network simulated by Brian2's runtime device (see module docstring).

    ``codegen_target``: ``"numpy"`` (default) or ``"cython"``; it is set only while this
    simulator builds and runs, so the global Brian2 preferences are left as they were.
    """

    def __init__(
        self, compiled: CompiledNetwork, seed: int, codegen_target: str = "numpy", **options: Any
    ) -> None:
        if options:
            raise ValueError(
                f"brian2 backend: unknown option(s) {', '.join(options)}; valid: codegen_target"
            )
        if not _is_runtime_device():
            raise RuntimeError(
                f"brian2 backend: Brian2's active device is {type(b2.get_device()).__name__}; "
                "this backend needs the runtime device (call brian2.set_device('runtime'))"
            )
        self.compiled = compiled
        self.seed = seed
        self.codegen_target = codegen_target
        self.step = 0
        with using_codegen_target(codegen_target):
            self.clock = b2.Clock(dt=compiled.dt * b2.second, name="snn_clock*")
            self.model = Brian2Model(compiled, self.clock, record=True)
            self.network = b2.Network(*self.model.objects(), name="snn_network*")

    def run(self, n_steps: int) -> None:
        """Advance by ``n_steps`` steps of ``dt`` (repeated calls continue the simulation)."""
        if n_steps < 0:
            raise ValueError(f"n_steps must be >= 0, got {n_steps}")
        if n_steps == 0:
            return
        with using_codegen_target(self.codegen_target):
            self.model.feed_sources(self.step, n_steps, self.seed)
            self.network.run(n_steps * self.compiled.dt * b2.second, namespace={})
        done = int(self.clock.timestep[:])
        if done != self.step + n_steps:
            raise RuntimeError(
                f"brian2 backend: Brian2 ran to step {done}, expected {self.step + n_steps}"
            )
        self.step = done

    def recording(self, duration: float) -> Recording:
        """The recording so far, in the reference's format (see :mod:`snn.recording`)."""
        c = self.compiled
        collector = RecordingCollector(c)
        for rec in c.recorders:
            if rec.kind == "population" and "spikes" in rec.variables:
                steps, ids = self.model.spikes(rec.target)
                keep = np.isin(ids, rec.neurons)
                collector.add_spike_block(rec.label, steps[keep], ids[keep])
        out = collector.build(duration, "brian2", self.seed, codegen_target=self.codegen_target)
        for rec in c.recorders:
            if rec.label not in self.model.state_monitors:
                continue
            at_start, after = self.model.state_monitors[rec.label]
            sample_steps = np.arange(0, self.step, rec.interval_steps, dtype=np.int64)
            times = sample_steps.astype(np.float64) * c.dt
            traces: dict[str, Trace] = {}
            for var in (v for v in rec.variables if v != "spikes"):
                if rec.kind == "projection":
                    proj = c.projections[rec.target]
                    values = np.asarray(at_start.weight_[:]).T
                    unit = "A" if c.populations[proj.post].model.synapse_type == "current" else "S"
                    index = np.arange(proj.weights.size, dtype=np.int64)
                else:
                    pop = c.populations[rec.target]
                    unit = pop.model.state_variables[var]
                    index = rec.neurons.copy()
                    if rec.neurons.size == 0:
                        values = np.zeros((self.step, 0))
                    elif after is not None and var in after.record_variables:
                        # sample of step m = state after the integration of step m - 1
                        later = np.asarray(getattr(after, var + "_")[:]).T
                        first = pop.initial[var][rec.neurons][None, :]
                        values = np.vstack([first, later])[: self.step]
                    else:
                        values = np.asarray(getattr(at_start, var + "_")[:]).T
                traces[var] = Trace(
                    var, unit, times, np.asarray(values[sample_steps], np.float64), index
                )
            out.traces[rec.label] = traces
        return out
