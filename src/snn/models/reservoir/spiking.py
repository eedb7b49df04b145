"""Spiking E/I reservoir with self-adapting inhibition, built in the frontend (issue item 2).

The rate reservoir's structure (:mod:`.ei`) with spiking neurons, as an ordinary
:class:`snn.Network` that every clock-driven backend runs (Numba by default):

* ``exc``: ``round(exc_fraction n)`` :class:`snn.AdaptiveLIF` neurons (spike-frequency
  adaptation: a current ``b`` per spike decaying with ``tau_w``), ``inh``: the rest,
  :class:`snn.IF_curr_exp`; both from the same membrane parameters;
* fixed in-degree: every neuron receives ``k_exc`` excitatory and ``k_inh`` inhibitory synapses
  (``k_exc = round(exc_fraction k)``), excitatory weight ``w_exc``, inhibitory weight
  ``balance k_exc w_exc / k_inh`` (``balance = 1``: the summed inhibitory weight onto a neuron
  equals the excitatory one, as the rate model's ``mu_I = (f_E / f_I) mu_E``), Dale's law by
  construction (the receptor gives the sign);
* inhibitory plasticity: with ``plastic=True`` the inhibitory synapses onto excitatory neurons
  (I -> E, as in Vogels et al. 2011; I -> I stays static: a rule driving the inhibitory neurons
  to the same target starved the network of inhibition) follow :class:`snn.InhibitorySTDP`
  with target rate ``target_rate``, the spiking counterpart of the rate model's local rule
  ``A_I += delta (r - rho)``: a neuron firing above its target gets more inhibition, one firing
  below less. The rule has one target per projection, so targets are homogeneous here (the
  rate model also supports heterogeneous ones). Measured: from an over-inhibited start (1.9 Hz,
  target 10 Hz) the excitatory rate rose to 6.1 Hz in 20 s; the rule's fixed point is biased by
  pre/post correlations, more so with few strong inhibitory synapses;
* background drive: ``n_drive`` Poisson sources at ``drive_rate`` onto every neuron
  (``k_drive`` synapses of ``w_drive``), which keeps the network in an asynchronous regime;
* input: a series ``u(t)`` in [0, 1], one value per ``bin`` seconds, is rate-coded by ``n_input``
  inhomogeneous Poisson sources (rate ``input_rate u(t)`` in bin ``t``, realised as a
  :class:`snn.SpikeSourceArray` from the seeded generator) onto ``input_fraction`` of the
  excitatory neurons (``k_input`` synapses of ``w_input`` each).

:func:`reservoir_states` runs it and returns per-bin states for a linear readout: each neuron's
spike train low-pass filtered with ``tau_readout`` and sampled at the end of every bin (exact
exponential filter of the recorded spikes), shape ``(T, n)``, which the memory-capacity and
forecasting tasks of :mod:`.tasks` take as they take the rate reservoir's states.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.signal import lfilter

from snn.connectors import FixedInDegree
from snn.network import Network
from snn.neurons import AdaptiveLIF, IF_curr_exp, SpikeSourceArray, SpikeSourcePoisson
from snn.parameters import Uniform
from snn.plasticity import InhibitorySTDP
from snn.recording import Recording

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SpikingEIParameters:
    """Every parameter of the spiking E/I reservoir (SI units; see the module docstring)."""

    n: int = 400
    exc_fraction: float = 0.8
    k: int = 40
    balance: float = 1.0
    w_exc: float = 60e-12  # A
    plastic: bool = True
    target_rate: float = 5.0  # Hz
    eta: float = 3e-11  # A per unit of trace
    w_inh_max: float = 2e-9  # A
    # membrane (shared by E and I)
    tau_m: float = 20e-3
    cm: float = 200e-12
    v_rest: float = -60e-3
    v_reset: float = -60e-3
    v_thresh: float = -50e-3
    tau_refrac: float = 2e-3
    tau_syn_E: float = 5e-3
    tau_syn_I: float = 10e-3
    # spike-frequency adaptation of the excitatory neurons
    tau_w: float = 100e-3
    b: float = 5e-12  # A per spike
    # background drive
    n_drive: int = 100
    drive_rate: float = 20.0  # Hz
    k_drive: int = 10
    w_drive: float = 80e-12  # A
    # input
    n_input: int = 50
    input_rate: float = 100.0  # Hz at u = 1
    input_fraction: float = 1.0
    k_input: int = 20
    w_input: float = 60e-12  # A
    bin: float = 20e-3  # s per input value
    tau_readout: float = 30e-3  # s, the states' low-pass filter
    dt: float = 0.5e-3

    def __post_init__(self) -> None:
        for name in ("n", "k", "n_drive", "k_drive", "n_input", "k_input"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        positive = (
            "w_exc", "tau_m", "cm", "tau_refrac", "tau_syn_E", "tau_syn_I", "tau_w", "bin",
            "tau_readout", "dt", "w_inh_max",
        )  # fmt: skip
        nonnegative = (
            "balance", "target_rate", "eta", "b", "drive_rate", "w_drive", "input_rate",
            "w_input",
        )  # fmt: skip
        for name in (*positive, *nonnegative):
            value = float(getattr(self, name))
            if not np.isfinite(value) or value < 0 or (name in positive and value == 0):
                kind = "> 0" if name in positive else ">= 0"
                raise ValueError(f"{name} must be finite and {kind}, got {value!r}")
        if not 0.0 < self.exc_fraction < 1.0 or not 0.0 < self.input_fraction <= 1.0:
            raise ValueError(
                "exc_fraction must lie in (0, 1) and input_fraction in (0, 1], got "
                f"{self.exc_fraction} and {self.input_fraction}"
            )
        n_exc = self.n_exc
        if n_exc < 1 or self.n - n_exc < 1:
            raise ValueError(f"n = {self.n} leaves an empty population at {self.exc_fraction}")
        if self.k_exc > n_exc or self.k_inh > self.n - n_exc or self.k_inh < 1:
            raise ValueError(
                f"k = {self.k} needs {self.k_exc} excitatory and {self.k_inh} (>= 1) inhibitory "
                f"sources per neuron; the populations have {n_exc} and {self.n - n_exc}"
            )
        if self.k_drive > self.n_drive or self.k_input > self.n_input:
            raise ValueError("k_drive must be <= n_drive and k_input <= n_input")
        steps = self.bin / self.dt
        if abs(steps - round(steps)) > 1e-9 * steps:
            raise ValueError(f"bin ({self.bin} s) must be a whole number of steps of {self.dt} s")

    @property
    def n_exc(self) -> int:
        return round(self.exc_fraction * self.n)

    @property
    def k_exc(self) -> int:
        return round(self.exc_fraction * self.k)

    @property
    def k_inh(self) -> int:
        return self.k - self.k_exc

    @property
    def w_inh(self) -> float:
        """Initial inhibitory weight: ``balance k_exc w_exc / k_inh``."""
        return self.balance * self.k_exc * self.w_exc / self.k_inh


def spiking_parameters(**values: Any) -> SpikingEIParameters:
    """:class:`SpikingEIParameters` with a clear error for unknown names (lists the valid ones)."""
    names = {f.name for f in fields(SpikingEIParameters)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(
            f"spiking reservoir: unknown parameter(s) {', '.join(unknown)}; valid names: "
            f"{', '.join(sorted(names))}"
        )
    return SpikingEIParameters(**values)


def input_spike_trains(
    inputs: ArrayLike, params: SpikingEIParameters, seed: int
) -> list[FloatArray]:
    """Inhomogeneous Poisson spike times (s) of the ``n_input`` sources for ``u`` in [0, 1]."""
    u = np.asarray(inputs, dtype=np.float64).ravel()
    if u.size == 0 or not np.isfinite(u).all() or u.min() < 0.0 or u.max() > 1.0:
        raise ValueError("spiking reservoir: inputs must be a non-empty series of values in [0, 1]")
    steps_per_bin = round(params.bin / params.dt)
    rng = np.random.default_rng(seed)
    # per step: probability rate dt of a spike, the bin's rate held for its steps
    p = np.repeat(u * params.input_rate * params.dt, steps_per_bin)
    if p.max() > 1.0:
        raise ValueError("spiking reservoir: input_rate dt must be <= 1")
    fired = rng.random((params.n_input, p.size)) < p
    return [np.flatnonzero(row).astype(np.float64) * params.dt for row in fired]


def spiking_ei_reservoir(
    params: SpikingEIParameters,
    inputs: ArrayLike,
    seed: int = 0,
    inhibitory_weights: dict[str, FloatArray] | None = None,
) -> Network:
    """The spiking E/I reservoir driven by ``inputs`` (see the module docstring).

    ``inhibitory_weights`` (from :func:`adapt_inhibition`) replaces the initial weights of the
    inhibitory projections it names, ``"i_exc"`` and/or ``"i_inh"`` (same connectivity: the same
    seed and parameters realise the same synapses); use it with ``plastic=False`` to evaluate an
    adapted reservoir with frozen weights.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    p = params
    unknown = sorted(set(inhibitory_weights or {}) - {"i_exc", "i_inh"})
    if unknown:
        raise ValueError(
            f"inhibitory_weights: unknown projection(s) {', '.join(unknown)}; valid: i_exc, i_inh"
        )
    net = Network(dt=p.dt, seed=int(seed))
    membrane = dict(
        tau_m=p.tau_m, cm=p.cm, v_rest=p.v_rest, v_reset=p.v_reset, v_thresh=p.v_thresh,
        tau_refrac=p.tau_refrac, tau_syn_E=p.tau_syn_E, tau_syn_I=p.tau_syn_I,
    )  # fmt: skip
    v0 = {"v": Uniform(p.v_reset, p.v_thresh)}
    exc = net.population(
        p.n_exc, AdaptiveLIF(tau_w=p.tau_w, b=p.b, **membrane), label="exc", initial=v0
    )
    inh = net.population(p.n - p.n_exc, IF_curr_exp(**membrane), label="inh", initial=v0)
    drive = net.population(p.n_drive, SpikeSourcePoisson(rate=p.drive_rate), label="drive")
    trains = input_spike_trains(inputs, p, seed)
    source = net.population(p.n_input, SpikeSourceArray(trains), label="input")
    for target in (exc, inh):
        net.connect(drive, target, FixedInDegree(p.k_drive), weight=p.w_drive)
        net.connect(exc, target, FixedInDegree(p.k_exc), weight=p.w_exc, label=f"e_{target.label}")
    rule = (
        InhibitorySTDP(tau=20e-3, eta=p.eta, rho0=p.target_rate, w_min=0.0, w_max=p.w_inh_max)
        if p.plastic
        else None
    )
    for target in (exc, inh):
        proj = net.connect(
            inh,
            target,
            FixedInDegree(p.k_inh),
            weight=p.w_inh,
            receptor="inhibitory",
            plasticity=rule if target is exc else None,
            label=f"i_{target.label}",
        )
        if inhibitory_weights is not None and proj.label in inhibitory_weights:
            w = np.asarray(inhibitory_weights[proj.label], dtype=np.float64)
            if w.shape != proj.weights.shape or not np.isfinite(w).all() or (w < 0).any():
                raise ValueError(
                    f"inhibitory_weights[{proj.label!r}] must hold {proj.weights.size} finite "
                    f"non-negative weights (got shape {w.shape}); pass adapt_inhibition's result "
                    "for the same parameters and seed"
                )
            w.setflags(write=False)
            proj.weights = w
    n_driven = max(1, round(p.input_fraction * p.n_exc))
    net.connect(source, exc[:n_driven], FixedInDegree(p.k_input), weight=p.w_input)
    net.record(exc, "spikes")
    net.record(inh, "spikes")
    return net


