"""The Brian2 backend against the NumPy reference: an independent simulator, the same spikes.

Brian2 integrates each model from its own equations (``exact`` / ``exponential_euler``), so state
and weights agree with the reference to rounding only (stated tolerances below), while every
spike must be identical: a last-bit difference flips a threshold decision with a probability of
order 1e-12 per spike, far below what these small networks could show.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

pytest.importorskip("brian2", reason="the brian2 backend needs the 'brian2' package")

import snn
from snn.backends.brian2_backend import Brian2Simulator
from snn.compiled import compile_network
from snn.models import vogels_abbott
from snn.recording import Recording

# Brian2 2.9 calls pyparsing's deprecated camelCase API
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pyparsing")

#: relative tolerance of state traces and weights, relative to each trace's largest magnitude
STATE_RTOL = 1e-9

DT = 0.1e-3


def assert_same_spikes(ref: Recording, other: Recording) -> None:
    assert set(ref.spikes) == set(other.spikes)
    for label, sp in ref.spikes.items():
        got = other.spikes[label]
        assert sp.count == got.count, f"{label}: {sp.count} spikes vs {got.count}"
        np.testing.assert_array_equal(got.ids, sp.ids, err_msg=label)
        np.testing.assert_array_equal(
            np.rint(got.times / ref.dt), np.rint(sp.times / ref.dt), err_msg=label
        )


def assert_close_traces(ref: Recording, other: Recording) -> None:
    assert set(ref.traces) == set(other.traces)
    for label, traces in ref.traces.items():
        assert set(traces) == set(other.traces[label])
        for var, tr in traces.items():
            got = other.traces[label][var]
            np.testing.assert_array_equal(got.times, tr.times)
            np.testing.assert_array_equal(got.index, tr.index)
            assert got.unit == tr.unit
            scale = float(np.abs(tr.values).max()) if tr.values.size else 1.0
            np.testing.assert_allclose(
                got.values,
                tr.values,
                rtol=STATE_RTOL,
                atol=STATE_RTOL * scale,
                err_msg=f"{label}.{var}",
            )


def run_both(net: snn.Network, duration: float, chunks: int = 1) -> tuple[Recording, Recording]:
    """The reference recording, and Brian2's (run in ``chunks`` successive calls)."""
    ref = net.run(duration, backend="numpy")
    n_steps = net.n_steps(duration)
    sim = Brian2Simulator(compile_network(net), net.seed)
    bounds = np.linspace(0, n_steps, chunks + 1).astype(int)
    for a, b in itertools.pairwise(bounds):
        sim.run(int(b - a))
    assert sim.step == n_steps
    return ref, sim.recording(duration)


def driven_network(model: snn.neurons.NeuronModel, n: int = 40, seed: int = 3) -> snn.Network:
    """Poisson and array input on both receptors, recurrent synapses, heterogeneous delays."""
    net = snn.Network(dt=DT, seed=seed)
    unit = 1e-9  # nA, or nS for conductance synapses
    scale = 8.0 if model.synapse_type == "conductance" else 1.0
    noise = net.population(30, snn.SpikeSourcePoisson(rate=snn.Uniform(40.0, 120.0)), label="noise")
    times = [np.arange(5e-3 + 1e-3 * i, 0.15, 20e-3) for i in range(5)]
    pulses = net.population(5, snn.SpikeSourceArray(times), label="pulses")
    pop = net.population(n, model, label="pop", initial={"v": snn.Uniform(-65e-3, -52e-3)})
    delay = snn.Uniform(0.1e-3, 2.5e-3)
    net.connect(
        noise,
        pop,
        snn.FixedProbability(0.4),
        weight=snn.Uniform(0.1 * scale * unit, 0.4 * scale * unit),
        delay=delay,
    )
    net.connect(
        noise[:10],
        pop,
        snn.FixedInDegree(3),
        weight=0.6 * scale * unit,
        receptor="inhibitory",
        delay=delay,
    )
    net.connect(pulses, pop[: 2 * 5 : 2], snn.OneToOne(), weight=3.0 * scale * unit, delay=1e-3)
    net.connect(
        pop,
        pop,
        snn.FixedProbability(0.1, allow_self_connections=False),
        weight=0.4 * scale * unit,
        receptor="inhibitory",
        delay=delay,
    )
    net.connect(pop[::3], pop[1::3], snn.AllToAll(), weight=0.05 * scale * unit, delay=0.3e-3)
    pairs = np.array([[0, 1], [1, 0], [2, 2], [3, 1], [0, 1]])
    net.connect(
        pop[[7, 3, 5, 9]],
        pop[[4, 2, 8]],
        snn.FromList(pairs),
        weight=0.5 * scale * unit,
        delay=[0.1e-3, 0.5e-3, 1e-3, 0.2e-3, 0.3e-3],
    )
    net.record(pop, "spikes", *model.state_variables, interval=0.3e-3)
    net.record(pop[[11, 2, 30]], "spikes", "v", label="view")
    net.record(noise, "spikes")
    net.record(pulses, "spikes")
    return net


LIF_PARAMS: dict[str, Any] = {
    "tau_m": snn.Uniform(15e-3, 25e-3),
    "cm": 0.25e-9,
    "v_rest": -65e-3,
    "v_reset": snn.Uniform(-70e-3, -62e-3),
    "v_thresh": snn.Uniform(-52e-3, -48e-3),
    "tau_refrac": snn.Uniform(0.5e-3, 3e-3),
    "tau_syn_E": 4e-3,
    "tau_syn_I": snn.Uniform(6e-3, 9e-3),
    "i_offset": snn.Uniform(0.0, 0.2e-9),
}

