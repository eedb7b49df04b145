"""The PyNN lowering executed on NEST (``deploy(net, target="nest")``) against our backends.

The same realised synapses and initial state go to NEST through ``FromListConnector``; NEST
integrates with its own solvers, so spikes differ one by one and rates are compared.

Measured (N = 4000, 1 s, dt = 0.1 ms, seed 1): CUBA exc 5.44 / inh 5.65 Hz on NEST vs 5.40 / 5.64 Hz
on Numba (< 1 %). COBA: NEST's network falls silent after the initial burst (0.16 Hz) while ours
sustains 18.0 / 18.5 Hz (and still 17.4 / 18.4 Hz with dt = 10 us, so it is not our step size).
Single IF_cond_exp neurons driven by the same spikes agree to a fraction of a mV (test below);
the difference is in the network's fragile self-sustained state: NEST delivers every spike one
step later than ours, and our own backend with 2-step delays falls silent the same way (0.17 Hz;
test_coba_on_nest_behaves_like_ours_with_one_step_longer_delays).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

if importlib.util.find_spec("pyNN") is None or importlib.util.find_spec("nest") is None:
    pytest.skip("PyNN and nest-simulator are not installed", allow_module_level=True)

import snn
from snn.hardware import DRCError, deploy
from snn.models import vogels_abbott
from snn.models.vogels_abbott import (
    COBA_E_EXC,
    COBA_E_INH,
    COBA_E_LEAK,
    COBA_WE,
    COBA_WI,
    LIF_PARAMETERS,
)

RATE_TOLERANCE = 0.15


def test_cuba_rates_match_numba():
    net = vogels_abbott("cuba", n=1000, seed=1)
    nest_rec = deploy(net, "nest", duration=0.5).recording
    ours = net.run(0.5, backend="numba")
    assert nest_rec is not None and nest_rec.backend == "nest"
    for label in ("exc", "inh"):
        ref, got = ours.rate(label), nest_rec.rate(label)
        assert ref > 2.0
        # measured: exc 4.67 vs 4.82 Hz (3 %), inh 5.36 vs 5.30 Hz (1 %)
        assert abs(got - ref) <= RATE_TOLERANCE * ref, (label, got, ref)
    assert set(nest_rec.spikes) == set(ours.spikes)
    assert nest_rec.spikes["exc"].neurons.size == 800


def _driven_neuron(model: snn.neurons.NeuronModel, w_exc: float, w_inh: float) -> snn.Network:
    rng = np.random.default_rng(0)
    net = snn.Network(dt=1e-4, seed=1)
    trains_e = [np.round(np.sort(rng.uniform(0, 0.1, 5)), 4) for _ in range(200)]
    trains_i = [np.round(np.sort(rng.uniform(0, 0.1, 5)), 4) for _ in range(50)]
    ex = net.population(200, snn.SpikeSourceArray(trains_e), label="ex")
    ih = net.population(50, snn.SpikeSourceArray(trains_i), label="ih")
    n = net.population(1, model, label="n")
    net.connect(ex, n, snn.AllToAll(), weight=w_exc)
    net.connect(ih, n, snn.AllToAll(), weight=w_inh, receptor="inhibitory")
    return net


@pytest.mark.parametrize("kind", ["conductance", "current"])
def test_single_neuron_traces_match_the_reference(kind):
    common = LIF_PARAMETERS
    if kind == "conductance":
        model = snn.IF_cond_exp(
            v_rest=COBA_E_LEAK, e_rev_E=COBA_E_EXC, e_rev_I=COBA_E_INH, **common
        )
        net = _driven_neuron(model, 0.5 * COBA_WE, 0.3 * COBA_WI)
        net.populations[2].initialize(gsyn_exc=20e-9, gsyn_inh=50e-9)
        variables = ("v", "gsyn_exc", "gsyn_inh")
    else:
        net = _driven_neuron(snn.IF_curr_exp(v_rest=-60e-3, **common), 10e-12, 20e-12)
        variables = ("v",)
    net.record(net.populations[2], "spikes", *variables)
    nest_rec = deploy(net, "nest", duration=0.1).recording
    ours = net.run(0.1, backend="numpy")
    assert nest_rec is not None
    for var in variables:
        a, b = nest_rec.trace("n", var), ours.trace("n", var)
        np.testing.assert_allclose(a.times, b.times)
        scale = np.abs(b.values).max()
        # NEST applies an arriving spike one step later: differences stay within a step's jump
        assert np.median(np.abs(a.values - b.values)) < 0.03 * scale, var
        assert np.abs(a.values[0] - b.values[0]).max() == 0.0  # initial state, units included


def test_adaptive_lif_has_no_nest_lowering():
    net = snn.Network(dt=1e-3, seed=1)
    net.population(5, snn.AdaptiveLIF(), label="a")
    with pytest.raises(DRCError, match="IF_curr_exp_ca2_adaptive"):
        deploy(net, "nest", duration=0.01)


@pytest.mark.slow
def test_coba_on_nest_behaves_like_ours_with_one_step_longer_delays():
    """COBA at N=4000, seed 1: NEST's rates are ours with every delay one step longer.

    NEST stamps a spike at the end of its step and its minimum delay is one step, so a spike
    reaches its targets one step later than ours (our 1-step delay acts on the next step's
    update; see the module docstring). The COBA network's self-sustained state hinges on that
    during the initial transient: with seed 1 and 1-step delays ours keeps firing at about
    18 Hz, with 2-step delays it dies after the initial burst (about 0.2 Hz), and so does NEST's
    run of our 1-step network. (Seed 3 dies with 1-step delays too: the state is fragile.)
    """
    net = vogels_abbott("coba", n=4000, seed=1)
    nest_rec = deploy(net, "nest", duration=1.0).recording
    assert nest_rec is not None
    ours = net.run(1.0, backend="numba")
    ours_later = vogels_abbott("coba", n=4000, seed=1, delay_steps=2).run(1.0, backend="numba")
    for label in ("exc", "inh"):
        assert ours.rate(label) > 10.0  # self-sustained with our 1-step delays
        assert ours_later.rate(label) < 1.0 and nest_rec.rate(label) < 1.0  # dies on both
        # both die after the initial burst: spike counts of the burst agree within 25 %
        ref, got = ours_later.spikes[label].count, nest_rec.spikes[label].count
        assert abs(got - ref) <= 0.25 * ref, (label, got, ref)


def test_spike_times_come_back_on_our_clock():
    """Spike sources are recorded at their given times, neurons at our step (NEST stamps a
    neuron's spike at the end of its step, one step after ours); the first response of a neuron
    to one input spike is the same step on both."""
    net = snn.Network(dt=1e-3, seed=1)
    src = net.population(2, snn.SpikeSourceArray([[5e-3, 9e-3], [7e-3]]), label="src")
    post = net.population(2, snn.IF_curr_exp(tau_refrac=1e-3), label="post")
    net.connect(src, post, snn.OneToOne(), weight=20e-9)
    net.record(src, "spikes")
    net.record(post, "spikes")
    ours = net.run(0.02, backend="numpy")
    nest_rec = deploy(net, "nest", duration=0.02).recording
    assert nest_rec is not None
    np.testing.assert_allclose(nest_rec.spikes["src"].times, [0.005, 0.007, 0.009], rtol=1e-12)
    np.testing.assert_array_equal(nest_rec.spikes["src"].ids, ours.spikes["src"].ids)
    for neuron, first in ((0, 0.006), (1, 0.008)):
        assert nest_rec.spikes["post"].trains()[neuron][0] == pytest.approx(first)
        assert ours.spikes["post"].trains()[neuron][0] == pytest.approx(first)


def test_recording_a_view_of_a_source_returns_only_its_neurons():
    net = snn.Network(dt=1e-3, seed=1)
    src = net.population(3, snn.SpikeSourceArray([[2e-3], [4e-3], [6e-3]]), label="src")
    post = net.population(1, snn.IF_curr_exp(), label="post")
    net.connect(src, post, snn.AllToAll(), weight=1e-9)
    net.record(src[1:], "spikes", label="some")
    nest_rec = deploy(net, "nest", duration=0.01).recording
    assert nest_rec is not None
    np.testing.assert_array_equal(nest_rec.spikes["some"].ids, [1, 2])
    np.testing.assert_allclose(nest_rec.spikes["some"].times, [0.004, 0.006], rtol=1e-12)