def filtered_states(rec: Recording, params: SpikingEIParameters, n_bins: int) -> FloatArray:
    """Each neuron's spike train filtered by ``exp(-t / tau_readout)``, sampled per bin.

    ``x_i(t_b) = sum_{s <= t_b} exp(-(t_b - s) / tau)`` over neuron ``i``'s spikes ``s`` with
    ``t_b = (b + 1) bin`` (a spike in the last step of a bin counts in that bin); E then I.
    """
    decay = np.exp(-params.bin / params.tau_readout)
    steps_per_bin = round(params.bin / params.dt)
    blocks = []
    for label in ("exc", "inh"):
        sp = rec.spikes[label]
        steps = np.rint(sp.times / params.dt).astype(np.int64)
        size = params.n_exc if label == "exc" else params.n - params.n_exc
        bins = steps // steps_per_bin
        keep = bins < n_bins
        # within-bin weight of each spike: exp(-(bin end - spike time) / tau)
        lag = ((bins + 1) * steps_per_bin - 1 - steps) * params.dt
        inc = np.zeros((n_bins, size))
        np.add.at(inc, (bins[keep], sp.ids[keep]), np.exp(-lag[keep] / params.tau_readout))
        # x[b] = decay x[b - 1] + inc[b]: a first-order recursive filter along the bins
        blocks.append(lfilter([1.0], [1.0, -decay], inc, axis=0))
    return np.concatenate(blocks, axis=1)


