"""Lowering of a :class:`~snn.network.Network` to flat arrays shared by the clock-driven backends.

Everything that depends on ``dt`` (propagators, refractory steps, spike-source steps, STDP decay
tables) is computed here, once, in NumPy: the NumPy reference and the compiled backends read the
same constants, which is what lets them agree bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from snn.network import Network, Population, Projection
from snn.neurons import NEVER, NeuronModel, SpikeSourceArray, SpikeSourcePoisson
from snn.plasticity import InhibitorySTDP

EXCITATORY = 0
INHIBITORY = 1


@dataclass(frozen=True)
class CompiledPopulation:
    index: int
    label: str
    size: int
    model: NeuronModel
    consts: dict[str, NDArray[Any]]
    #: initial state variables plus ``last_spike`` (int64 step of the last spike)
    initial: dict[str, NDArray[Any]]
    #: realised per-neuron parameters in SI units (for backends that rebuild the equations)
    params: dict[str, NDArray[np.float64]] = field(default_factory=dict)

    @property
    def is_source(self) -> bool:
        return self.model.is_source

    @property
    def is_poisson(self) -> bool:
        return isinstance(self.model, SpikeSourcePoisson)


@dataclass(frozen=True)
class CompiledSTDP:
    multiplicative: bool
    A_plus: float
    A_minus: float
    w_min: float
    w_max: float
    tau_plus: float  # s
    tau_minus: float  # s
    #: exp(-k dt / tau_plus), exp(-k dt / tau_minus) for k = 0..len-1 (0 beyond)
    decay_plus: NDArray[np.float64]
    decay_minus: NDArray[np.float64]
    #: Vogels et al. 2011 (:class:`snn.plasticity.InhibitorySTDP`): at a pre event
    #: ``w + A_minus (x_post - alpha)`` instead of ``w - A_minus f(w) x_post``
    vogels: bool = False
    alpha: float = 0.0


@dataclass(frozen=True)
class CompiledProjection:
    index: int
    label: str
    pre: int
    post: int
    receptor: int
    #: synapses sorted by (pre, post); population-local indices
    pre_idx: NDArray[np.int64]
    post_idx: NDArray[np.int64]
    weights: NDArray[np.float64]
    delays: NDArray[np.int64]
    #: CSR over pre neurons: synapses of pre neuron i are row_ptr[i]:row_ptr[i+1]
    row_ptr: NDArray[np.int64]
    stdp: CompiledSTDP | None = None
    #: synapse ids sorted by post (stable), with CSR pointers over post neurons (plastic only)
    col_order: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    col_ptr: NDArray[np.int64] = field(default_factory=lambda: np.zeros(1, np.int64))


@dataclass(frozen=True)
class CompiledRecorder:
    label: str
    kind: str  # "population" or "projection"
    target: int
    #: recorded neurons (population-local), for population recorders
    neurons: NDArray[np.int64]
    variables: tuple[str, ...]
    interval_steps: int


@dataclass(frozen=True)
class CompiledNetwork:
    dt: float
    populations: list[CompiledPopulation]
    projections: list[CompiledProjection]
    recorders: list[CompiledRecorder]
    #: ring-buffer length: max delay + 1
    ring_length: int
    #: the network's update rules, one of snn.network.SEMANTICS
    semantics: str = "exact"


def compile_network(net: Network) -> CompiledNetwork:
    """Lower a network to flat arrays for a clock-driven backend."""
    pops = [_compile_population(p, net.dt) for p in net.populations]
    projs = [_compile_projection(p, net.dt) for p in net.projections]
    recs = [
        CompiledRecorder(
            label=r.label,
            kind="projection" if isinstance(r.target, Projection) else "population",
            target=r.target.index if isinstance(r.target, Projection) else r.target.parent.index,
            neurons=(
                np.zeros(0, np.int64)
                if isinstance(r.target, Projection)
                else np.asarray(r.target.indices, dtype=np.int64)
            ),
            variables=r.variables,
            interval_steps=r.interval_steps,
        )
        for r in net.recorders
    ]
    max_delay = max((int(p.delays.max()) for p in projs if p.delays.size), default=1)
    return CompiledNetwork(net.dt, pops, projs, recs, max_delay + 1, net.semantics)


def _compile_population(pop: Population, dt: float) -> CompiledPopulation:
    model = pop.model
    if isinstance(model, SpikeSourceArray):
        consts = SpikeSourceArray.lower_trains(model.trains_for(pop.size), dt)
    else:
        consts = model.lower(pop.params, dt)
    initial: dict[str, NDArray[Any]] = {
        k: np.array(v, dtype=np.float64) for k, v in pop.initial.items()
    }
    initial["last_spike"] = np.full(pop.size, NEVER, dtype=np.int64)
    return CompiledPopulation(pop.index, pop.label, pop.size, model, consts, initial, pop.params)


def _compile_projection(proj: Projection, dt: float) -> CompiledProjection:
    pre_size = proj.pre.parent.size
    post_size = proj.post.parent.size
    row_ptr = np.zeros(pre_size + 1, dtype=np.int64)
    np.cumsum(np.bincount(proj.pre_idx, minlength=pre_size), out=row_ptr[1:])
    stdp = None
    col_order = np.zeros(0, np.int64)
    col_ptr = np.zeros(1, np.int64)
    rule = proj.plasticity
    if rule is not None:
        stdp = CompiledSTDP(
            multiplicative=rule.weight_dependence == "multiplicative",
            A_plus=float(rule.A_plus),
            A_minus=float(rule.A_minus),
            w_min=float(rule.w_min),
            w_max=float(rule.w_max),
            tau_plus=float(rule.tau_plus),
            tau_minus=float(rule.tau_minus),
            decay_plus=rule.decay_table(float(rule.tau_plus), dt),
            decay_minus=rule.decay_table(float(rule.tau_minus), dt),
            vogels=isinstance(rule, InhibitorySTDP),
            alpha=rule.alpha if isinstance(rule, InhibitorySTDP) else 0.0,
        )
        col_order = np.argsort(proj.post_idx, kind="stable").astype(np.int64)
        col_ptr = np.zeros(post_size + 1, dtype=np.int64)
        np.cumsum(np.bincount(proj.post_idx, minlength=post_size), out=col_ptr[1:])
    return CompiledProjection(
        index=proj.index,
        label=proj.label,
        pre=proj.pre.parent.index,
        post=proj.post.parent.index,
        receptor=EXCITATORY if proj.receptor == "excitatory" else INHIBITORY,
        pre_idx=np.asarray(proj.pre_idx, dtype=np.int64),
        post_idx=np.asarray(proj.post_idx, dtype=np.int64),
        weights=np.asarray(proj.weights, dtype=np.float64),
        delays=np.asarray(proj.delays, dtype=np.int64),
        row_ptr=row_ptr,
        stdp=stdp,
        col_order=col_order,
        col_ptr=col_ptr,
    )
