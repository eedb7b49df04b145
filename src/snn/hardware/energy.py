r"""Energy per inference on a target, from metrics of a real raster or of assumed rates.

Every model is a table of constants with its source and one explicit formula over the counts of
:class:`snn.metrics.NetworkMetrics` (one sample: ``n_steps`` steps of ``dt``). Symbols:
:math:`A` = ACs, :math:`M` = MACs (effective, zero weights skipped), :math:`D` = dense synaptic
operations, :math:`E_{syn}` = synaptic events (zero weights included), :math:`U` = membrane
updates (every non-input neuron at every step), :math:`S` = spikes, :math:`b` = bits per value.

* **digital** (CPU/GPU; Horowitz, ISSCC 2014, 45 nm), event-driven (``cpu-*``: effective
  operations) or dense (``gpu-*``: every synapse at every step is a MAC, :math:`M = D, A = 0`):

  .. math::

     E = M (e_{mul} + e_{add}) + A\, e_{add} + U (e_{mul} + 3 e_{add})
         + \frac{b}{64} e_{mem} \left(M + A + 2U\right)

  (a neuron update: leak multiply, input add, bias add, threshold compare; every synaptic
  operation reads its weight, every update reads and writes the membrane potential, each a
  :math:`b`-bit share of a 64-bit SRAM access).
* **SpiNNaker** (Sharp et al. 2012), real time with one step per ``tick`` (1 ms):

  .. math::

     E = e_{neuron\,ms} U + e_{syn} E_{syn}' + e_{packet} S
         + (P_{chip} n_{chips} + P_{core} n_{cores})\, n_{steps}\, t_{tick}

  with :math:`E_{syn}'` counting an input count ``x`` as ``|x|`` spikes (a SpiNNaker source
  sends spikes) and :math:`S` the spikes of the non-input layers (one multicast packet each;
  input packets come from the host or sources and are not counted). Two sets of constants:
  the default, Sharp et al. 2012's per-neuron and per-PSP energies (no baseline), and
  :meth:`SpiNNakerConstants.spynnaker`, sPyNNaker's own power model (``spinn_machine``'s
  ``VersionSpin1``: idle power per chip, active overhead per core, energy per router packet).
  Cores and chips come from a mapping report (``snn.deploy(...).mapping``) or
  are estimated: :math:`n_{cores} = \sum_p \lceil N_p / \mathrm{neurons\_per\_core} \rceil`,
  :math:`n_{chips} = \lceil n_{cores} / 16 \rceil`.
* **Loihi** (Davies et al., IEEE Micro 2018):

  .. math::

     E = e_{synop} (A + M)' + e_{update} U + (e_{spike} + h\, e_{hop}) S

  (Loihi's spikes are binary: an input count ``x`` is ``|x|`` spike operations; ``h`` tile
  hops per spike, default 0; static power is not modelled).
* **crossbar** (:mod:`snn.hardware.crossbar.energy`): every weight projection on a
  :class:`~snn.hardware.crossbar.mapping.CrossbarLayer` (its substrate's settings, else the
  defaults), read once per crossbar read of :class:`~snn.metrics.ProjectionMetrics` (all-zero
  input vectors skipped):

  .. math::

     E = \sum_{proj} \left[ R\, (E_{DAC} + E_{ADC} + E_{dig})_{1\,read}
         + \frac{\text{active rows}}{n_{in}} E_{dev}(\text{all rows at } V_{read}) \right]
         + U\, e_{neuron} + A_{pool}\, e_{add}

  (device energy scales with the rows driven; an active row is counted at full scale, an
  upper bound for graded inputs; the neurons and pooling are digital, Horowitz 32-bit
  integer).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from snn.connectors import Pool2d
from snn.metrics.core import NetworkMetrics
from snn.network import Network


# ---------------------------------------------------------------------------------------------
# constants with sources
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Horowitz45nm:
    """Energy per operation (J) at 45 nm, 0.9 V: M. Horowitz, "Computing's energy problem (and
    what we can do about it)", ISSCC 2014, the table of operation and memory-access energies.

    8-bit integer multiply + add = 0.23 pJ and 32-bit float multiply + add = 4.6 pJ, as in
    DESIGN.md. SRAM: 64-bit read from an 8 KB / 32 KB / 1 MB array, 10 / 20 / 100 pJ; DRAM:
    1.3-2.6 nJ per 64-bit access (the lower end is used). Not re-read from the primary table in
    this session: the 16-bit float and 32-bit integer entries are from memory of it (unsure).
    """

    int8_add: float = 0.03e-12
    int8_mult: float = 0.2e-12
    int32_add: float = 0.1e-12
    int32_mult: float = 3.1e-12  # unsure: from memory of the table
    fp16_add: float = 0.4e-12  # unsure: from memory of the table
    fp16_mult: float = 1.1e-12  # unsure: from memory of the table
    fp32_add: float = 0.9e-12
    fp32_mult: float = 3.7e-12
    sram_read_64bit_8kb: float = 10e-12
    sram_read_64bit_32kb: float = 20e-12
    sram_read_64bit_1mb: float = 100e-12
    dram_read_64bit: float = 1.3e-9


@dataclass(frozen=True)
class SpiNNakerConstants:
    """T. Sharp, F. Galluppi, A. Rast, S. Furber, "Power-efficient simulation of detailed
    cortical microcircuits on SpiNNaker", J. Neurosci. Methods 210 (2012): "the hardware
    consumes 100 nJ per neuron per millisecond and 43 nJ per postsynaptic potential" (abstract;
    DESIGN.md). Their per-neuron figure is measured on a loaded board and so carries part of
    its baseline power, so the idle powers default to 0 W here; :meth:`spynnaker` gives
    sPyNNaker's own model, with a measured baseline instead. 16 application cores per 18-core
    chip (one monitor, one spare) and 256 neurons per core (sPyNNaker's default) for the
    estimate without a mapping report.
    """

    neuron_update_per_ms: float = 100e-9
    synaptic_event: float = 43e-9
    chip_idle_power: float = 0.0
    core_idle_power: float = 0.0
    #: J per spike sent (one multicast packet); 0 here: Sharp's figures include communication
    spike_packet: float = 0.0
    tick: float = 1e-3
    application_cores_per_chip: int = 16
    neurons_per_core: int = 256

    @classmethod
    def spynnaker(cls) -> SpiNNakerConstants:
        """sPyNNaker's own energy model (``spinn_machine.version.version_spin1.VersionSpin1``,
        the constants its energy report uses; tested equal to the installed package's):

        * 0.35 W per idle chip: a 48-chip board uses 5.23 + 5.17 + 5.52 W plus 0.90 W of SDRAM,
          16.82 W, when idle (Stromatias, Patterson, Furber, "Optimising the overall power usage
          on the SpiNNaker neuromimetic platform", IJCNN 2014);
        * 0.034 W per active core: 31.88 W with all cores idle and 59.38 W with 806 cores active
          on a boxed board (sPyNNaker team's measurement), 27.50 W / 806 cores;
        * 1 nJ per spike packet: 25 pJ per router bit x 40 bits (Painkras et al., "SpiNNaker: a
          1-W 18-core system-on-chip for massively-parallel neural network simulation", IEEE
          JSSC 2013).

        No per-neuron or per-synaptic-event term: in that model the cores' work is their active
        power over the run, so the estimate does not grow with activity except by its packets.
        """
        return cls(
            neuron_update_per_ms=0.0,
            synaptic_event=0.0,
            chip_idle_power=0.35,
            core_idle_power=0.034,
            spike_packet=25e-12 * 40,
        )


@dataclass(frozen=True)
class LoihiConstants:
    """M. Davies et al., "Loihi: a neuromorphic manycore processor with on-chip learning",
    IEEE Micro 38(1), 2018, Table 2 (pre-silicon energy per operation, 14 nm): 23.6 pJ per
    synaptic spike operation (minimum) and 52 pJ per (active) neuron update, as in DESIGN.md;
    1.7 pJ within-tile spike energy and 3.5 pJ per across-tile hop are from memory of the same
    table (unsure; not re-read here). Static (leakage) power is not modelled.
    """

    synaptic_op: float = 23.6e-12
    neuron_update: float = 52e-12
    spike_within_tile: float = 1.7e-12  # unsure: from memory of Table 2
    spike_per_hop: float = 3.5e-12  # unsure: from memory of Table 2


@dataclass(frozen=True)
class EnergyEstimate:
    """Energy of one inference (the sample's run) on a target, with its breakdown.

    ``energy`` (J) for the run of ``duration`` simulated seconds; ``breakdown`` J per component,
    ``by_layer`` J per layer where the model attributes it; ``counts`` the operation counts
    used; ``constants`` the constants (SI units); ``formula`` the formula evaluated.
    """

    target: str
    energy: float
    duration: float
    breakdown: dict[str, float]
    by_layer: dict[str, float]
    counts: dict[str, float]
    constants: dict[str, float]
    formula: str
    notes: tuple[str, ...] = field(default=())

    @property
    def energy_per_second(self) -> float:
        """J per simulated second (W of simulated time)."""
        return self.energy / self.duration if self.duration > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["energy_per_second"] = self.energy_per_second
        out["notes"] = list(self.notes)
        return out


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _check_metrics(metrics: NetworkMetrics, net: Network | None) -> None:
    if not isinstance(metrics, NetworkMetrics):
        raise ValueError(
            f"energy models take snn.metrics.NetworkMetrics (measure / measure_rates), got "
            f"{type(metrics).__name__}"
        )
    if net is not None:
        labels = {p.label for p in net.populations}
        if labels != set(metrics.layers):
            raise ValueError(
                "the metrics were measured on another network: layers "
                f"{sorted(metrics.layers)} vs {sorted(labels)}"
            )


def _input_multiplicity(metrics: NetworkMetrics) -> float:
    """Mean |x| of the non-zero inputs: spikes an input count stands for."""
    if metrics.input_events is None or not metrics.input_nonzero:
        return 1.0
    return float(metrics.input_events) / float(metrics.input_nonzero)


def _is_input_projection(net: Network | None, metrics: NetworkMetrics, label: str) -> bool:
    pre = metrics.projections[label].pre
    layer = metrics.layers.get(pre)
    return bool(layer is not None and layer.source)


def _spike_inputs(
    metrics: NetworkMetrics, net: Network | None, layer: str, count: str, multiplicity: float
) -> float:
    """The ``count`` (a ProjectionMetrics field) summed over the projections into ``layer``, an
    input count ``x`` counting as ``|x|`` spikes (``multiplicity``) on binary-spike hardware."""
    total = 0.0
    for proj in metrics.projections.values():
        if proj.post == layer:
            scale = multiplicity if _is_input_projection(net, metrics, proj.label) else 1.0
            total += float(getattr(proj, count)) * scale
    return total


def _positive(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


# ---------------------------------------------------------------------------------------------
# digital CPU / GPU
# ---------------------------------------------------------------------------------------------
_PRECISIONS = {"fp32": ("fp32_add", "fp32_mult", 32), "int8": ("int8_add", "int8_mult", 8)}
_MEMORIES = {
    "sram8k": "sram_read_64bit_8kb",
    "sram32k": "sram_read_64bit_32kb",
    "sram1m": "sram_read_64bit_1mb",
    "dram": "dram_read_64bit",
}


def digital_energy(
    metrics: NetworkMetrics,
    net: Network | None = None,
    *,
    precision: str = "fp32",
    dense: bool = False,
    memory: str = "sram32k",
    constants: Horowitz45nm | None = None,
) -> EnergyEstimate:
    """CPU (event-driven, ``dense=False``) or GPU (``dense=True``) energy (module docstring)."""
    _check_metrics(metrics, net)
    if precision not in _PRECISIONS:
        raise ValueError(
            f"unknown precision {precision!r}; valid choices: {', '.join(_PRECISIONS)}"
        )
    if memory not in _MEMORIES:
        raise ValueError(f"unknown memory {memory!r}; valid choices: {', '.join(_MEMORIES)}")
    c = Horowitz45nm() if constants is None else constants
    add_name, mult_name, bits = _PRECISIONS[precision]
    e_add, e_mul = getattr(c, add_name), getattr(c, mult_name)
    e_mem = getattr(c, _MEMORIES[memory]) * bits / 64.0
    breakdown = {"mac": 0.0, "ac": 0.0, "neuron_update": 0.0, "memory": 0.0}
    by_layer: dict[str, float] = {}
    total_m = total_a = 0.0
    for layer in metrics.layers.values():
        m, a = (layer.dense, 0.0) if dense else (layer.macs, layer.acs)
        u = layer.membrane_updates
        parts = {
            "mac": m * (e_mul + e_add),
            "ac": a * e_add,
            "neuron_update": u * (e_mul + 3 * e_add),
            "memory": e_mem * (m + a + 2 * u),
        }
        for k, v in parts.items():
            breakdown[k] += v
        by_layer[layer.label] = sum(parts.values())
        total_m += m
        total_a += a
    kind = "gpu" if dense else "cpu"
    return EnergyEstimate(
        target=f"{kind}-{precision}",
        energy=sum(breakdown.values()),
        duration=metrics.duration,
        breakdown=breakdown,
        by_layer=by_layer,
        counts={"macs": total_m, "acs": total_a, "membrane_updates": metrics.membrane_updates},
        constants={
            "e_add": e_add,
            "e_mul": e_mul,
            "e_mem_per_value": e_mem,
            "bits": float(bits),
        },
        formula="M (e_mul + e_add) + A e_add + U (e_mul + 3 e_add) + (b/64) e_mem (M + A + 2U)",
        notes=(
            ("dense: every synapse at every step is a MAC",)
            if dense
            else ("event-driven: effective operations only",)
        ),
    )


# ---------------------------------------------------------------------------------------------
# SpiNNaker
# ---------------------------------------------------------------------------------------------
def estimate_spinnaker_cores(
    net: Network, neurons_per_core: int = 256, cores_per_chip: int = 16
) -> tuple[int, int]:
    """(cores, chips) without a mapping report: ``ceil(N / neurons_per_core)`` cores per
    population (sources included), ``ceil(cores / cores_per_chip)`` chips."""
    for name, value in (("neurons_per_core", neurons_per_core), ("cores_per_chip", cores_per_chip)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    cores = sum(math.ceil(p.size / neurons_per_core) for p in net.populations)
    return cores, math.ceil(cores / cores_per_chip)


def spinnaker_energy(
    metrics: NetworkMetrics,
    net: Network | None = None,
    *,
    mapping: Any = None,
    cores: int | None = None,
    chips: int | None = None,
    constants: SpiNNakerConstants | None = None,
) -> EnergyEstimate:
    """SpiNNaker energy (module docstring). ``mapping``: a
    :class:`~snn.hardware.spinnaker.MappingReport` (its application cores and chips); else
    ``cores``/``chips``, else estimated from ``net``."""
    _check_metrics(metrics, net)
    c = SpiNNakerConstants() if constants is None else constants
    notes: list[str] = []
    if mapping is not None:
        cores = int(mapping.application_cores)
        chips = int(mapping.application_chips)
        notes.append("cores and chips from the mapping report")
    elif cores is None or chips is None:
        if net is None:
            raise ValueError(
                "give a mapping report, cores= and chips=, or the network to estimate them"
            )
        est_cores, est_chips = estimate_spinnaker_cores(
            net, c.neurons_per_core, c.application_cores_per_chip
        )
        cores = est_cores if cores is None else cores
        chips = est_chips if chips is None else chips
        notes.append(f"cores and chips estimated at {c.neurons_per_core} neurons per core")
    n_cores = int(_positive("cores", cores))
    n_chips = int(_positive("chips", chips))
    multiplicity = _input_multiplicity(metrics)
    by_layer: dict[str, float] = {}
    neuron_e = syn_e = 0.0
    events_total = 0.0
    # the per-neuron figure is per ms of real time: one update per tick
    e_update = c.neuron_update_per_ms * (c.tick / 1e-3)
    for layer in metrics.layers.values():
        events = _spike_inputs(metrics, net, layer.label, "synaptic_events", multiplicity)
        e_n = e_update * layer.membrane_updates
        e_s = c.synaptic_event * events
        neuron_e += e_n
        syn_e += e_s
        events_total += events
        by_layer[layer.label] = e_n + e_s
    wall = metrics.n_steps * c.tick
    idle = (c.chip_idle_power * n_chips + c.core_idle_power * n_cores) * wall
    packets = c.spike_packet * metrics.spikes
    breakdown = {
        "neuron_updates": neuron_e,
        "synaptic_events": syn_e,
        "spike_packets": packets,
        "idle": idle,
    }
    if c.chip_idle_power == 0 and c.core_idle_power == 0:
        notes.append(
            "idle power 0 W (Sharp et al. 2012's energies; SpiNNakerConstants.spynnaker() is "
            "sPyNNaker's model with a baseline)"
        )
    return EnergyEstimate(
        target="spinnaker",
        energy=sum(breakdown.values()),
        duration=metrics.duration,
        breakdown=breakdown,
        by_layer=by_layer,
        counts={
            "membrane_updates": metrics.membrane_updates,
            "synaptic_events": events_total,
            "cores": float(n_cores),
            "chips": float(n_chips),
            "wall_time": wall,
        },
        constants={k: float(v) for k, v in asdict(c).items()},
        formula=(
            "e_neuron_ms U + e_syn E_syn' + e_packet S "
            "+ (P_chip n_chips + P_core n_cores) n_steps t_tick"
        ),
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------------------------
# Loihi
# ---------------------------------------------------------------------------------------------
def loihi_energy(
    metrics: NetworkMetrics,
    net: Network | None = None,
    *,
    hops: float = 0.0,
    constants: LoihiConstants | None = None,
) -> EnergyEstimate:
    """Loihi energy (module docstring); ``hops``: mean across-tile hops per spike."""
    _check_metrics(metrics, net)
    c = LoihiConstants() if constants is None else constants
    h = _positive("hops", hops)
    multiplicity = _input_multiplicity(metrics)
    by_layer: dict[str, float] = {}
    e_ops = e_upd = e_spk = 0.0
    ops_total = 0.0
    for layer in metrics.layers.values():
        ops = _spike_inputs(metrics, net, layer.label, "synaptic_operations", multiplicity)
        spikes = 0.0 if layer.source else layer.spikes
        parts = (
            c.synaptic_op * ops,
            c.neuron_update * layer.membrane_updates,
            (c.spike_within_tile + h * c.spike_per_hop) * spikes,
        )
        e_ops += parts[0]
        e_upd += parts[1]
        e_spk += parts[2]
        ops_total += ops
        by_layer[layer.label] = sum(parts)
    breakdown = {"synaptic_ops": e_ops, "neuron_updates": e_upd, "spikes": e_spk}
    return EnergyEstimate(
        target="loihi",
        energy=sum(breakdown.values()),
        duration=metrics.duration,
        breakdown=breakdown,
        by_layer=by_layer,
        counts={
            "synaptic_ops": ops_total,
            "membrane_updates": metrics.membrane_updates,
            "spikes": metrics.spikes,
            "hops": h,
        },
        constants={k: float(v) for k, v in asdict(c).items()},
        formula="e_synop (A + M)' + e_update U + (e_spike + h e_hop) S",
        notes=("static (leakage) power not modelled",),
    )


# ---------------------------------------------------------------------------------------------
# memristor crossbar
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CrossbarReadCost:
    """Energy (J) of one crossbar read of a projection: the fixed part (DAC, ADC, digital
    shift-and-add) and the device energy with every row at full scale."""

    fixed: float
    device_all_rows: float
    rows: int


def crossbar_read_cost(proj: Any, constants: Any = None) -> CrossbarReadCost:
    """Per-read cost of a projection's matrix on a crossbar layer (its substrate's settings,
    else :class:`~snn.hardware.crossbar.mapping.CrossbarLayer` defaults)."""
    from snn.hardware.crossbar.energy import vmm_cost
    from snn.hardware.crossbar.mapping import CrossbarLayer
    from snn.hardware.crossbar.substrate import projection_matrix

    matrix = projection_matrix(proj)
    sub = getattr(proj, "substrate", None)
    if sub is not None and hasattr(sub, "layer"):
        layer = sub.layer(matrix, seed=0)
    else:
        layer = CrossbarLayer(matrix)
    cost = vmm_cost(layer, np.ones((1, matrix.shape[0])), constants)
    return CrossbarReadCost(
        fixed=cost.energy_dac + cost.energy_adc + cost.energy_digital,
        device_all_rows=cost.energy_device,
        rows=int(matrix.shape[0]),
    )


def crossbar_energy(
    metrics: NetworkMetrics,
    net: Network,
    *,
    constants: Any = None,
    neuron_update_energy: float | None = None,
    digital: Horowitz45nm | None = None,
) -> EnergyEstimate:
    """Memristor-crossbar energy (module docstring). ``constants``:
    :class:`~snn.hardware.crossbar.energy.EnergyConstants`; ``neuron_update_energy`` (J)
    defaults to Horowitz's 32-bit integer multiply + 3 adds."""
    _check_metrics(metrics, net)
    if not isinstance(net, Network):
        raise ValueError("crossbar_energy needs the network (its weights go on the crossbars)")
    h = Horowitz45nm() if digital is None else digital
    e_neuron = (
        h.int32_mult + 3 * h.int32_add
        if neuron_update_energy is None
        else _positive("neuron_update_energy", neuron_update_energy)
    )
    by_layer = {label: 0.0 for label in metrics.layers}
    breakdown = {"crossbar_fixed": 0.0, "crossbar_device": 0.0, "neuron_update": 0.0, "pool": 0.0}
    reads_total = 0.0
    for proj in net.projections:
        pm = metrics.projections[proj.label]
        post = pm.post
        if isinstance(proj.connector, Pool2d):
            e = pm.synaptic_events * h.int32_add
            breakdown["pool"] += e
            by_layer[post] += e
            continue
        if not pm.counted or pm.synaptic_events == 0:
            continue
        if not math.isfinite(pm.vmm_reads):
            raise ValueError(
                f"projection {proj.label!r}: crossbar reads unknown (measured without the input "
                "frames); pass frames= to snn.metrics.measure"
            )
        cost = crossbar_read_cost(proj, constants)
        e_fixed = pm.vmm_reads * cost.fixed
        e_dev = pm.active_rows / cost.rows * cost.device_all_rows
        breakdown["crossbar_fixed"] += e_fixed
        breakdown["crossbar_device"] += e_dev
        by_layer[post] += e_fixed + e_dev
        reads_total += pm.vmm_reads
    for layer in metrics.layers.values():
        e = layer.membrane_updates * e_neuron
        breakdown["neuron_update"] += e
        by_layer[layer.label] += e
    return EnergyEstimate(
        target="crossbar",
        energy=sum(breakdown.values()),
        duration=metrics.duration,
        breakdown=breakdown,
        by_layer=by_layer,
        counts={"vmm_reads": reads_total, "membrane_updates": metrics.membrane_updates},
        constants={"neuron_update_energy": e_neuron, "pool_add": h.int32_add},
        formula=(
            "sum_proj [R (E_DAC + E_ADC + E_dig) + rows_active / n_in E_dev(all rows)] "
            "+ U e_neuron + A_pool e_add"
        ),
        notes=("active rows counted at full read voltage (upper bound for graded inputs)",),
    )


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------
EnergyModel = Callable[..., EnergyEstimate]

#: energy models by target name; each takes (metrics, net, **options)
ENERGY_MODELS: dict[str, EnergyModel] = {
    "cpu-fp32": lambda m, n=None, **o: digital_energy(m, n, precision="fp32", **o),
    "cpu-int8": lambda m, n=None, **o: digital_energy(m, n, precision="int8", **o),
    "gpu-fp32": lambda m, n=None, **o: digital_energy(m, n, precision="fp32", dense=True, **o),
    "spinnaker": spinnaker_energy,
    "loihi": loihi_energy,
    "crossbar": crossbar_energy,
}


def estimate_energy(
    metrics: NetworkMetrics, net: Network | None = None, target: str = "loihi", **options: Any
) -> EnergyEstimate:
    """Energy of one inference on ``target`` (a key of :data:`ENERGY_MODELS`)."""
    if target not in ENERGY_MODELS:
        raise ValueError(
            f"unknown energy target {target!r}; valid choices: {', '.join(ENERGY_MODELS)}"
        )
    return ENERGY_MODELS[target](metrics, net, **options)


def estimate_all(
    metrics: NetworkMetrics,
    net: Network,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, EnergyEstimate]:
    """Every target of :data:`ENERGY_MODELS`, with per-target ``options``."""
    opts = options or {}
    unknown = sorted(set(opts) - set(ENERGY_MODELS))
    if unknown:
        raise ValueError(
            f"options for unknown targets {unknown}; targets: {', '.join(ENERGY_MODELS)}"
        )
    return {t: estimate_energy(metrics, net, t, **dict(opts.get(t, {}))) for t in ENERGY_MODELS}


__all__ = [
    "ENERGY_MODELS",
    "CrossbarReadCost",
    "EnergyEstimate",
    "Horowitz45nm",
    "LoihiConstants",
    "SpiNNakerConstants",
    "crossbar_energy",
    "crossbar_read_cost",
    "digital_energy",
    "estimate_all",
    "estimate_energy",
    "estimate_spinnaker_cores",
    "loihi_energy",
    "spinnaker_energy",
]
