"""Lowering of a frontend network to PyNN, for any PyNN simulator module.

``lower(net, sim, target)`` builds PyNN populations, projections and recordings for an already
set-up simulator module (``pyNN.spiNNaker`` or ``pyNN.nest``); ``collect_recording`` turns what
PyNN recorded back into a :class:`~snn.recording.Recording`.

Units are a table, not scattered arithmetic. Ours are SI; PyNN's are ms, mV, nA, nF and uS::

    ours (SI)                 PyNN                         factor
    tau_m, tau_syn_*, tau_*   s   -> ms                    1e3
    tau_refrac, start, ...    s   -> ms                    1e3
    v_rest, v_reset, v_thresh V   -> mV                    1e3
    e_rev_E, e_rev_I, v       V   -> mV                    1e3
    cm                        F   -> nF                    1e9
    i_offset, b, isyn_*, w    A   -> nA                    1e9
    gsyn_*                    S   -> uS                    1e6
    weight (current)          A   -> nA                    1e9
    weight (conductance)      S   -> uS                    1e6
    delay                     steps -> ms                  dt * 1e3
    rate                      Hz  -> Hz                    1

Connectivity: our projections are realised (every synapse is known), so the faithful lowering is
a ``FromListConnector`` of ``(pre, post, weight, delay)`` rows on the parent populations, which
gives PyNN exactly our synapses (``connectivity="exact"``, the default). ``connectivity="native"``
uses PyNN's own connectors where a projection's weights and delays are uniform:
``OneToOneConnector`` and ``AllToAllConnector`` then give the same synapses (exact);
``FixedProbabilityConnector`` and ``FixedNumberPreConnector`` draw a different network with the
same statistics (sPyNNaker can generate those on the board). ``OneToOneConnector`` on a
``PopulationView`` is lowered to ``FromListConnector`` on sPyNNaker: 1!7.4.1 fails on it (an
operator-precedence bug in ``OneToOneConnector.create_synaptic_block``).

STDP: ``STDPMechanism(SpikePairRule(tau_plus, tau_minus, A_plus, A_minus),
Additive/MultiplicativeWeightDependence(w_min, w_max))``. Our additive amplitudes are in weight
units (A or S); sPyNNaker's additive amplitudes are in weight units too (it writes
``A_plus * global_weight_scale`` next to ``w_max``), so they convert like weights; PyNN's NEST
backend maps ``A_plus`` to ``stdp_synapse``'s ``lambda``, which NEST multiplies by ``Wmax``, so
there they are ``A / w_max``. Multiplicative amplitudes are dimensionless everywhere
(``dw = A_plus (w_max - w)``, ``dw = -A_minus (w - w_min)``) and pass unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from snn.connectors import AllToAll, FixedInDegree, FixedProbability, OneToOne
from snn.hardware.drc import WEIGHT_TO_PYNN, Target, synapse_type_of
from snn.network import Network, Population, PopulationView, Projection
from snn.plasticity import STDP
from snn.recording import Recording, SpikeTrains, Trace

Connectivity = Literal["exact", "native"]
S_TO_MS = 1e3
V_TO_MV = 1e3
F_TO_NF = 1e9
A_TO_NA = 1e9
S_TO_US = 1e6
S_TO_NS = 1e9


@dataclass(frozen=True)
class Translation:
    """One parameter or state variable: our name and SI unit, PyNN's name and unit, the factor."""

    ours: str
    pynn: str
    factor: float
    si_unit: str
    pynn_unit: str


def _t(ours: str, pynn: str, factor: float, si: str, unit: str) -> Translation:
    return Translation(ours, pynn, factor, si, unit)


_LIF = (
    _t("tau_m", "tau_m", S_TO_MS, "s", "ms"),
    _t("cm", "cm", F_TO_NF, "F", "nF"),
    _t("v_rest", "v_rest", V_TO_MV, "V", "mV"),
    _t("v_reset", "v_reset", V_TO_MV, "V", "mV"),
    _t("v_thresh", "v_thresh", V_TO_MV, "V", "mV"),
    _t("tau_refrac", "tau_refrac", S_TO_MS, "s", "ms"),
    _t("tau_syn_E", "tau_syn_E", S_TO_MS, "s", "ms"),
    _t("tau_syn_I", "tau_syn_I", S_TO_MS, "s", "ms"),
    _t("i_offset", "i_offset", A_TO_NA, "A", "nA"),
)
_REVERSAL = (
    _t("e_rev_E", "e_rev_E", V_TO_MV, "V", "mV"),
    _t("e_rev_I", "e_rev_I", V_TO_MV, "V", "mV"),
)
_CURR_STATE = (
    _t("v", "v", V_TO_MV, "V", "mV"),
    _t("isyn_exc", "isyn_exc", A_TO_NA, "A", "nA"),
    _t("isyn_inh", "isyn_inh", A_TO_NA, "A", "nA"),
)


