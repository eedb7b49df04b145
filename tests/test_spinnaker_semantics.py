"""The SpiNNaker semantics' step functions against hand-computed values of sPyNNaker's rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

import snn
from snn.backends import spinnaker_semantics as spinn


def lif_consts(**params: float) -> dict[str, np.ndarray]:
    model = snn.IF_curr_exp(**params)
    return spinn.lower_if_curr_exp(model.realize(1, np.random.default_rng(0)), 1e-3)


def test_lut_is_spynnakers_fixed_point_table() -> None:
    lut = spinn.exp_decay_lut(3e-3, 1e-3)
    # ln(2048) * 3 = 22.9 -> rounded up to an even 24 entries, floor(2048 exp(-k/3))
    assert lut.size == 24
    assert lut[:4].tolist() == [2048, 1467, 1051, 753]
    assert spinn.lut_decay(lut, np.array([23, 24, 1000, -1])).tolist() == [0, 0, 0, 0]


def test_membrane_closed_form_with_input_scaling() -> None:
    """One 6 nA input on a slow CA3 neuron: I = w tau_syn/dt (1 - e^-dt/tau_syn)."""
    net = snn.Network(dt=1e-3, seed=0, semantics="spinnaker")
    src = net.population(1, snn.SpikeSourceArray([[0.0]]))
    cell = snn.IF_curr_exp(cm=0.27e-9, tau_m=3e-3, tau_syn_E=0.3e-3, v_rest=-60e-3, v_thresh=0.0)
    post = net.population(1, cell, initial={"v": -60e-3})
    net.connect(src, post, snn.OneToOne(), weight=6e-9, delay=1e-3)
    net.record(post, "v", "isyn_exc")
    rec = net.run(4e-3)
    current = 6e-9 * 0.3 * (1 - math.exp(-1 / 0.3))
    alpha = current * (3e-3 / 0.27e-9) - 60e-3
    v2 = alpha - math.exp(-1 / 3) * (alpha + 60e-3)  # after step 1 (arrival at 0 + delay)
    v3 = (
        -60e-3
        + math.exp(-1 / 3) * (v2 + 60e-3)
        + current * math.exp(-1 / 0.3) * (3e-3 / 0.27e-9) * (1 - math.exp(-1 / 3))
    )
    trace = rec.trace(post.label, "v").values[:, 0]
    assert trace[:2].tolist() == [-60e-3, -60e-3]
    assert trace[2] == pytest.approx(v2, abs=1e-15)
    assert trace[3] == pytest.approx(v3, abs=1e-15)
    assert rec.trace(post.label, "isyn_exc").values[2, 0] == pytest.approx(
        current * math.exp(-1 / 0.3)
    )


def test_threshold_is_inclusive_and_refractory_counts_ceil_steps() -> None:
    consts = lif_consts(v_rest=-57e-3, v_thresh=-57e-3, v_reset=-60e-3, tau_refrac=1e-3)
    state = {
        "v": np.array([-57e-3]),
        "isyn_exc": np.zeros(1),
        "isyn_inh": np.zeros(1),
        "refract_timer": np.zeros(1, dtype=np.int64),
    }
    state, spiked = spinn.if_curr_exp_step(state, consts, np.zeros(1), np.zeros(1))
    assert spiked.tolist() == [True]  # v == v_thresh spikes (>=)
    assert state["v"].tolist() == [-60e-3] and state["refract_timer"].tolist() == [1]
    state, spiked = spinn.if_curr_exp_step(state, consts, np.full(1, 1e-6), np.zeros(1))
    assert not spiked[0] and state["v"].tolist() == [-60e-3]  # held, timer counts down
    assert lif_consts(tau_refrac=0.3e-3)["refrac_steps"].tolist() == [1]
    assert lif_consts(tau_refrac=2e-3)["refrac_steps"].tolist() == [2]


@pytest.mark.parametrize("tau_refrac_ms", [1, 2])
def test_driven_neuron_fires_every_refractory_period_plus_one(tau_refrac_ms: int) -> None:
    net = snn.Network(dt=1e-3, seed=0, semantics="spinnaker")
    src = net.population(1, snn.SpikeSourceArray([[t * 1e-3 for t in range(20)]]))
    post = net.population(1, snn.IF_curr_exp(tau_refrac=tau_refrac_ms * 1e-3, v_thresh=-64e-3))
    net.connect(src, post, snn.OneToOne(), weight=50e-9, delay=1e-3)
    net.record(post, "spikes")
    steps = np.rint(net.run(20e-3).spikes[post.label].times * 1e3).astype(int)
    assert steps.tolist() == list(range(1, 20, tau_refrac_ms + 1))


def history_with(times: list[int], lut: np.ndarray) -> spinn.PostHistory:
    h = spinn.PostHistory.empty(1)
    for t in times:
        h = spinn.add_post_spikes(h, np.array([0]), t, lut)
    return h


RULE = spinn.SpinnakerSTDP(
    A_plus=6e-9,
    A_minus=6e-9,
    w_min=0.0,
    w_max=6e-9,
    lut_plus=spinn.exp_decay_lut(3e-3, 1e-3),
    lut_minus=spinn.exp_decay_lut(3e-3, 1e-3),
)


def update(w: float, t: int, last_pre: int, last_trace: int, posts: list[int], rule=RULE) -> float:
    out = spinn.stdp_pre_spike_update(
        np.array([w]),
        np.array([0]),
        np.array([1]),
        t,
        np.array([last_pre]),
        np.array([last_trace]),
        history_with(posts, rule.lut_minus),
        rule,
    )
    return float(out[0])


def test_additive_amplitudes_are_weights_not_fractions_of_w_max() -> None:
    # pre at 10 (trace 1.0), post at 10, next pre at 12: pair lag = 10 + 1 - 10 = 1
    w = update(0.0, 12, 10, 2048, [10])
    potentiation = 6e-9 * 1467 / 2048  # A+ * lut[1], not A+ * w_max
    depression = 6e-9 * 1467 / 2048  # the same post spike, 12 - (10 + 1) = 1 before
    assert w == pytest.approx(max(min(potentiation, 6e-9) - depression, 0.0), abs=1e-21)
    assert update(0.0, 40, 10, 2048, [10]) == pytest.approx(potentiation)


def test_depression_at_zero_lag_uses_the_full_post_trace() -> None:
    """A post spike one dendritic delay before the pre spike depresses with lut[0] = 1."""
    assert update(6e-9, 20, 0, 0, [19]) == 0.0
    older = spinn.SpinnakerSTDP(**{**RULE.__dict__, "depress_at_zero_lag": False})
    assert update(6e-9, 20, 0, 0, [19], older) == 6e-9
    # a post spike later than t - d is left for the next pre spike
    assert update(6e-9, 20, 0, 0, [20]) == 6e-9


def test_post_history_keeps_the_placeholder_and_the_last_15_spikes() -> None:
    lut = spinn.exp_decay_lut(3e-3, 1e-3)
    h = history_with(list(range(10, 30)), lut)
    assert h.n_events.tolist() == [16]
    assert h.times[0].tolist() == [0, *range(15, 30)]
    # post traces accumulate in fixed point: 1 + 1 lut[1] >> 11 ...
    assert h.traces[0, 0] == 0 and h.traces[0, -1] > 2048 * 3
    # the dropped spikes (10..14) no longer potentiate: a pre spike long after (no depression)
    # pairs only post spikes 15..29 with the previous pre spike at 9 (lags 7..21)
    kept = 6e-9 * sum(int(lut[k]) for k in range(7, 22)) / 2048
    assert update(0.0, 60, 9, 2048, list(range(10, 30))) == pytest.approx(kept, abs=1e-21)
    assert kept < 6e-9 / 2  # with 10..14 kept (lags 2..6) it would reach w_max


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda net: net.population(1, snn.IF_cond_exp()), r"neuron model 'IF_cond_exp'"),
        (lambda net: net.population(1, snn.AdaptiveLIF()), r"neuron model 'AdaptiveLIF'"),
        (
            lambda net: net.connect(
                net.population(1, snn.IF_curr_exp()),
                net.population(1, snn.IF_curr_exp()),
                snn.AllToAll(),
                weight=0.0,
                plasticity=snn.STDP("multiplicative"),
            ),
            r"do not implement multiplicative STDP",
        ),
    ],
)
def test_unsupported_features_are_refused(build: object, message: str) -> None:
    net = snn.Network(dt=1e-3, seed=0, semantics="spinnaker")
    build(net)  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        net.run(5e-3, backend="numpy")


def test_exact_semantics_are_untouched_by_the_mode() -> None:
    """The same network differs between the modes (>= vs >, refractory counting)."""
    rates = {}
    for semantics in ("exact", "spinnaker"):
        net = snn.Network(dt=1e-3, seed=0, semantics=semantics)
        src = net.population(1, snn.SpikeSourceArray([[t * 1e-3 for t in range(20)]]))
        post = net.population(1, snn.IF_curr_exp(tau_refrac=1e-3, v_thresh=-64e-3))
        net.connect(src, post, snn.OneToOne(), weight=50e-9, delay=1e-3)
        net.record(post, "spikes")
        rates[semantics] = net.run(20e-3).spikes[post.label].count
    assert rates == {"exact": 19, "spinnaker": 10}
