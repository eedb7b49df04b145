"""Design-rule checks: what a network must satisfy before it is lowered to a PyNN target.

Each rule is a small named function that looks at a frontend :class:`~snn.network.Network` and
returns :class:`Violation` records (errors stop the deployment, warnings are reported). Every
message says what is wrong and what to change. :func:`check_network` runs all rules of a target
and raises one :class:`DRCError` listing every error.

SpiNNaker facts used here (sPyNNaker 1!7.4.1, read from its source and measured on the virtual
board; numbers in :data:`SPINNAKER_V5`):

* neurons per core: at most 256 (the synaptic row length limit, ``POP_TABLE_MAX_ROW_LENGTH``);
* delays: a post core's synaptic ring buffer holds ``2**(14 - atom_bits - synapse_type_bits)``
  slots (atom_bits for ``min(size, neurons_per_core)`` values, one bit for the two receptors),
  so at least 16 steps are always supported; longer delays need one delay-extension core per
  core of the *pre* population, and a delay extension adds at most 8 more ring lengths;
* weights: each post population and receptor stores weights as unsigned 16-bit integers
  ``round(w * 2**(15 - shift) * global_scale)`` (``global_scale`` = 1 for currents in nA, 1024 for
  conductances in uS), with a ``shift`` chosen from the incoming weights so that the summed input
  of one time step fits an s16.15 accumulator: large fan-in costs precision;
* a SpiNN-5 board (``version = 5``) has 48 chips with 18 cores; one core per chip runs the
  monitor and sPyNNaker places one extra monitor per chip, leaving 16 for applications.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from snn.network import Network, Population, PopulationView, Projection
from snn.neurons import (
    AdaptiveLIF,
    IF_cond_exp,
    IF_curr_exp,
    SpikeSourceArray,
    SpikeSourcePoisson,
)

Severity = Literal["error", "warning"]
Target = Literal["spinnaker", "nest"]
TARGETS: tuple[Target, ...] = ("spinnaker", "nest")


class DRCError(ValueError):
    """A network breaks one or more design rules of a deployment target.

    ``violations`` holds every error found (the message lists them all).
    """

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        lines = [f"[{v.rule}] {v.message}" for v in violations]
        super().__init__(
            f"{len(violations)} design-rule error(s): " + " | ".join(lines)
            if len(lines) > 1
            else lines[0]
        )

    @property
    def rules(self) -> list[str]:
        return [v.rule for v in self.violations]


@dataclass(frozen=True)
class Violation:
    """One broken rule: its name, severity, the object concerned and what to change."""

    rule: str
    severity: Severity
    subject: str
    message: str


@dataclass(frozen=True)
class BoardSpec:
    """Capacity of a SpiNNaker machine (per board)."""

    version: int
    chips: int
    cores_per_chip: int
    application_cores_per_chip: int
    neurons_per_core_max: int = 256
    #: sPyNNaker's default spike-source-Poisson atoms per core
    poisson_per_core: int = 500

    @property
    def application_cores(self) -> int:
        return self.chips * self.application_cores_per_chip


#: SpiNN-5: 48 chips x 18 ARM968 cores; monitor + extra monitor leave 16 application cores
SPINNAKER_V5 = BoardSpec(version=5, chips=48, cores_per_chip=18, application_cores_per_chip=16)

#: ring-buffer index bits in sPyNNaker 1!7.4.1 (``MAX_RING_BUFFER_BITS``)
RING_BUFFER_BITS = 14
#: stages a delay-extension core adds, each one post ring-buffer length (``MAX_SLOTS``)
DELAY_EXTENSION_STAGES = 8
#: the delay every sPyNNaker post core supports without extension (256 neurons, 3-4 receptors)
GUARANTEED_DELAY_STEPS = 16
#: global weight scale: synaptic input of conductance models is kept in uS * 1024
GLOBAL_WEIGHT_SCALE = {"current": 1.0, "conductance": 1024.0}
#: PyNN weight unit per synapse type and the factor from our SI unit
WEIGHT_TO_PYNN = {"current": ("nA", 1e9), "conductance": ("uS", 1e6)}
#: sPyNNaker's planning defaults (spynnaker.cfg [Simulation])
SPIKES_PER_SECOND = 30.0
RING_BUFFER_SIGMA = 5.0
#: relative weight error above which the weight rule warns
WEIGHT_PRECISION_TOLERANCE = 0.01

SUPPORTED_MODELS: dict[Target, tuple[type, ...]] = {
    "spinnaker": (IF_curr_exp, IF_cond_exp, AdaptiveLIF, SpikeSourceArray, SpikeSourcePoisson),
    "nest": (IF_curr_exp, IF_cond_exp, SpikeSourceArray, SpikeSourcePoisson),
}

#: our state variables that each target can record (PyNN names are in snn.hardware.pynn)
RECORDABLE: dict[Target, dict[str, tuple[str, ...]]] = {
    "spinnaker": {
        "IF_curr_exp": ("spikes", "v", "isyn_exc", "isyn_inh"),
        "IF_cond_exp": ("spikes", "v", "gsyn_exc", "gsyn_inh"),
        "AdaptiveLIF": ("spikes", "v", "isyn_exc", "isyn_inh"),
        "SpikeSourceArray": ("spikes",),
        "SpikeSourcePoisson": ("spikes",),
    },
    "nest": {
        "IF_curr_exp": ("spikes", "v"),
        "IF_cond_exp": ("spikes", "v", "gsyn_exc", "gsyn_inh"),
        "SpikeSourceArray": ("spikes",),
        "SpikeSourcePoisson": ("spikes",),
    },
}


# ---------------------------------------------------------------------------------------------
# reports
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WeightQuantization:
    """Fixed-point weights of one projection on SpiNNaker.

    ``shift`` is the ring-buffer left shift of the post population and receptor; a weight ``w``
    (PyNN unit) is stored as ``round(w * scale)``, ``scale = 2**(15 - shift) * global_scale``.
    Errors are relative to each weight, over the projection's non-zero weights.
    """

    projection: str
    receptor: str
    unit: str
    shift: int
    scale: float
    max_weight: float
    max_abs_error: float
    max_rel_error: float
    mean_rel_error: float
    zeroed: int

    def to_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class DelayExtension:
    """A pre population whose delays exceed what its post cores' ring buffers hold."""

    pre: str
    max_delay_steps: int
    ring_steps: int
    cores: int

    def to_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class DRCReport:
    """Result of the design-rule checks of one target."""

    target: Target
    violations: list[Violation] = field(default_factory=list)
    quantization: list[WeightQuantization] = field(default_factory=list)
    delay_extensions: list[DelayExtension] = field(default_factory=list)
    cores_estimate: int = 0

    @property
    def errors(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "error"]

    @property
    def warnings(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "warning"]

    def raise_errors(self) -> None:
        """Raise :class:`DRCError` if any rule failed."""
        if self.errors:
            raise DRCError(self.errors)

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "errors": [v.__dict__ for v in self.errors],
            "warnings": [v.__dict__ for v in self.warnings],
            "quantization": [q.to_dict() for q in self.quantization],
            "delay_extensions": [d.to_dict() for d in self.delay_extensions],
            "cores_estimate": self.cores_estimate,
        }