@dataclass(frozen=True)
class CellTranslation:
    """How one of our neuron models becomes a PyNN cell type on one target.

    ``cell_type`` is an attribute path in the simulator module (``"IF_curr_exp"`` or
    ``"extra_models.IFCurrExpCa2Adaptive"``); ``recordables`` maps our recordable variables to
    PyNN's names (with the factor from PyNN's unit back to SI, the inverse of the table's).
    """

    cell_type: str
    parameters: tuple[Translation, ...]
    initial: tuple[Translation, ...]
    recordables: tuple[Translation, ...]


_COMMON_CELLS: dict[str, CellTranslation] = {
    "SpikeSourcePoisson": CellTranslation(
        "SpikeSourcePoisson",
        (
            _t("rate", "rate", 1.0, "Hz", "Hz"),
            _t("start", "start", S_TO_MS, "s", "ms"),
            _t("duration", "duration", S_TO_MS, "s", "ms"),
        ),
        (),
        (),
    ),
    # spike_times are lowered per neuron (s -> ms), not through a parameter table
    "SpikeSourceArray": CellTranslation("SpikeSourceArray", (), (), ()),
}

#: our model name -> PyNN cell type and tables, per target
CELL_TRANSLATIONS: dict[Target, dict[str, CellTranslation]] = {
    "spinnaker": {
        **_COMMON_CELLS,
        "IF_curr_exp": CellTranslation("IF_curr_exp", _LIF, _CURR_STATE, _CURR_STATE),
        "IF_cond_exp": CellTranslation(
            "IF_cond_exp",
            _LIF + _REVERSAL,
            # sPyNNaker names the conductance state isyn_* (uS) and records it as gsyn_*
            (
                _t("v", "v", V_TO_MV, "V", "mV"),
                _t("gsyn_exc", "isyn_exc", S_TO_US, "S", "uS"),
                _t("gsyn_inh", "isyn_inh", S_TO_US, "S", "uS"),
            ),
            (
                _t("v", "v", V_TO_MV, "V", "mV"),
                _t("gsyn_exc", "gsyn_exc", S_TO_US, "S", "uS"),
                _t("gsyn_inh", "gsyn_inh", S_TO_US, "S", "uS"),
            ),
        ),
        # sPyNNaker's calcium-adaptive LIF is AdaptiveLIF with delta_theta = 0:
        # I_Ca2 decays with tau_ca2, jumps by i_alpha at each spike and is subtracted from the input
        "AdaptiveLIF": CellTranslation(
            "extra_models.IFCurrExpCa2Adaptive",
            (
                *_LIF,
                _t("tau_w", "tau_ca2", S_TO_MS, "s", "ms"),
                _t("b", "i_alpha", A_TO_NA, "A", "nA"),
            ),
            (*_CURR_STATE, _t("w", "i_ca2", A_TO_NA, "A", "nA")),
            (
                _t("v", "v", V_TO_MV, "V", "mV"),
                _t("isyn_exc", "gsyn_exc", A_TO_NA, "A", "nA"),
                _t("isyn_inh", "gsyn_inh", A_TO_NA, "A", "nA"),
            ),
        ),
    },
    "nest": {
        **_COMMON_CELLS,
        "IF_curr_exp": CellTranslation(
            "IF_curr_exp", _LIF, _CURR_STATE, (_t("v", "v", V_TO_MV, "V", "mV"),)
        ),
        "IF_cond_exp": CellTranslation(
            "IF_cond_exp",
            _LIF + _REVERSAL,
            # PyNN 0.13's NEST backend hands initial values to NEST unscaled (its uS -> nS
            # factor is applied to recordings only), so initial conductances go in nS
            (
                _t("v", "v", V_TO_MV, "V", "mV"),
                _t("gsyn_exc", "gsyn_exc", S_TO_NS, "S", "nS (PyNN 0.13 NEST defect)"),
                _t("gsyn_inh", "gsyn_inh", S_TO_NS, "S", "nS (PyNN 0.13 NEST defect)"),
            ),
            (
                _t("v", "v", V_TO_MV, "V", "mV"),
                _t("gsyn_exc", "gsyn_exc", S_TO_US, "S", "uS"),
                _t("gsyn_inh", "gsyn_inh", S_TO_US, "S", "uS"),
            ),
        ),
    },
}

