"""Bad input fails early with a ValueError whose message names the problem (and the fix).

Each case is one line of a table: what the user does, and a regular expression that the message
must match; the expressions name the offending parameter or value, so a generic message fails.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import snn

DT = 0.1e-3


def _net() -> tuple[snn.Network, snn.Population, snn.Population]:
    net = snn.Network(dt=DT, seed=1)
    a = net.population(3, snn.IF_curr_exp(), label="a")
    b = net.population(4, snn.IF_curr_exp(), label="b")
    return net, a, b


def _connect(**kw: Any) -> Callable[[], object]:
    """Connect a (3) -> b (4) all-to-all with the given keyword arguments."""

    def go() -> object:
        net, a, b = _net()
        return net.connect(a, b, kw.pop("connector", snn.AllToAll()), **kw)

    return go


def _stdp_connect(weight: float, **rule: float) -> Callable[[], object]:
    def go() -> object:
        net, a, b = _net()
        return net.connect(a, b, snn.AllToAll(), weight=weight, plasticity=snn.STDP(**rule))

    return go


def _population(size: int, model_factory: Callable[[], snn.neurons.NeuronModel]) -> Callable:
    def go() -> object:
        return snn.Network(dt=DT, seed=1).population(size, model_factory())

    return go


def _run(duration: float, backend: str = "numpy", **kw: Any) -> Callable[[], object]:
    def go() -> object:
        net, a, _ = _net()
        net.record(a, "spikes")
        return net.run(duration, backend=backend, **kw)

    return go


def _spike_source_run(times: Any) -> Callable[[], object]:
    def go() -> object:
        net = snn.Network(dt=DT, seed=1)
        src = net.population(1, snn.SpikeSourceArray(times), label="src")
        net.record(src, "spikes")
        return net.run(5e-3)

    return go


def _record(make: Callable[[snn.Network, snn.Population, snn.Population], None]) -> Callable:
    def go() -> object:
        net, a, b = _net()
        return make(net, a, b)

    return go


def _twice(make: Callable[[snn.Network, snn.Population, snn.Population], object]) -> Callable:
    def go() -> object:
        net, a, b = _net()
        make(net, a, b)
        return make(net, a, b)

    return go


def _static_weights(net: snn.Network, a: snn.Population, b: snn.Population) -> None:
    net.record(net.connect(a, b, snn.AllToAll(), weight=1e-9), "weights")


LIF_NAMES = ", ".join(snn.IF_curr_exp.parameters)


def _spinnaker_semantics_on_brian2() -> object:
    net = snn.Network(dt=1e-3, seed=1, semantics="spinnaker")
    net.population(2, snn.IF_curr_exp())
    return net.run(0.01, backend="brian2")


CASES: dict[str, tuple[Callable[[], object], str]] = {
    # unknown names, with the list of valid ones
    "unknown semantics": (
        lambda: snn.Network(semantics="loihi"),
        r"unknown semantics 'loihi'; valid choices: exact, spinnaker",
    ),
    "semantics a backend does not implement": (
        _spinnaker_semantics_on_brian2,
        r"backend 'brian2' does not implement the 'spinnaker' semantics",
    ),
    "unknown parameter": (
        lambda: snn.IF_curr_exp(tau_mem=10e-3),
        rf"IF_curr_exp: unknown parameter\(s\) tau_mem; valid names: {LIF_NAMES}",
    ),
    "unknown parameters sorted": (
        lambda: snn.AdaptiveLIF(zeta=1.0, alpha=2.0),
        r"unknown parameter\(s\) alpha, zeta; valid names: tau_m, .*, delta_theta",
    ),
    "unknown cond parameter": (
        lambda: snn.IF_cond_exp(e_rev_exc=0.0),
        r"unknown parameter\(s\) e_rev_exc; valid names: .*e_rev_E, e_rev_I",
    ),
    "unknown poisson parameter": (
        lambda: snn.SpikeSourcePoisson(rates=3.0),
        r"unknown parameter\(s\) rates; valid names: rate, start, duration",
    ),
    "unknown STDP parameter": (
        lambda: snn.STDP(tau=1.0),
        r"STDP: unknown parameter\(s\) tau; valid names: tau_plus, tau_minus",
    ),
    "unknown state variable": (
        lambda: _net()[1].initialize(u=0.0),
        r"unknown state variable 'u'; valid names: v, isyn_exc, isyn_inh",
    ),
    "unknown initial state in population()": (
        lambda: snn.Network().population(2, snn.IF_cond_exp(), initial={"isyn_exc": 0.0}),
        r"unknown state variable 'isyn_exc'; valid names: v, gsyn_exc, gsyn_inh",
    ),
    "unknown receptor": (
        _connect(receptor="ampa"),
        r"unknown receptor 'ampa'; valid choices: excitatory, inhibitory",
    ),
    "unknown backend": (
        _run(1e-3, backend="nest"),
        r"unknown backend 'nest'; valid choices: .*numpy",
    ),
    "unknown weight dependence": (
        lambda: snn.STDP("log"),
        r"unknown weight_dependence 'log'; valid choices: additive, multiplicative",
    ),
    "unknown record variable": (
        _record(lambda net, a, b: net.record(a, "spikes", "u")),
        r"no recordable variable 'u'; valid names: spikes, v, isyn_exc, isyn_inh",
    ),
    "record state of a spike source": (
        _record(lambda net, a, b: net.record(net.population(2, snn.SpikeSourcePoisson()), "v")),
        r"no recordable variable 'v'; valid names: spikes$",
    ),
    "unknown numpy backend option": (
        _run(1e-3, threads=4),
        r"numpy backend: unknown option\(s\) threads",
    ),
    # shapes
    "2-D parameter": (
        lambda: snn.IF_curr_exp(tau_m=np.full((2, 2), 10e-3)),
        r"tau_m must be a scalar or 1-D, got shape \(2, 2\)",
    ),
    "parameter array of the wrong length": (
        _population(5, lambda: snn.IF_curr_exp(tau_m=np.full(3, 10e-3))),
        r"tau_m has shape \(3,\); give a scalar or 5 values",
    ),
    "initial value of the wrong length": (
        lambda: _net()[1].initialize(v=np.zeros(5)),
        r"v has shape \(5,\); give a scalar or 3 values",
    ),
    "weight vector of the wrong length": (
        _connect(weight=np.ones(5) * 1e-9),
        r"5 weights given for 12 connections",
    ),
    "weight matrix of the wrong shape": (
        _connect(weight=np.ones((4, 3)) * 1e-9),
        r"weight matrix has shape \(4, 3\), expected \(n_pre, n_post\) = \(3, 4\)",
    ),
    "3-D weights": (
        _connect(weight=np.ones((3, 4, 1)) * 1e-9),
        r"weight has shape \(3, 4, 1\); give a scalar or 12 values",
    ),
    "delay vector of the wrong length": (
        _connect(delay=np.full(3, DT)),
        r"delay has shape \(3,\); give a scalar or 12 values",
    ),
    "spike trains for the wrong size": (
        lambda: snn.Network().population(3, snn.SpikeSourceArray([[1e-3], [2e-3]])),
        r"2 spike trains for a population of 3",
    ),
    "FromList of the wrong shape": (
        lambda: snn.FromList([[0, 1, 2]]),
        r"FromList needs an array of shape \(k, 2\), got shape \(1, 3\)",
    ),
    "FromList of fractional indices": (
        lambda: snn.FromList([[0, 1.5]]),
        r"FromList indices must be whole numbers",
    ),
    "FromList index out of range": (
        _connect(connector=snn.FromList([[0, 4]])),
        r"FromList: post index 4 is out of range for a post of size 4",
    ),
    "one-to-one size mismatch": (
        _connect(connector=snn.OneToOne()),
        r"OneToOne needs pre and post of equal size, got 3 and 4",
    ),
    # NaN and inf
    "NaN weight": (_connect(weight=np.nan), r"weight must be finite, got nan"),
    "inf in a weight vector": (
        _connect(weight=np.r_[np.ones(11) * 1e-9, np.inf]),
        r"weight must be finite, got inf",
    ),
    "NaN parameter": (lambda: snn.IF_curr_exp(tau_m=np.nan), r"tau_m must be finite, got nan"),
    "inf parameter": (lambda: snn.IF_curr_exp(v_rest=np.inf), r"v_rest must be finite, got inf"),
    "NaN in a parameter array": (
        lambda: snn.IF_cond_exp(e_rev_E=[0.0, np.nan]),
        r"e_rev_E must be finite, got nan",
    ),
    "NaN distribution bound": (
        lambda: snn.Uniform(np.nan, 1.0),
        r"low must be finite, got nan",
    ),
    "NaN initial value": (
        lambda: _net()[1].initialize(v=np.nan),
        r"v must be finite, got nan",
    ),
    "NaN delay": (_connect(delay=np.nan), r"delay must be finite, got nan"),
    "NaN spike time": (lambda: snn.SpikeSourceArray([np.nan]), r"spike_times\[0\] must be finite"),
    "NaN STDP parameter": (lambda: snn.STDP(A_plus=np.nan), r"A_plus must be finite, got nan"),
    "inf dt": (lambda: snn.Network(dt=np.inf), r"dt must be a positive number of seconds"),
    # signs
    "negative weight": (
        _connect(weight=-1e-9),
        r"weights must be >= 0 \(got -1e-09\); inhibition is expressed by receptor='inhibitory'",
    ),
    "negative weight from a distribution": (
        _connect(weight=snn.Normal(0.0, 1e-9)),
        r"weights must be >= 0 \(got -",
    ),
    "negative tau_m": (lambda: snn.IF_curr_exp(tau_m=-10e-3), r"tau_m must be > 0, got -0.01"),
    "zero tau_syn_E": (lambda: snn.IF_cond_exp(tau_syn_E=0.0), r"tau_syn_E must be > 0, got 0"),
    "negative tau_refrac": (
        lambda: snn.IF_curr_exp(tau_refrac=-1e-3),
        r"tau_refrac must be >= 0, got -0.001",
    ),
    "negative tau_w": (lambda: snn.AdaptiveLIF(tau_w=-0.1), r"tau_w must be > 0, got -0.1"),
    "negative tau_m drawn from a distribution": (
        _population(4, lambda: snn.IF_curr_exp(tau_m=snn.Uniform(-2e-3, -1e-3))),
        r"tau_m must be > 0, got -",
    ),
    "negative STDP tau": (lambda: snn.STDP(tau_minus=-1e-3), r"tau_minus must be > 0"),
    "STDP bounds reversed": (
        lambda: snn.STDP(w_min=2.0, w_max=1.0),
        r"w_max \(1.0\) must be >= w_min \(2.0\)",
    ),
    "iSTDP bounds reversed": (
        lambda: snn.InhibitorySTDP(w_min=2e-9, w_max=1e-9),
        r"InhibitorySTDP: w_max \(1e-09\) must be >= w_min \(2e-09\)",
    ),
    "iSTDP negative target rate": (
        lambda: snn.InhibitorySTDP(rho0=-1.0),
        r"rho0 must be >= 0, got -1",
    ),
    "iSTDP pair-rule parameter": (
        lambda: snn.InhibitorySTDP(A_plus=1e-12),
        r"unknown parameter\(s\) A_plus; valid names: tau, eta, rho0, w_min, w_max",
    ),
    "iSTDP weight dependence": (
        lambda: snn.InhibitorySTDP("additive"),
        r"weight_dependence must be 'vogels'",
    ),
    "negative rate": (lambda: snn.SpikeSourcePoisson(rate=-1.0), r"rate must be >= 0, got -1"),
    "negative cm": (lambda: snn.IF_cond_exp(cm=-1e-9), r"cm must be > 0"),
    "probability above 1": (
        lambda: snn.FixedProbability(1.5),
        r"p must be a probability in \[0, 1\], got 1.5",
    ),
    "negative in-degree": (lambda: snn.FixedInDegree(-2), r"n must be a non-negative integer"),
    "non-positive dt": (lambda: snn.Network(dt=0.0), r"dt must be a positive number of seconds"),
    "negative seed": (lambda: snn.Network(seed=-1), r"seed must be a non-negative integer"),
    "negative run seed": (_run(1e-3, seed=-3), r"seed must be a non-negative integer"),
    "empty population": (
        lambda: snn.Network().population(0, snn.IF_curr_exp()),
        r"population shape must be positive integers, got 0",
    ),
    # delays
    "zero delay": (_connect(delay=0.0), r"delay 0 s is less than one step"),
    "negative delay": (_connect(delay=-DT), r"delay -0.0001 s is less than one step"),
    "delay of half a step": (
        _connect(delay=0.5 * DT),
        r"delay 5e-05 s is not a whole number of steps of dt=0.0001 s",
    ),
    "delay of 1.5 steps": (
        _connect(delay=1.5 * DT),
        r"delay 0.00015 s is not a whole number of steps",
    ),
    "delay vector with one fractional entry": (
        _connect(delay=np.r_[np.full(11, 2 * DT), 2.5 * DT]),
        r"delay 0.00025 s is not a whole number of steps",
    ),
    "delay distribution below one step": (
        _connect(delay=snn.Uniform(0.0, 0.4 * DT)),
        r"rounds to less than one step .*bound the distribution",
    ),
    # recording and labels
    "recording weights of a static projection": (
        _record(_static_weights),
        r"projection 'proj0' is static; its weights do not change",
    ),
    "record without variables": (
        _record(lambda net, a, b: net.record(a)),
        r"name at least one variable",
    ),
    "record interval not whole steps": (
        _record(lambda net, a, b: net.record(a, "v", interval=1.5 * DT)),
        r"record interval 0.00015 s is not a whole number of steps",
    ),
    "duplicate population label": (
        _twice(lambda net, a, b: net.population(2, snn.IF_curr_exp(), label="twice")),
        r"label 'twice' is already used",
    ),
    "duplicate projection label": (
        _twice(lambda net, a, b: net.connect(a, b, snn.AllToAll(), label="p")),
        r"label 'p' is already used",
    ),
    "duplicate recorder label": (
        _twice(lambda net, a, b: net.record(a, "spikes")),
        r"label 'a' is already used; pass label= to record the same target twice",
    ),
    # plasticity
    "initial weight above w_max": (
        _stdp_connect(2e-9, w_max=1e-9),
        r"initial weights must lie in the STDP bounds \[w_min, w_max\] = \[0, 1e-09\]",
    ),
    "initial weight below w_min": (
        _stdp_connect(0.1e-9, w_min=0.5e-9, w_max=1e-9),
        r"initial weights must lie in the STDP bounds",
    ),
    "STDP parameter array": (
        lambda: snn.STDP(A_plus=[0.1, 0.2]),
        r"A_plus must be a scalar \(one rule per projection\)",
    ),
    # spike sources and time
    "two spike times in one step": (
        _spike_source_run([1e-3, 1.04e-3]),
        r"more than one spike time falls in step 10 .*at most one spike per step",
    ),
    "duplicate spike time": (
        _spike_source_run([[2e-3, 2e-3]]),
        r"neuron 0: more than one spike time falls in step 20",
    ),
    "negative spike time": (
        lambda: snn.SpikeSourceArray([1e-3, -1e-3]),
        r"spike_times\[0\] must be >= 0, got -0.001",
    ),
    "negative spike time in the second train": (
        lambda: snn.SpikeSourceArray([[1e-3], [-2e-3]]),
        r"spike_times\[1\] must be >= 0",
    ),
    "run duration not a multiple of dt": (
        _run(1.5 * DT),
        r"duration 0.00015 s is not a whole number of steps of dt=0.0001 s",
    ),
    "negative run duration": (_run(-DT), r"duration -0.0001 s is less than 0 step"),
    "infinite run duration": (_run(np.inf), r"duration must be finite"),
    # wiring
    "synapses onto a spike source": (
        _record(
            lambda net, a, b: net.connect(
                a, net.population(2, snn.SpikeSourcePoisson()), snn.AllToAll()
            )
        ),
        r"is a spike source \(SpikeSourcePoisson\) and cannot receive synapses",
    ),
    "connect across networks": (
        _record(lambda net, a, b: net.connect(a, _net()[2], snn.AllToAll())),
        r"post 'b' belongs to another network",
    ),
    "not a neuron model": (
        lambda: snn.Network().population(2, "LIF"),
        r"model must be a neuron model such as snn.IF_curr_exp\(\), got 'LIF'",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_raises_a_clear_value_error(case: str) -> None:
    action, message = CASES[case]
    with pytest.raises(ValueError, match=message):
        action()


def test_every_expected_message_is_a_valid_pattern() -> None:
    """Guards the table itself: a broken regular expression would make a case meaningless."""
    for action, message in CASES.values():
        re.compile(message)
        assert callable(action)


# -- immutability -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "attribute"),
    [
        (snn.IF_curr_exp(), "tau_m"),
        (snn.IF_cond_exp(), "e_rev_E"),
        (snn.AdaptiveLIF(), "b"),
        (snn.SpikeSourcePoisson(rate=3.0), "rate"),
        (snn.SpikeSourceArray([1e-3]), "spike_times"),
        (snn.STDP(), "A_plus"),
        (snn.IF_curr_exp(), "new_attribute"),
    ],
)
def test_models_are_immutable(obj: object, attribute: str) -> None:
    """Setting an attribute of a model or rule raises; build a new one with ``replace``."""
    with pytest.raises(AttributeError, match="immutable"):
        setattr(obj, attribute, 1.0)


@pytest.mark.parametrize(
    ("obj", "attribute"),
    [
        (snn.AllToAll(), "allow_self_connections"),
        (snn.FixedProbability(0.1), "p"),
        (snn.FixedInDegree(3), "n"),
        (snn.FromList([[0, 1]]), "connections"),
        (snn.Uniform(0.0, 1.0), "high"),
    ],
)
def test_connectors_and_distributions_are_frozen(obj: object, attribute: str) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, attribute, 1)


def test_realised_arrays_are_read_only() -> None:
    """Parameter arrays, a FromList's pairs and a projection's realised arrays cannot be edited
    in place (which would silently desynchronise a saved or compiled network)."""
    model = snn.IF_curr_exp(tau_m=np.array([10e-3, 20e-3]))
    net, a, b = _net()
    proj = net.connect(a, b, snn.AllToAll(), weight=1e-9)
    arrays = [model.tau_m, snn.FromList([[0, 1]]).connections]
    arrays += [proj.pre_idx, proj.post_idx, proj.weights, proj.delays, a.initial["v"]]
    arrays += [snn.SpikeSourceArray([1e-3]).spike_times[0]]
    for arr in arrays:
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 0


def test_replace_builds_a_new_model() -> None:
    """The immutable way to change a parameter leaves the original untouched and validates."""
    model = snn.IF_curr_exp(tau_m=10e-3)
    other = model.replace(tau_m=30e-3)
    assert model.tau_m == 10e-3 and other.tau_m == 30e-3
    with pytest.raises(ValueError, match="unknown parameter"):
        model.replace(tau=1.0)
    with pytest.raises(ValueError, match="tau_m must be > 0"):
        model.replace(tau_m=-1.0)
    rule = snn.STDP("multiplicative", A_plus=0.1)
    assert rule.replace(A_minus=0.3).weight_dependence == "multiplicative"
    istdp = snn.InhibitorySTDP(rho0=5.0)
    assert istdp.replace(rho0=2.0).alpha == pytest.approx(2 * 2.0 * 20e-3)
    assert istdp.alpha == pytest.approx(2 * 5.0 * 20e-3)


def test_inhibitory_stdp_is_refused_where_it_has_no_lowering() -> None:
    """The spinnaker semantics and the PyNN deploy design rules name the rule and what to use."""
    from snn.hardware import check_network

    for semantics in ("exact", "spinnaker"):
        net = snn.Network(dt=1e-3, seed=0, semantics=semantics)
        pre = net.population(4, snn.SpikeSourcePoisson(rate=20.0), label="pre")
        post = net.population(3, snn.IF_curr_exp(), label="post")
        net.connect(
            pre,
            post,
            snn.AllToAll(),
            weight=0.1e-9,
            receptor="inhibitory",
            plasticity=snn.InhibitorySTDP(),
            label="ie",
        )
        if semantics == "spinnaker":
            with pytest.raises(ValueError, match=r"do not implement InhibitorySTDP.*'ie'"):
                net.run(0.01, backend="numpy")
            continue
        report = check_network(net, target="nest", raise_errors=False)
        assert [v.rule for v in report.errors] == ["unsupported_plasticity"]
        assert "numpy, numba, cuda or brian2" in report.errors[0].message