@dataclass(frozen=True)
class DRCOptions:
    """Settings the rules depend on."""

    target: Target = "spinnaker"
    neurons_per_core: int = 256
    board: BoardSpec = SPINNAKER_V5
    n_boards: int = 1


Rule = Callable[[Network, DRCOptions, DRCReport], None]


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def n_bits(n_values: int) -> int:
    """Bits needed to index ``n_values`` values (1 for one value, as sPyNNaker counts)."""
    if n_values <= 0:
        return 0
    if n_values == 1:
        return 1
    return math.ceil(math.log2(n_values))


def ring_buffer_steps(post_size: int, neurons_per_core: int, n_receptors: int = 2) -> int:
    """Delay slots (steps) of a post core's synaptic ring buffer in sPyNNaker 1!7.4.1."""
    atom_bits = n_bits(min(post_size, neurons_per_core))
    return int(2 ** (RING_BUFFER_BITS - atom_bits - n_bits(n_receptors)))


def cores_for(size: int, per_core: int) -> int:
    return -(-size // per_core)


def synapse_type_of(proj: Projection) -> str:
    kind = proj.post.model.synapse_type
    return "conductance" if kind == "conductance" else "current"


def pynn_weights(proj: Projection) -> NDArray[np.float64]:
    """The projection's weights in PyNN units (nA for current, uS for conductance synapses)."""
    _, factor = WEIGHT_TO_PYNN[synapse_type_of(proj)]
    return np.asarray(proj.weights, dtype=np.float64) * factor


def _label(target: Population | PopulationView | Projection) -> str:
    return target.label


def _add(report: DRCReport, rule: str, severity: Severity, subject: str, message: str) -> None:
    report.violations.append(Violation(rule, severity, subject, message))


# ---------------------------------------------------------------------------------------------
# rules
# ---------------------------------------------------------------------------------------------
def check_neuron_models(net: Network, opts: DRCOptions, report: DRCReport) -> None:
    """Every population's model has a PyNN equivalent on the target."""
    supported = SUPPORTED_MODELS[opts.target]
    names = ", ".join(m.__name__ for m in supported)
    for pop in net.populations:
        model = pop.model
        if not isinstance(model, supported):
            hint = ""
            if isinstance(model, AdaptiveLIF):
                hint = (
                    " (PyNN has no current-based adaptive LIF on NEST; deploy to 'spinnaker', "
                    "where IF_curr_exp_ca2_adaptive is its exact equivalent, or use IF_curr_exp)"
                )
            _add(
                report,
                "unsupported_neuron_model",
                "error",
                pop.label,
                f"population {pop.label!r}: {model.name} cannot be lowered to {opts.target}; "
                f"supported models: {names}{hint}",
            )
            continue
        if isinstance(model, AdaptiveLIF) and np.any(pop.params["delta_theta"] != 0):
            _add(
                report,
                "unsupported_neuron_model",
                "error",
                pop.label,
                f"population {pop.label!r}: AdaptiveLIF with threshold adaptation "
                f"(delta_theta = {float(np.max(pop.params['delta_theta'])):g} V) has no sPyNNaker "
                "equivalent (IF_curr_exp_ca2_adaptive adapts a current only); set "
                "delta_theta=0 and express adaptation with b and tau_w",
            )


def check_plasticity(net: Network, opts: DRCOptions, report: DRCReport) -> None:
    """STDP must map to PyNN's STDPMechanism(SpikePairRule, Additive/Multiplicative).

    sPyNNaker compiles one plasticity rule into each post population's binary, so every plastic
    projection onto a population must carry the same rule.
    """
    if opts.target == "spinnaker":
        rules: dict[int, Projection] = {}
        for proj in net.projections:
            if proj.plasticity is None:
                continue
            first = rules.setdefault(proj.post.parent.index, proj)
            if first.plasticity != proj.plasticity:
                _add(
                    report,
                    "unsupported_plasticity",
                    "error",
                    proj.label,
                    f"projections {first.label!r} and {proj.label!r} bring different STDP rules "
                    f"onto {proj.post.parent.label!r}; sPyNNaker runs one plasticity rule per "
                    "post population: use the same STDP(...) or split the post population",
                )
    for proj in net.projections:
        rule = proj.plasticity
        if rule is None:
            continue
        if rule.weight_dependence == "vogels":
            _add(
                report,
                "unsupported_plasticity",
                "error",
                proj.label,
                f"projection {proj.label!r}: InhibitorySTDP (Vogels et al. 2011) has no PyNN "
                "lowering here yet (sPyNNaker's Vogels2011Rule and NEST's vogels_sprekeler_synapse "
                "are not wired up); simulate it with the numpy, numba, cuda or brian2 backend",
            )
            continue
        if opts.target == "nest":
            if rule.w_min != 0:
                _add(
                    report,
                    "unsupported_plasticity",
                    "error",
                    proj.label,
                    f"projection {proj.label!r}: NEST's stdp_synapse has no lower weight bound "
                    f"(w_min = {rule.w_min:g}); set w_min=0 or deploy to spinnaker",
                )
            if rule.w_max <= 0:
                _add(
                    report,
                    "unsupported_plasticity",
                    "error",
                    proj.label,
                    f"projection {proj.label!r}: NEST's STDP amplitudes are relative to w_max, "
                    f"which must be > 0 (got {rule.w_max:g})",
                )
            if rule.A_plus == 0 and rule.A_minus != 0:
                _add(
                    report,
                    "unsupported_plasticity",
                    "error",
                    proj.label,
                    f"projection {proj.label!r}: PyNN expresses NEST's depression as "
                    "alpha = A_minus / A_plus, undefined with A_plus = 0; give A_plus > 0",
                )
            if proj.receptor == "inhibitory" and synapse_type_of(proj) == "current":
                _add(
                    report,
                    "unsupported_plasticity",
                    "error",
                    proj.label,
                    f"projection {proj.label!r}: PyNN's NEST backend needs negative weights for "
                    "inhibitory current synapses, which stdp_synapse cannot bound by w_max > 0; "
                    "deploy to spinnaker or make the projection static",
                )
            if np.any(proj.delays > 1):
                _add(
                    report,
                    "stdp_delay_semantics",
                    "warning",
                    proj.label,
                    f"projection {proj.label!r}: NEST treats the synaptic delay as dendritic; "
                    "ours is axonal, so STDP pairing lags differ by the delay (use 1-step delays "
                    "for identical pairing)",
                )


def check_timestep(net: Network, opts: DRCOptions, report: DRCReport) -> None:
    """The time step must be a whole number of microseconds (sPyNNaker's and NEST's clocks)."""
    dt_us = net.dt * 1e6
    if abs(dt_us - round(dt_us)) > 1e-6 or round(dt_us) < 1:
        _add(
            report,
            "unsupported_timestep",
            "error",
            "network",
            f"dt = {net.dt:g} s is not a whole number of microseconds; {opts.target} runs on a "
            "microsecond clock: choose dt such as 1e-3 or 0.1e-3 s",
        )
        return
    if opts.target == "spinnaker" and dt_us < 1000:
        _add(
            report,
            "timestep_slower_than_real_time",
            "warning",
            "network",
            f"dt = {dt_us:g} us is below SpiNNaker's real-time 1 ms step; a board runs it with "
            f"time_scale_factor {math.ceil(1000 / round(dt_us))} (that much slower than real time)"
            " unless you pass another time_scale_factor",
        )


def check_neurons_per_core(net: Network, opts: DRCOptions, report: DRCReport) -> None:
    """Neurons per core must lie in 1..256 (sPyNNaker's synaptic row limit)."""
    npc = opts.neurons_per_core
    limit = opts.board.neurons_per_core_max
    if isinstance(npc, bool) or not isinstance(npc, int) or not 1 <= npc <= limit:
        _add(
            report,
            "neurons_per_core",
            "error",
            "network",
            f"neurons_per_core = {npc!r} is outside 1..{limit}; sPyNNaker cannot place more than "
            f"{limit} neurons on one core: choose a value <= {limit}",
        )


def check_delays(net: Network, opts: DRCOptions, report: DRCReport) -> None:
    """Delays longer than a post core's ring buffer need delay-extension cores (and have a cap)."""
    if opts.target != "spinnaker":
        return
    npc = opts.neurons_per_core if 1 <= opts.neurons_per_core <= 256 else 256
    by_pre: dict[int, tuple[int, int]] = {}
    for proj in net.projections:
        if proj.size == 0:
            continue
        longest = int(proj.delays.max())
        ring = ring_buffer_steps(proj.post.parent.size, npc)
        cap = ring * (1 + DELAY_EXTENSION_STAGES)
        if longest > cap:
            _add(
                report,
                "delay_range",
                "error",
                proj.label,
                f"projection {proj.label!r}: delay of {longest} steps ({longest * net.dt:g} s) "
                f"exceeds the {cap} steps a delay extension supports with post "
                f"{proj.post.parent.label!r} ({ring}-step ring buffer); shorten the delays, use "
                "a larger dt, or fewer neurons per core on the post population",
            )
        elif longest > ring:
            pre = proj.pre.parent
            old = by_pre.get(pre.index, (0, ring))
            by_pre[pre.index] = (max(old[0], longest), min(old[1], ring))
    pre_npc = {p.index: _per_core(p, npc, opts.board) for p in net.populations}
    for index, (longest, ring) in by_pre.items():
        pre = net.populations[index]
        cores = cores_for(pre.size, pre_npc[index])
        report.delay_extensions.append(DelayExtension(pre.label, longest, ring, cores))
        _add(
            report,
            "delay_extension",
            "warning",
            pre.label,
            f"delays from {pre.label!r} reach {longest} steps, beyond the {ring}-step ring buffer "
            f"of their post cores: sPyNNaker adds {cores} delay-extension core(s); keep delays "
            f"<= {ring} steps to avoid them",
        )


def _per_core(pop: Population, npc: int, board: BoardSpec) -> int:
    return board.poisson_per_core if isinstance(pop.model, SpikeSourcePoisson) else npc


def estimate_ring_buffer_shift(
    projections: Iterable[Projection],
    dt: float,
    spikes_per_second: float = SPIKES_PER_SECOND,
    sigma: float = RING_BUFFER_SIGMA,
) -> int:
    """The ring-buffer left shift sPyNNaker chooses for one post population and receptor.

    Follows sPyNNaker's rule: the largest input one time step can carry, in PyNN units times the
    global scale, is bounded by the worst case (every synapse of the fullest post neuron at its
    maximum weight, ``max(1, rate dt)`` spikes per pre neuron and step) when all delays of the
    receptor are equal; otherwise by a Poisson estimate (mean plus ``sigma`` standard deviations)
    clipped between the largest single weight and the worst case. The shift is the smallest
    ``s`` with ``2**s`` above that bound.
    """
    steps_per_second = 1.0 / dt
    spikes_per_tick = max(1.0, spikes_per_second / steps_per_second)
    total = biggest = 0.0
    n_items = 0
    mean_sum = var_sum = 0.0
    delays_vary = False
    for proj in projections:
        if proj.size == 0:
            continue
        scale = GLOBAL_WEIGHT_SCALE[synapse_type_of(proj)]
        w = pynn_weights(proj) * scale
        w_max = float(w.max())
        if proj.plasticity is not None:
            _, factor = WEIGHT_TO_PYNN[synapse_type_of(proj)]
            w_max = max(w_max, proj.plasticity.w_max * factor * scale)
        n_conns = int(np.bincount(proj.post_idx).max())
        total += spikes_per_tick * w_max * n_conns
        biggest = max(biggest, w_max)
        delays_vary |= bool(np.var(proj.delays) > 0)
        n_items += n_conns
        mean_sum += float(w.mean()) * n_conns
        var_sum += float(w.var()) * n_conns
    if not delays_vary:
        bound = max(total, biggest)
    else:
        mean = mean_sum / max(n_items, 1)
        lam = n_items * spikes_per_second / steps_per_second
        upper = lam * mean + sigma * math.sqrt(lam * mean**2 + lam * var_sum / max(n_items, 1))
        bound = max(min(upper, total), biggest)
    if bound <= 0:
        return 0
    power = math.ceil(max(0.0, math.log2(bound)))
    return power + 1 if 2**power <= bound else power


def quantize(proj: Projection, shift: int) -> WeightQuantization:
    """Quantisation of ``proj``'s weights with ring-buffer shift ``shift`` (see class doc)."""
    kind = synapse_type_of(proj)
    unit, _ = WEIGHT_TO_PYNN[kind]
    scale = float(2.0 ** (15 - shift)) * GLOBAL_WEIGHT_SCALE[kind]
    w = pynn_weights(proj)
    stored = np.rint(w * scale)
    error = np.abs(stored / scale - w)
    nonzero = w > 0
    rel = error[nonzero] / w[nonzero] if nonzero.any() else np.zeros(0)
    return WeightQuantization(
        projection=proj.label,
        receptor=proj.receptor,
        unit=unit,
        shift=int(shift),
        scale=scale,
        max_weight=float(w.max()) if w.size else 0.0,
        max_abs_error=float(error.max()) if error.size else 0.0,
        max_rel_error=float(rel.max()) if rel.size else 0.0,
        mean_rel_error=float(rel.mean()) if rel.size else 0.0,
        zeroed=int(np.count_nonzero(nonzero & (stored == 0))),
    )


def incoming_by_receptor(net: Network) -> dict[tuple[int, str], list[Projection]]:
    """Projections grouped by (post population index, receptor)."""
    groups: dict[tuple[int, str], list[Projection]] = {}
    for proj in net.projections:
        groups.setdefault((proj.post.parent.index, proj.receptor), []).append(proj)
    return groups


def check_weights(net: Network, opts: DRCOptions, report: DRCReport) -> None:
    """Weights must fit SpiNNaker's 16-bit fixed point; report the error of each projection."""
    if opts.target != "spinnaker":
        return
    for projs in incoming_by_receptor(net).values():
        shift = estimate_ring_buffer_shift(projs, net.dt)
        for proj in projs:
            if proj.size == 0:
                continue
            q = quantize(proj, shift)
            report.quantization.append(q)
            top = q.max_weight * GLOBAL_WEIGHT_SCALE[synapse_type_of(proj)]
            if top >= 2**15:
                _add(
                    report,
                    "weight_range",
                    "error",
                    proj.label,
                    f"projection {proj.label!r}: weights up to {q.max_weight:g} {q.unit} exceed "
                    "the s16.15 range of SpiNNaker's synaptic input; scale the weights down",
                )
            elif shift > 16:
                # each weight fits, but the worst-case input of one step onto this post
                # population and receptor (every incoming synapse at its largest weight) does not
                _add(
                    report,
                    "weight_range",
                    "error",
                    proj.label,
                    f"projection {proj.label!r}: the summed input of one step onto "
                    f"{proj.post.parent.label!r} ({proj.receptor}), every incoming synapse at "
                    f"its largest weight (up to {q.max_weight:g} {q.unit} here), can exceed the "
                    f"s16.15 range of SpiNNaker's synaptic input (ring-buffer shift {shift} > "
                    "16); lower the weights or the fan-in onto that population and receptor",
                )
            elif q.zeroed:
                _add(
                    report,
                    "weight_precision",
                    "error",
                    proj.label,
                    f"projection {proj.label!r}: {q.zeroed} non-zero weight(s) round to 0 in "
                    f"16-bit fixed point (step {1 / q.scale:.3g} {q.unit} with ring-buffer shift "
                    f"{shift}); raise those weights or lower the fan-in / largest weight onto "
                    f"the same post population and receptor",
                )
            elif q.max_rel_error > WEIGHT_PRECISION_TOLERANCE:
                _add(
                    report,
                    "weight_precision",
                    "warning",
                    proj.label,
                    f"projection {proj.label!r}: weights lose up to {q.max_rel_error:.1%} in "
                    f"16-bit fixed point (step {1 / q.scale:.3g} {q.unit}); large fan-in or one "
                    "large weight onto the same post receptor coarsens the step",
                )


def check_recordings(net: Network, opts: DRCOptions, report: DRCReport) -> None:
    """Recorded variables must be recordable through PyNN on the target."""
    table = RECORDABLE[opts.target]
    for rec in net.recorders:
        if isinstance(rec.target, Projection):
            _add(
                report,
                "weight_recording",
                "warning",
                rec.label,
                f"recorder {rec.label!r}: PyNN cannot sample weights during a run on "
                f"{opts.target}; only the final weights come back (one sample at the end)",
            )
            continue
        allowed = table.get(rec.target.model.name, ())
        for var in rec.variables:
            if var not in allowed:
                _add(
                    report,
                    "unsupported_recording",
                    "error",
                    rec.label,
                    f"recorder {rec.label!r}: {rec.target.model.name} cannot record {var!r} on "
                    f"{opts.target}; recordable: {', '.join(allowed) or '-'}",
                )


def check_spike_times(net: Network, opts: DRCOptions, report: DRCReport) -> None:
    """NEST cannot emit a ``SpikeSourceArray`` spike in the first two steps.

    PyNN's NEST backend plays a ``SpikeSourceArray`` through a ``spike_generator`` into a
    ``parrot_neuron`` one ``min_delay`` (= dt, as :func:`snn.hardware.deploy` sets it up) away, so
    the generator fires at ``t - dt``. NEST 3.10 rejects a generator time of 0 (a spike at
    ``t = dt``: error) and silently drops negative ones (a spike at ``t = 0``: warning).
    """
    if opts.target != "nest":
        return
    for pop in net.populations:
        if not isinstance(pop.model, SpikeSourceArray):
            continue
        steps_per_neuron = [
            np.rint(np.asarray(train) / net.dt).astype(np.int64)
            for train in pop.model.trains_for(pop.size)
        ]
        checks: tuple[tuple[int, Severity, str], ...] = (
            (1, "error", "rejects"),
            (0, "warning", "drops"),
        )
        for step, severity, outcome in checks:
            neurons = [k for k, steps in enumerate(steps_per_neuron) if np.any(steps == step)]
            if neurons:
                _add(
                    report,
                    "spike_time_range",
                    severity,
                    pop.label,
                    f"population {pop.label!r}: {len(neurons)} neuron(s) (first: {neurons[0]}) "
                    f"spike at t = {step * net.dt:g} s, which NEST {outcome} (PyNN plays the "
                    "spikes through a spike_generator one dt ahead of a parrot neuron, and "
                    "generator times must be > 0); start the input at 2 dt or later",
                )


def check_board_size(net: Network, opts: DRCOptions, report: DRCReport) -> None:
    """The application cores needed (neurons, sources, delay extensions) must fit the machine."""
    if opts.target != "spinnaker":
        return
    npc = opts.neurons_per_core if 1 <= opts.neurons_per_core <= 256 else 256
    cores = sum(cores_for(p.size, _per_core(p, npc, opts.board)) for p in net.populations)
    cores += sum(d.cores for d in report.delay_extensions)
    report.cores_estimate = cores
    capacity = opts.board.application_cores * opts.n_boards
    if cores > capacity:
        neurons = sum(p.size for p in net.populations if not p.model.is_source)
        _add(
            report,
            "board_size",
            "error",
            "network",
            f"the network needs about {cores} application cores ({neurons:,} neurons at "
            f"{npc} per core) but {opts.n_boards} SpiNN-{opts.board.version} board(s) offer "
            f"{capacity} ({opts.board.chips} chips x {opts.board.application_cores_per_chip}); "
            f"use more boards (spalloc) or fewer neurons",
        )


#: the rules in the order they run (check_board_size needs the delay extensions)
RULES: tuple[Rule, ...] = (
    check_neuron_models,
    check_plasticity,
    check_timestep,
    check_neurons_per_core,
    check_delays,
    check_weights,
    check_recordings,
    check_spike_times,
    check_board_size,
)


def check_network(
    net: Network,
    target: Target = "spinnaker",
    neurons_per_core: int = 256,
    board: BoardSpec = SPINNAKER_V5,
    n_boards: int = 1,
    raise_errors: bool = True,
) -> DRCReport:
    """Run every design rule of ``target`` on ``net``.

    Returns the report (warnings, per-projection weight quantisation, delay extensions, an
    estimate of the application cores); with ``raise_errors`` a failed rule raises
    :class:`DRCError` naming every error.
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; valid choices: {', '.join(TARGETS)}")
    opts = DRCOptions(target, neurons_per_core, board, n_boards)
    report = DRCReport(target)
    # a deep network (DeltaLIF layers on frames) has no PyNN lowering at all: say that alone,
    # rather than also judging its voltage weights by current-synapse ranges
    deep = any(p.model.deep_only for p in net.populations)
    for rule in (check_neuron_models,) if deep else RULES:
        rule(net, opts, report)
    if raise_errors:
        report.raise_errors()
    return report