#: recording time of a neuron's spike: ours is the start of the step whose update crossed
#: threshold; NEST stamps the end of that step; sPyNNaker the step's own index. Spike sources
#: are recorded at their given times everywhere (offset 0).
SPIKE_TIME_OFFSET_STEPS: dict[Target, int] = {"spinnaker": 0, "nest": -1}
#: PyNN's finite stand-in for an unbounded Poisson duration (ms)
FOREVER_MS = 1e10


#: PyNN's sign of inhibitory weights per target and synapse type (ours are all >= 0, the
#: receptor carries the sign): PyNN's NEST backend wants negative current-based inhibitory
#: weights (it negates conductance-based ones itself); sPyNNaker stores magnitudes
INHIBITORY_WEIGHT_SIGN: dict[tuple[Target, str], float] = {
    ("nest", "current"): -1.0,
    ("nest", "conductance"): 1.0,
    ("spinnaker", "current"): 1.0,
    ("spinnaker", "conductance"): 1.0,
}


def weight_factor(proj: Projection, target: Target) -> float:
    """Factor from our weights (A or S, >= 0) to PyNN's on ``target`` (unit and sign)."""
    kind = synapse_type_of(proj)
    _, factor = WEIGHT_TO_PYNN[kind]
    if proj.receptor == "inhibitory":
        factor *= INHIBITORY_WEIGHT_SIGN[(target, kind)]
    return factor


def stdp_amplitudes(rule: STDP, target: Target, weight_factor: float) -> tuple[float, float]:
    """``(A_plus, A_minus)`` in the units ``target``'s PyNN backend expects (module doc)."""
    if rule.weight_dependence == "multiplicative":
        return float(rule.A_plus), float(rule.A_minus)
    if target == "spinnaker":
        return float(rule.A_plus) * weight_factor, float(rule.A_minus) * weight_factor
    return float(rule.A_plus) / float(rule.w_max), float(rule.A_minus) / float(rule.w_max)


@dataclass
class LoweredNetwork:
    """PyNN objects built for one network, with how each projection was lowered."""

    target: Target
    sim: ModuleType
    populations: dict[str, Any] = field(default_factory=dict)
    projections: dict[str, Any] = field(default_factory=dict)
    #: projection label -> "from_list", "native (exact)" or "native (statistical)"
    connector_modes: dict[str, str] = field(default_factory=dict)
    #: recorder label -> (PyNN population or view, PyNN variable names)
    recorders: dict[str, tuple[Any, tuple[str, ...]]] = field(default_factory=dict)
    seconds: float = 0.0


def _resolve(sim: ModuleType, path: str) -> Any:
    obj: Any = sim
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _cell_translation(target: Target, pop: Population) -> CellTranslation:
    try:
        return CELL_TRANSLATIONS[target][pop.model.name]
    except KeyError:
        raise ValueError(
            f"population {pop.label!r}: no PyNN translation of {pop.model.name} on {target}; "
            "run snn.hardware.check_network first for the design rule"
        ) from None


def _cell_parameters(pop: Population, table: CellTranslation) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for tr in table.parameters:
        values = np.asarray(pop.params[tr.ours], dtype=np.float64) * tr.factor
        if tr.ours == "duration":
            if np.all(np.isinf(values)):
                continue  # each backend's own "forever" (sPyNNaker overflows on 1e10 ms)
            values = np.where(np.isfinite(values), values, FOREVER_MS)
        first = float(values[0])
        params[tr.pynn] = first if np.all(values == first) else values
    return params


def _spike_trains_ms(pop: Population) -> list[list[float]]:
    from snn.neurons import SpikeSourceArray

    model = pop.model
    if not isinstance(model, SpikeSourceArray):
        raise TypeError("spike trains belong to SpikeSourceArray populations")
    dt = pop.network.dt
    # lowered through whole steps, as every backend rounds them
    return [
        [float(s * dt * S_TO_MS) for s in np.unique(np.rint(t / dt).astype(np.int64))]
        for t in model.trains_for(pop.size)
    ]