MODELS = {
    "IF_curr_exp": lambda: snn.IF_curr_exp(**LIF_PARAMS),
    "IF_cond_exp": lambda: snn.IF_cond_exp(
        **LIF_PARAMS, e_rev_E=0.0, e_rev_I=snn.Uniform(-80e-3, -70e-3)
    ),
    "AdaptiveLIF": lambda: snn.AdaptiveLIF(
        **LIF_PARAMS,
        tau_w=snn.Uniform(80e-3, 150e-3),
        b=0.02e-9,
        tau_theta=50e-3,
        delta_theta=snn.Uniform(0.5e-3, 2e-3),
    ),
}


@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_neuron_models_match_reference(model_name: str) -> None:
    net = driven_network(MODELS[model_name]())
    ref, got = run_both(net, 0.15, chunks=2)
    assert ref.spikes["pop"].count > 40, "the test network should spike"
    assert ref.spikes["pulses"].count == 5 * 8
    assert_same_spikes(ref, got)
    assert_close_traces(ref, got)


@pytest.mark.parametrize("weight_dependence", ["additive", "multiplicative"])
def test_stdp_matches_reference(weight_dependence: str) -> None:
    net = snn.Network(dt=DT, seed=5)
    src = net.population(40, snn.SpikeSourcePoisson(rate=60.0), label="src")
    post = net.population(10, snn.IF_curr_exp(tau_refrac=2e-3, tau_m=10e-3), label="post")
    amplitude = 0.05e-9 if weight_dependence == "additive" else 0.05
    rule = snn.STDP(
        weight_dependence,
        tau_plus=15e-3,
        tau_minus=25e-3,
        A_plus=amplitude,
        A_minus=1.1 * amplitude,
        w_min=0.1e-9,
        w_max=2e-9,
    )
    plastic = net.connect(
        src,
        post,
        snn.FixedProbability(0.5),
        weight=snn.Uniform(0.2e-9, 1.8e-9),
        delay=snn.Uniform(0.1e-3, 3e-3),
        plasticity=rule,
    )
    # a second, inhibitory plastic projection onto the same neurons, with its own delays
    net.connect(
        src[:20],
        post,
        snn.AllToAll(),
        weight=0.3e-9,
        receptor="inhibitory",
        delay=0.2e-3,
        plasticity=rule,
        label="inh",
    )
    net.record(post, "spikes", "v", "isyn_exc")
    net.record(plastic, "weights", interval=1e-3)
    net.record(net.projections[1], "weights", interval=2e-3)
    ref, got = run_both(net, 0.2, chunks=3)
    assert ref.spikes["post"].count > 50
    moved = np.abs(ref.trace("proj0", "weights").values[-1] - plastic.weights)
    assert moved.max() > 0.2e-9, "STDP should move the weights"
    assert_same_spikes(ref, got)
    assert_close_traces(ref, got)


@pytest.mark.parametrize("kind", ["cuba", "coba"])
def test_vogels_abbott_exact_parity(kind: str) -> None:
    """Brian2, given our synapses and initial state, reproduces every spike of the reference."""
    net = vogels_abbott(kind, n=500, seed=2)
    ref, got = run_both(net, 0.3)
    assert ref.spikes["exc"].count + ref.spikes["inh"].count > 100
    assert_same_spikes(ref, got)


def test_rejects_unknown_option_and_target() -> None:
    net, _ = _single()
    compiled = compile_network(net)
    with pytest.raises(ValueError, match="unknown option"):
        Brian2Simulator(compiled, 1, threads=2)
    with pytest.raises(ValueError, match="valid choices: numpy, cython"):
        Brian2Simulator(compiled, 1, codegen_target="cuda")


def test_rejects_singular_exact_solution() -> None:
    net, _ = _single(snn.IF_curr_exp(tau_m=10e-3, tau_syn_E=10e-3))
    with pytest.raises(ValueError, match="tau_syn_E == tau_m"):
        Brian2Simulator(compile_network(net), 1)


def _single(model: snn.neurons.NeuronModel | None = None) -> tuple[snn.Network, snn.Population]:
    net = snn.Network(dt=DT, seed=1)
    pop = net.population(2, model or snn.IF_curr_exp(), label="pop")
    net.record(pop, "spikes")
    return net, pop


def test_silent_sources_empty_view_and_uneven_chunks() -> None:
    """Sources without spikes, a source that starts late, an empty view, runs of 0, 7, 93 steps."""
    net = snn.Network(dt=1e-3, seed=4)
    empty = net.population(3, snn.SpikeSourceArray([[], [], []]), label="empty")
    silent = net.population(4, snn.SpikeSourcePoisson(rate=0.0), label="silent")
    late = net.population(
        4, snn.SpikeSourcePoisson(rate=200.0, start=20e-3, duration=30e-3), label="late"
    )
    pop = net.population(5, snn.IF_cond_exp(tau_refrac=0.0), label="pop")
    net.connect(empty, pop, snn.AllToAll(), weight=1e-9)
    net.connect(late, pop, snn.AllToAll(), weight=20e-9, delay=snn.Uniform(1e-3, 5e-3))
    net.record(pop, "spikes", "gsyn_exc", "v", interval=3e-3)
    net.record(pop[0:0], "spikes", "v", label="nothing")
    net.record(late, "spikes")
    net.record(silent, "spikes")
    ref = net.run(0.1, backend="numpy")
    sim = Brian2Simulator(compile_network(net), net.seed)
    for n_steps in (0, 7, 93):
        sim.run(n_steps)
    got = sim.recording(0.1)
    assert ref.spikes["pop"].count > 5 and ref.spikes["silent"].count == 0
    assert_same_spikes(ref, got)
    assert_close_traces(ref, got)
