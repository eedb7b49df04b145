"""The Numba backend's ``spinnaker`` semantics reproduce the NumPy reference's bit for bit.

Random small networks under ``semantics="spinnaker"`` (``IF_curr_exp`` populations with
heterogeneous parameters, Poisson and spike-array sources, several projections onto both
receptors, delays of 1-16 steps, additive STDP on recurrent and feed-forward projections) run on
both backends with the same seed; spikes, state traces and plastic weights are compared with
``np.array_equal``. Each network is checked to exercise what it is meant to (spikes, weight
changes, full post-spike histories, wrapped 16-bit traces), so equality is not vacuous. The
hardware conformance of the CA3 memory on Numba is in ``test_ca3_conformance.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import snn
from parity import assert_identical
from snn.backends import get_backend
from snn.backends import spinnaker_semantics as spinn
from snn.backends.numpy_backend import NumpySimulator
from snn.compiled import compile_network

pytest.importorskip("numba", reason="the numba backend needs the 'numba' package")

from snn.backends import numba_backend
from snn.backends.numba_backend import NumbaSimulator

DT = 1e-3


def random_network(seed: int) -> snn.Network:
    """A random plastic network on the SpiNNaker semantics (see the module docstring)."""
    rng = np.random.default_rng(seed)
    net = snn.Network(dt=DT, seed=seed, semantics="spinnaker")
    poisson = net.population(
        int(rng.integers(15, 30)),
        snn.SpikeSourcePoisson(rate=float(rng.uniform(150.0, 250.0)), start=5e-3),
        label="poisson",
    )
    # a few sparse spike trains (long pre intervals fill the post histories) and dense ones
    trains = [np.sort(rng.choice(200, size=int(rng.integers(1, 6)), replace=False)) * DT]
    trains += [np.sort(rng.choice(200, size=60, replace=False)) * DT for _ in range(7)]
    array = net.population(len(trains), snn.SpikeSourceArray(trains), label="array")
    lif = {
        "cm": snn.Uniform(0.2e-9, 0.4e-9),
        "tau_m": snn.Uniform(5e-3, 20e-3),
        "tau_syn_E": snn.Uniform(0.5e-3, 5e-3),
        "tau_syn_I": snn.Uniform(1e-3, 8e-3),
        "tau_refrac": float(rng.choice([0.3e-3, 1e-3, 2e-3])),
        "v_rest": -65e-3,
        "v_reset": -70e-3,
        "v_thresh": snn.Uniform(-56e-3, -52e-3),
        "i_offset": snn.Uniform(0.0, 0.1e-9),
    }
    pops = [
        net.population(
            int(rng.integers(20, 40)),
            snn.IF_curr_exp(**lif),
            label=f"lif{k}",
            initial={"v": snn.Uniform(-70e-3, -55e-3)},
        )
        for k in range(3)
    ]
    # v_rest == v_thresh: the inclusive threshold (v >= v_thresh) fires these at rest, which
    # the membrane reaches exactly (in float64) about 40 steps after each reset
    tonic = net.population(
        3,
        snn.IF_curr_exp(tau_m=1e-3, v_rest=-60e-3, v_thresh=-60e-3, v_reset=-70e-3),
        label="tonic",
        initial={"v": -60e-3},
    )
    delays = snn.Uniform(0.6e-3, 16.4e-3)  # 1..16 steps
    stdp = snn.STDP(tau_plus=20e-3, tau_minus=30e-3, A_plus=0.3e-9, A_minus=0.35e-9, w_max=3e-9)
    # long traces: 16-bit trace storage wraps at 16 (fixed point 32768), as on the board
    slow = snn.STDP(tau_plus=400e-3, tau_minus=300e-3, A_plus=0.02e-9, A_minus=0.03e-9, w_max=2e-9)
    w = snn.Uniform(0.2e-9, 2e-9)
    net.connect(poisson, pops[0], snn.FixedProbability(0.4), weight=w, delay=delays)
    net.connect(array, pops, snn.FixedProbability(0.5), weight=w, delay=delays, plasticity=stdp)
    net.connect(
        poisson, pops[1], snn.FixedProbability(0.3), weight=w, delay=delays, plasticity=slow
    )
    net.connect(pops[0], pops[1], snn.FixedProbability(0.3), weight=w, delay=delays)
    net.connect(pops[1], pops[2], snn.AllToAll(), weight=w, delay=delays, plasticity=stdp)
    net.connect(
        pops[2],
        pops[2],
        snn.FixedProbability(0.2, allow_self_connections=False),
        weight=w,
        delay=delays,
        plasticity=stdp,
    )
    net.connect(
        pops[2], pops[:2], snn.FixedProbability(0.3), weight=w, receptor="inhibitory", delay=delays
    )
    net.connect(
        poisson[:10],
        pops[2][:10],
        snn.OneToOne(),
        weight=1.5e-9,
        receptor="inhibitory",
        delay=3e-3,
        plasticity=stdp,
    )
    net.connect(tonic, pops[0], snn.AllToAll(), weight=0.5e-9, delay=delays)
    for pop in [*pops, tonic]:
        net.record(pop, "spikes", "v", "isyn_exc", "isyn_inh")
    net.record(poisson[::2], "spikes", label="poisson_view")
    net.record(array, "spikes")
    net.record(pops[1][::3], "v", interval=3e-3, label="v_sparse")
    for proj in net.projections:
        if proj.plasticity is not None:
            net.record(proj, "weights", interval=2e-3)
    return net


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_plastic_networks_match_the_reference_bit_for_bit(seed: int) -> None:
    net = random_network(seed)
    duration = 0.3
    ref = net.run(duration, backend="numpy")
    compiled = compile_network(net)
    sim = NumbaSimulator(compiled, net.seed)
    done = 0
    for k in (1, 16, 17, 60, 300):  # chunked runs continue where they stopped
        k = min(k, net.n_steps(duration) - done)
        sim.run(k)
        done += k
    out = sim.recording(duration)
    assert out.backend == "numba"
    n_spikes = assert_identical(ref, out)
    assert n_spikes > 500
    for k in range(3):
        assert ref.spikes[f"lif{k}"].count > 20, f"lif{k} hardly spikes"
    assert ref.spikes["tonic"].count >= 3 * 5
    # the plastic weights moved, and the rarer paths of the rules were taken
    assert sim._spin is not None
    sst = sim._spin[1]
    moved = [
        not np.array_equal(trace["weights"].values[0], trace["weights"].values[-1])
        for label, trace in ref.traces.items()
        if "weights" in trace
    ]
    assert all(moved)
    assert (sst.post_count == spinn.MAX_POST_SYNAPTIC_EVENTS).any(), "no history filled up"
    assert (sst.pre_trace < 0).any(), "no 16-bit pre trace wrapped"
    assert np.array_equal(compiled.projections[0].weights, net.projections[0].weights)


def test_one_run_equals_the_backend_entry_point() -> None:
    """``net.run(backend='numba')`` (one call) equals the reference too."""
    net = random_network(3)
    ref = net.run(0.15, backend="numpy")
    out = net.run(0.15, backend="numba")
    assert assert_identical(ref, out) > 100


def test_fixed_point_helpers_equal_the_pure_functions() -> None:
    """Negative (wrapped) traces shift arithmetically; lags outside the table decay to 0."""
    rng = np.random.default_rng(0)
    lut = spinn.exp_decay_lut(20e-3, 1e-3)
    traces = rng.integers(-32768, 32768, size=400)
    last = rng.integers(-5, 200, size=400)
    expected = spinn.add_spike_to_trace(150, last, traces, lut)
    got = [
        numba_backend._add_spike_to_trace(150, int(t0), int(x), lut, 0, lut.size)
        for t0, x in zip(last, traces, strict=True)
    ]
    assert np.array_equal(expected, got)
    assert (expected < 0).any() and (150 - last >= lut.size).any() and (150 - last < 0).any()


def _unsupported(build: Callable[[snn.Network], object]) -> snn.Network:
    net = snn.Network(dt=DT, seed=0, semantics="spinnaker")
    build(net)
    return net


@pytest.mark.parametrize(
    "build",
    [
        lambda net: net.population(1, snn.IF_cond_exp()),
        lambda net: net.population(1, snn.AdaptiveLIF()),
        lambda net: net.connect(
            net.population(1, snn.IF_curr_exp()),
            net.population(1, snn.IF_curr_exp()),
            snn.AllToAll(),
            weight=0.0,
            plasticity=snn.STDP("multiplicative"),
        ),
    ],
    ids=["IF_cond_exp", "AdaptiveLIF", "multiplicative STDP"],
)
def test_unsupported_features_fail_at_construction_as_on_the_reference(
    build: Callable[[snn.Network], object],
) -> None:
    compiled = compile_network(_unsupported(build))
    with pytest.raises(ValueError) as ref_error:
        NumpySimulator(compiled, 0)
    with pytest.raises(ValueError) as numba_error:
        NumbaSimulator(compiled, 0)
    assert str(numba_error.value) == str(ref_error.value)
    assert "the 'spinnaker' semantics do not implement" in str(numba_error.value)


def test_fastmath_is_refused_and_the_registry_lists_the_semantics() -> None:
    net = snn.Network(dt=DT, seed=0, semantics="spinnaker")
    net.population(2, snn.IF_curr_exp())
    with pytest.raises(ValueError, match=r"fastmath=True is not available with the 'spinnaker'"):
        NumbaSimulator(compile_network(net), 0, fastmath=True)
    assert "spinnaker" in get_backend("numba").semantics