def _make_population(sim: ModuleType, target: Target, pop: Population, npc: int | None) -> Any:
    table = _cell_translation(target, pop)
    cell_class = _resolve(sim, table.cell_type)
    if pop.model.name == "SpikeSourceArray":
        trains = _spike_trains_ms(pop)
        if target == "nest":
            from pyNN.parameters import Sequence

            cell = cell_class(spike_times=[Sequence(t) for t in trains])
        elif not any(trains):
            # sPyNNaker 1!7.4.1's spike-density check indexes the most common time of a list
            # of per-neuron lists and fails (IndexError) when every list is empty; one empty
            # list shared by all neurons is its own way of saying "no spikes"
            cell = cell_class(spike_times=[])
        else:
            cell = cell_class(spike_times=trains)
    else:
        cell = cell_class(**_cell_parameters(pop, table))
    extra: dict[str, Any] = {}
    if target == "spinnaker" and pop.model.name != "SpikeSourceArray":
        # sPyNNaker seeds native connectors and Poisson sources per population, not per rng
        extra["seed"] = (pop.network.seed + 104729 * (pop.index + 1)) % (2**31)
    p = sim.Population(pop.size, cell, label=pop.label, **extra)
    if npc is not None and not pop.model.is_source and hasattr(p, "set_max_atoms_per_core"):
        p.set_max_atoms_per_core(npc)
    initial = {}
    for tr in table.initial:
        values = pop.initial.get(tr.ours)
        if values is None:
            continue
        arr = np.asarray(values, dtype=np.float64) * tr.factor
        first = float(arr[0])
        initial[tr.pynn] = first if np.all(arr == first) else arr
    if initial:
        p.initialize(**initial)
    return p


def _view(pynn_pop: Any, target: Population | PopulationView) -> Any:
    if isinstance(target, Population):
        return pynn_pop
    return pynn_pop[np.array(target.indices, dtype=np.int64)]  # PyNN sorts it in place


def _uniform(values: NDArray[Any]) -> bool:
    return bool(values.size == 0 or np.all(values == values[0]))


def _native_connector(
    sim: ModuleType, target: Target, proj: Projection, seed: int
) -> tuple[Any, str] | None:
    """PyNN's own connector for ``proj`` when weights and delays are uniform, else None."""
    if proj.size == 0 or not (_uniform(proj.weights) and _uniform(proj.delays)):
        return None
    conn = proj.connector
    is_view = isinstance(proj.pre, PopulationView) or isinstance(proj.post, PopulationView)
    if isinstance(conn, OneToOne):
        if target == "spinnaker" and is_view:
            return None  # sPyNNaker 1!7.4.1 fails on OneToOne between views
        return sim.OneToOneConnector(), "native (exact)"
    if isinstance(conn, AllToAll):
        return (
            sim.AllToAllConnector(allow_self_connections=conn.allow_self_connections),
            "native (exact)",
        )
    from pyNN.random import NumpyRNG

    # sPyNNaker rejects rng= (it seeds from the post population); NEST takes a NumpyRNG
    rng = {} if target == "spinnaker" else {"rng": NumpyRNG(seed=seed)}
    if isinstance(conn, FixedProbability):
        return (
            sim.FixedProbabilityConnector(
                float(conn.p), allow_self_connections=conn.allow_self_connections, **rng
            ),
            "native (statistical)",
        )
    if isinstance(conn, FixedInDegree):
        return (
            sim.FixedNumberPreConnector(
                int(conn.n),
                allow_self_connections=conn.allow_self_connections,
                with_replacement=conn.with_replacement,
                **rng,
            ),
            "native (statistical)",
        )
    return None


def _synapse(sim: ModuleType, target: Target, proj: Projection, weight: float, delay: float) -> Any:
    rule = proj.plasticity
    if rule is None:
        return sim.StaticSynapse(weight=weight, delay=delay)
    _, factor = WEIGHT_TO_PYNN[synapse_type_of(proj)]
    a_plus, a_minus = stdp_amplitudes(rule, target, factor)
    timing = sim.SpikePairRule(
        tau_plus=float(rule.tau_plus) * S_TO_MS,
        tau_minus=float(rule.tau_minus) * S_TO_MS,
        A_plus=a_plus,
        A_minus=a_minus,
    )
    dependence_class = (
        sim.AdditiveWeightDependence
        if rule.weight_dependence == "additive"
        else sim.MultiplicativeWeightDependence
    )
    dependence = dependence_class(
        w_min=float(rule.w_min) * factor, w_max=float(rule.w_max) * factor
    )
    return sim.STDPMechanism(
        timing_dependence=timing, weight_dependence=dependence, weight=weight, delay=delay
    )