def reservoir_states(
    params: SpikingEIParameters,
    inputs: ArrayLike,
    seed: int = 0,
    backend: str = "numba",
    **options: Any,
) -> tuple[FloatArray, Recording]:
    """Run the reservoir on ``inputs`` (one value per bin) and return ``(states (T, n), rec)``."""
    u = np.asarray(inputs, dtype=np.float64).ravel()
    net = spiking_ei_reservoir(params, u, seed)
    rec = net.run(u.size * params.bin, backend=backend, **options)
    return filtered_states(rec, params, u.size), rec


@dataclass(frozen=True)
class AdaptedInhibition:
    """What :func:`adapt_inhibition` returns."""

    #: final weights (A) of the plastic inhibitory projection "i_exc", synapse order
    weights: dict[str, FloatArray]
    #: mean excitatory / inhibitory rates (Hz) in the first and the last ``window`` seconds
    rates_before: dict[str, float]
    rates_after: dict[str, float]


def adapt_inhibition(
    params: SpikingEIParameters,
    inputs: ArrayLike,
    seed: int = 0,
    window: float = 1.0,
    backend: str = "numba",
) -> AdaptedInhibition:
    """Run the plastic reservoir on ``inputs`` and return its adapted inhibitory weights.

    The spiking counterpart of the rate model's adaptation phase: ``params.plastic`` must be
    true; evaluate afterwards with ``plastic=False`` and ``inhibitory_weights=result.weights``.
    """
    if not params.plastic:
        raise ValueError("adapt_inhibition needs params.plastic=True (nothing adapts otherwise)")
    u = np.asarray(inputs, dtype=np.float64).ravel()
    duration = u.size * params.bin
    if not 0 < window <= duration / 2:
        raise ValueError(f"window must lie in (0, duration / 2 = {duration / 2:g} s], got {window}")
    net = spiking_ei_reservoir(params, u, seed)
    inhibitory = [p for p in net.projections if p.label == "i_exc"]
    for proj in inhibitory:  # one sample per bin; the last is the start of the last bin
        net.record(proj, "weights", interval=params.bin, label=proj.label)
    rec = net.run(duration, backend=backend)
    weights = {p.label: rec.trace(p.label, "weights").values[-1].copy() for p in inhibitory}
    before = population_rates(rec, 0.0, window)
    after = population_rates(rec, duration - window, duration)
    return AdaptedInhibition(
        weights,
        {k: float(v.mean()) for k, v in before.items()},
        {k: float(v.mean()) for k, v in after.items()},
    )


def population_rates(rec: Recording, start: float, stop: float) -> dict[str, FloatArray]:
    """Per-neuron rates (Hz) of ``exc`` and ``inh`` in ``[start, stop)`` seconds."""
    if not stop > start:
        raise ValueError(f"need stop > start, got {start} and {stop}")
    out = {}
    for label in ("exc", "inh"):
        sp = rec.spikes[label]
        sel = (sp.times >= start) & (sp.times < stop)
        out[label] = np.bincount(sp.ids[sel], minlength=sp.neurons.size) / (stop - start)
    return out