def connection_list(proj: Projection, target: Target = "spinnaker") -> NDArray[np.float64]:
    """``(pre, post, weight, delay)`` rows in PyNN units on the parent populations."""
    factor = weight_factor(proj, target)
    dt_ms = proj.network.dt * S_TO_MS
    return np.column_stack(
        [
            proj.pre_idx.astype(np.float64),
            proj.post_idx.astype(np.float64),
            np.asarray(proj.weights, dtype=np.float64) * factor,
            proj.delays.astype(np.float64) * dt_ms,
        ]
    )


def _make_projection(
    sim: ModuleType,
    target: Target,
    proj: Projection,
    pops: dict[str, Any],
    connectivity: Connectivity,
) -> tuple[Any, str]:
    pre_parent = pops[proj.pre.parent.label]
    post_parent = pops[proj.post.parent.label]
    factor = weight_factor(proj, target)
    dt_ms = proj.network.dt * S_TO_MS
    native = None
    if connectivity == "native":
        native = _native_connector(sim, target, proj, proj.network.seed + 7919 * proj.index)
    if native is not None:
        connector, mode = native
        synapse = _synapse(
            sim, target, proj, float(proj.weights[0]) * factor, float(proj.delays[0]) * dt_ms
        )
        return (
            sim.Projection(
                _view(pre_parent, proj.pre),
                _view(post_parent, proj.post),
                connector,
                synapse_type=synapse,
                receptor_type=proj.receptor,
                label=proj.label,
            ),
            mode,
        )
    rows = connection_list(proj, target)
    connector = sim.FromListConnector(rows, column_names=["weight", "delay"])
    first_w = float(rows[0, 2]) if proj.size else 0.0
    synapse = _synapse(sim, target, proj, first_w, dt_ms)
    return (
        sim.Projection(
            pre_parent,
            post_parent,
            connector,
            synapse_type=synapse,
            receptor_type=proj.receptor,
            label=proj.label,
        ),
        "from_list",
    )


def lower(
    net: Network,
    sim: ModuleType,
    target: Target,
    connectivity: Connectivity = "exact",
    neurons_per_core: int | None = None,
) -> LoweredNetwork:
    """Build ``net`` in the PyNN simulator module ``sim`` (already ``setup()``).

    Populations become PyNN populations of the translated cell types (parameters and initial
    values converted by the tables above), projections become PyNN projections on the parent
    populations (views through ``PopulationView`` for native connectors and recordings),
    recorders become ``record(...)`` calls. Returns the PyNN objects by our labels.
    """
    if connectivity not in ("exact", "native"):
        raise ValueError(f"connectivity must be 'exact' or 'native', got {connectivity!r}")
    start = time.perf_counter()
    lowered = LoweredNetwork(target, sim)
    for pop in net.populations:
        lowered.populations[pop.label] = _make_population(sim, target, pop, neurons_per_core)
    for proj in net.projections:
        if proj.size == 0:
            continue  # PyNN projections need at least one connection on some backends
        pynn_proj, mode = _make_projection(sim, target, proj, lowered.populations, connectivity)
        lowered.projections[proj.label] = pynn_proj
        lowered.connector_modes[proj.label] = mode
    dt_ms = net.dt * S_TO_MS
    for rec in net.recorders:
        if isinstance(rec.target, Projection):
            continue  # final weights are read with Projection.get after the run
        table = _cell_translation(target, rec.target.parent)
        names = {tr.ours: tr.pynn for tr in table.recordables}
        variables = tuple("spikes" if v == "spikes" else names[v] for v in rec.variables)
        view = _view(lowered.populations[rec.target.parent.label], rec.target)
        interval = rec.interval_steps * dt_ms
        state = [v for v in variables if v != "spikes"]
        if "spikes" in variables:
            view.record("spikes")
        if state:
            view.record(state, sampling_interval=interval)
        lowered.recorders[rec.label] = (view, variables)
    lowered.seconds = time.perf_counter() - start
    return lowered


def _source_indices(data: Any) -> NDArray[np.int64]:
    """Parent-population indices of a Neo spike train or analog signal from PyNN.

    PyNN annotates trains with ``source_index`` and signals with the ``channel_index`` array
    annotation; sPyNNaker's Neo writer puts signal indices in ``channel_names``.
    """
    ann = getattr(data, "annotations", {}) or {}
    if "source_index" in ann:
        return np.atleast_1d(np.asarray(ann["source_index"], dtype=np.int64))
    arr_ann = getattr(data, "array_annotations", {}) or {}
    for source in (arr_ann.get("channel_index"), ann.get("channel_names")):
        if source is not None:
            return np.atleast_1d(np.asarray(source, dtype=np.int64))
    raise ValueError("PyNN data carry no neuron indices (source_index or channel_index)")


def collect_recording(
    net: Network,
    lowered: LoweredNetwork,
    duration: float,
    backend: str,
    seed: int,
    **metadata: Any,
) -> Recording:
    """Read what PyNN recorded into a :class:`Recording` (times in s, SI units, our labels)."""
    dt = net.dt
    n_steps = net.n_steps(duration)
    offset = SPIKE_TIME_OFFSET_STEPS[lowered.target]
    out = Recording(dt=dt, duration=n_steps * dt, backend=backend, seed=seed, metadata=metadata)
    for rec in net.recorders:
        if isinstance(rec.target, Projection):
            out.traces[rec.label] = {"weights": _final_weights(rec.target, lowered, n_steps * dt)}
            continue
        view, variables = lowered.recorders[rec.label]
        block = view.get_data(variables=list(variables), clear=False)
        segment = block.segments[-1]
        wanted = np.asarray(rec.target.indices, dtype=np.int64)
        if "spikes" in variables:
            steps_all, ids_all = [], []
            recorded = set(wanted.tolist())
            for train in segment.spiketrains:
                neuron = int(_source_indices(train)[0])
                if neuron not in recorded:
                    # sPyNNaker records a whole spike source even when a view was asked for
                    continue
                t_ms = np.asarray(train.rescale("ms").magnitude, dtype=np.float64)
                steps = np.rint(t_ms / (dt * S_TO_MS)).astype(np.int64)
                if not rec.target.model.is_source:
                    steps = steps + offset
                steps_all.append(steps[(steps >= 0) & (steps < n_steps)])
                ids_all.append(np.full(steps_all[-1].size, neuron, dtype=np.int64))
            steps = np.concatenate(steps_all) if steps_all else np.zeros(0, np.int64)
            ids = np.concatenate(ids_all) if ids_all else np.zeros(0, np.int64)
            by_time = np.lexsort((ids, steps))
            out.spikes[rec.label] = SpikeTrains(
                population=rec.target.parent.label,
                neurons=wanted.copy(),
                times=steps[by_time] * dt,
                ids=ids[by_time],
            )
        table = _cell_translation(lowered.target, rec.target.parent)
        back = {tr.pynn: tr for tr in table.recordables}
        traces: dict[str, Trace] = {}
        for signal in segment.analogsignals:
            tr = back.get(signal.name)
            if tr is None:
                continue
            idx = _source_indices(signal)
            values = np.asarray(signal.magnitude, dtype=np.float64) / tr.factor
            position = {int(n): k for k, n in enumerate(idx)}
            order = np.array([position[int(n)] for n in wanted if int(n) in position], np.int64)
            times = np.asarray(signal.times.rescale("s").magnitude, dtype=np.float64)
            keep = times < n_steps * dt - dt / 2  # PyNN adds a sample at t = duration
            times, values = times[keep], values[keep][:, order]
            initial = rec.target.parent.initial.get(tr.ours)
            if initial is not None and times.size and times[0] == 0.0:
                # the t = 0 sample is PyNN's cached initial value, not the simulator's: use ours
                values[0] = np.asarray(initial)[idx[order]]
            traces[tr.ours] = Trace(tr.ours, tr.si_unit, times, values, idx[order])
        if traces:
            out.traces[rec.label] = traces
    return out


def _final_weights(proj: Projection, lowered: LoweredNetwork, at: float) -> Trace:
    pynn_proj = lowered.projections.get(proj.label)
    factor = weight_factor(proj, lowered.target)
    unit = "S" if synapse_type_of(proj) == "conductance" else "A"
    weights = np.full(proj.size, np.nan)
    if pynn_proj is not None:
        rows = np.asarray(pynn_proj.get(["weight"], format="list", with_address=True), dtype=float)
        if rows.size:
            pairs = zip(proj.pre_idx, proj.post_idx, strict=True)
            key = {(int(a), int(b)): k for k, (a, b) in enumerate(pairs)}
            for pre, post, w in rows:
                k = key.get((int(pre), int(post)))
                if k is not None:
                    weights[k] = w / factor
    return Trace("weights", unit, np.array([at]), weights[None, :], np.arange(proj.size))
