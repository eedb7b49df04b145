"""The simulation core against independent closed forms, on every clock-driven backend.

Every expected value here is derived in the test's docstring from the model's ODE and the shared
step schedule (``snn.neurons``: arrivals, integration over ``[t, t + dt]``, threshold
``v > v_thresh`` at the step end, reset, refractory steps ``m+1 .. m+R-1``; state sampled at the
start of a step) and evaluated with its own formula, never with the library's propagators.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import snn
from conftest import one_population, spike_steps

DT = 0.1e-3  # s

# IF_curr_exp used for the firing-rate checks: R_m = tau_m / c_m = 20 MOhm, rheobase 0.75 nA
LIF = {
    "tau_m": 20e-3,
    "cm": 1e-9,
    "v_rest": -65e-3,
    "v_reset": -70e-3,
    "v_thresh": -50e-3,
    "tau_refrac": 2e-3,
}
R_M = LIF["tau_m"] / LIF["cm"]
RHEOBASE = (LIF["v_thresh"] - LIF["v_rest"]) / R_M


def _steps_to_threshold(v0: float, v_inf: float, tau_m: float, v_thresh: float, dt: float) -> int:
    """Number of whole free steps after which ``v`` first lies strictly above threshold, minus 1.

    From ``v(s) = v_inf + (v0 - v_inf) e^{-s/tau_m}`` the threshold is crossed at
    ``T = tau_m ln((v_inf - v0) / (v_inf - v_thresh))``. The step-end values are ``v(k dt)``,
    so the first ``k`` with ``v(k dt) > v_thresh`` is ``k = floor(T/dt) + 1``; the spike is
    emitted in the k-th free step, ``floor(T/dt)`` steps after the first free one.
    """
    crossing = tau_m * math.log((v_inf - v0) / (v_inf - v_thresh)) / dt
    # a crossing within rounding distance of a step end would make the expected step ambiguous
    assert abs(crossing - round(crossing)) > 1e-6, "test design: crossing too close to a step end"
    return math.floor(crossing)


def _expected_lif_spikes(i_offset: float, n_steps: int, dt: float) -> list[int]:
    """Spike steps of ``LIF`` under constant ``i_offset``, starting at rest."""
    v_inf = LIF["v_rest"] + R_M * i_offset
    if v_inf <= LIF["v_thresh"]:
        return []
    r = max(round(LIF["tau_refrac"] / dt), 1)
    first = _steps_to_threshold(LIF["v_rest"], v_inf, LIF["tau_m"], LIF["v_thresh"], dt)
    isi = r + _steps_to_threshold(LIF["v_reset"], v_inf, LIF["tau_m"], LIF["v_thresh"], dt)
    return list(range(first, n_steps, isi))


CURRENTS = np.array([0.5, 0.74, 0.8, 1.0, 1.5, 3.0]) * 1e-9  # A; the first two are sub-rheobase


@pytest.mark.parametrize(("dt", "duration"), [(0.1e-3, 0.4), (0.02e-3, 0.2)])
def test_lif_constant_current_fires_at_the_analytic_rate(
    backend: str, dt: float, duration: float
) -> None:
    r"""IF_curr_exp under a constant current: exact spike steps and the analytic rate.

    With no synaptic input, :math:`\tau_m \dot v = v_{rest} - v + R i` has the solution
    :math:`v(s) = v_\infty + (v_0 - v_\infty) e^{-s/\tau_m}`, :math:`v_\infty = v_{rest} + R i`.
    Below rheobase (:math:`v_\infty \le v_{thresh}`) ``v`` approaches :math:`v_\infty` from
    below and never fires, and each sample is exactly that exponential. Above it, the
    continuous model fires with

    .. math:: ISI = \tau_{ref} + \tau_m \ln\frac{v_\infty - v_{reset}}{v_\infty - v_{thresh}}.

    On the clock (exact integration, threshold at step ends, see ``_steps_to_threshold``) the
    first spike is at step ``floor(T_0/dt)`` with :math:`T_0` the crossing time from
    :math:`v_{rest}`, and then every ``max(R, 1) + floor(T_r/dt)`` steps, with
    ``R = round(tau_ref/dt)`` (steps ``m+1 .. m+R-1`` hold ``v``, step ``m+R`` is the first free
    one; ``R = 0`` and ``R = 1`` both leave the next step free). So the discrete ISI is within
    ``[ISI - dt, ISI]`` and the rate converges to the analytic one as ``dt -> 0``.
    """
    n_steps = round(duration / dt)
    net, _ = one_population(snn.IF_curr_exp(i_offset=CURRENTS, **LIF), size=CURRENTS.size, dt=dt)
    rec = net.run(duration, backend=backend)
    sp = rec.spikes["neuron"]
    v = rec.trace("neuron", "v").values
    assert v.shape == (n_steps, CURRENTS.size)
    for j, i_offset in enumerate(CURRENTS):
        got = spike_steps(sp.times[sp.ids == j], dt)
        expected = _expected_lif_spikes(float(i_offset), n_steps, dt)
        assert got == expected, f"i_offset={i_offset:g} A"
        v_inf = LIF["v_rest"] + R_M * i_offset
        if i_offset < RHEOBASE:
            assert got == []
            t = np.arange(n_steps) * dt
            closed = v_inf + (LIF["v_rest"] - v_inf) * np.exp(-t / LIF["tau_m"])
            np.testing.assert_allclose(v[:, j], closed, rtol=1e-12, atol=0)
            assert (v[:, j] < LIF["v_thresh"]).all()
            continue
        isi_analytic = LIF["tau_refrac"] + LIF["tau_m"] * math.log(
            (v_inf - LIF["v_reset"]) / (v_inf - LIF["v_thresh"])
        )
        assert len(got) >= 3, "test design: need at least two intervals"
        isi = np.diff(got) * dt
        assert np.all(isi <= isi_analytic + 1e-12)
        assert np.all(isi > isi_analytic - dt)
        rate, rate_analytic = 1.0 / isi.mean(), 1.0 / isi_analytic
        assert 0 <= rate - rate_analytic < rate * dt / isi_analytic + 1e-9


# -- one postsynaptic potential ---------------------------------------------------------------

PSP_NEURON = {"tau_m": 20e-3, "cm": 0.25e-9, "v_rest": -65e-3, "v_thresh": 0.0}  # R = 80 MOhm
PSP_WEIGHT = 0.1e-9  # A: R w = 8 mV


def _psp_network(
    tau_syn: float, receptor: str, delay_steps: int, spike_step: int, variables: tuple[str, ...]
) -> snn.Network:
    other = 1e-3  # the other receptor's time constant, distinct so that a mix-up shows
    tau_e, tau_i = (tau_syn, other) if receptor == "excitatory" else (other, tau_syn)
    net = snn.Network(dt=DT, seed=3)
    src = net.population(1, snn.SpikeSourceArray([spike_step * DT]), label="src")
    post = net.population(
        1, snn.IF_curr_exp(tau_syn_E=tau_e, tau_syn_I=tau_i, **PSP_NEURON), label="post"
    )
    net.connect(
        src, post, snn.OneToOne(), weight=PSP_WEIGHT, delay=delay_steps * DT, receptor=receptor
    )
    net.record(post, *variables, label="post")
    net.record(src, "spikes", label="src")
    return net


@pytest.mark.parametrize(
    ("tau_syn", "receptor"),
    [
        (5e-3, "excitatory"),
        (35e-3, "excitatory"),
        (20e-3, "excitatory"),  # tau_syn == tau_m
        (8e-3, "inhibitory"),
        (20e-3, "inhibitory"),  # tau_syn == tau_m
    ],
)
def test_psp_matches_double_exponential(backend: str, tau_syn: float, receptor: str) -> None:
    r"""One input spike: the membrane follows the analytic PSP at every sample.

    The spike emitted at step ``s`` arrives at step ``a = s + d`` and makes
    :math:`I(t) = w e^{-(t - t_a)/\tau_s}` for :math:`t \ge t_a = a\,dt`. Solving
    :math:`\tau_m \dot u = -u + R I` with ``u = v - v_rest``, ``u(t_a) = 0``:

    .. math::
        u(t) = \frac{R w \tau_s}{\tau_s - \tau_m}\left(e^{-t'/\tau_s} - e^{-t'/\tau_m}\right),
        \quad t' = t - t_a,

    whose limit for :math:`\tau_s \to \tau_m` is :math:`R w (t'/\tau_m) e^{-t'/\tau_m}`; the
    inhibitory receptor flips the sign. Integration is exact, so the samples agree with ``u``
    up to rounding: 1e-12 of the PSP's peak. The current samples are
    :math:`w e^{-t'/\tau_s}` after the arrival and 0 before.
    """
    spike_step, delay = 3, 2
    arrival = spike_step + delay
    n_steps = 1500
    variables = ("spikes", "v", "isyn_exc", "isyn_inh")
    net = _psp_network(tau_syn, receptor, delay, spike_step, variables)
    rec = net.run(n_steps * DT, backend=backend)
    assert spike_steps(rec.spikes["src"].times, DT) == [spike_step]
    assert rec.spikes["post"].count == 0
    tau_m, r_m = PSP_NEURON["tau_m"], PSP_NEURON["tau_m"] / PSP_NEURON["cm"]
    t = np.maximum(np.arange(n_steps) - arrival, 0) * DT
    if tau_syn == tau_m:
        u = r_m * PSP_WEIGHT * (t / tau_m) * np.exp(-t / tau_m)
    else:
        u = (
            r_m
            * PSP_WEIGHT
            * tau_syn
            / (tau_syn - tau_m)
            * (np.exp(-t / tau_syn) - np.exp(-t / tau_m))
        )
    sign = 1.0 if receptor == "excitatory" else -1.0
    v = rec.trace("post", "v").values[:, 0]
    assert np.all(v[: arrival + 1] == PSP_NEURON["v_rest"])
    peak = np.abs(u).max()
    assert peak > 1e-3  # a PSP of millivolts, so that 1e-12 of it is a strict bound
    np.testing.assert_allclose(v - PSP_NEURON["v_rest"], sign * u, rtol=0, atol=1e-12 * peak)
    # the sign and the shape: rises then decays back
    k_peak = int(np.argmax(sign * (v - PSP_NEURON["v_rest"])))
    assert arrival < k_peak < n_steps - 1
    current = PSP_WEIGHT * np.exp(-t / tau_syn) * (np.arange(n_steps) > arrival)
    used = "isyn_exc" if receptor == "excitatory" else "isyn_inh"
    unused = "isyn_inh" if receptor == "excitatory" else "isyn_exc"
    np.testing.assert_allclose(
        rec.trace("post", used).values[:, 0], current, rtol=1e-12, atol=1e-30
    )
    assert np.all(rec.trace("post", unused).values == 0.0)


@pytest.mark.parametrize("spike_step", [0, 5])
@pytest.mark.parametrize("model_name", ["IF_curr_exp", "IF_cond_exp", "AdaptiveLIF"])
def test_delays_are_exact(backend: str, spike_step: int, model_name: str) -> None:
    """A spike emitted at step ``s`` reaches a target with delay ``d`` at step ``s + d``.

    The arrival jumps the synaptic variable before the integration of step ``s + d``, so the
    first sample (start-of-step state) that differs from rest is sample ``s + d + 1``; all
    earlier samples are exactly ``v_rest``. Three targets with delays 1, 2 and 7 steps in one
    projection also check that per-connection delays stay with their connection.
    """
    delays = np.array([1, 2, 7])
    model_cls = snn.NEURON_MODELS.get(model_name)
    weight = 1e-9 if model_cls.synapse_type == "current" else 5e-9
    net = snn.Network(dt=DT, seed=4)
    src = net.population(1, snn.SpikeSourceArray([spike_step * DT]), label="src")
    post = net.population(3, model_cls(v_thresh=0.0), label="post")
    net.connect(src, post, snn.AllToAll(), weight=weight, delay=delays * DT)
    net.record(post, "v", label="post")
    n_steps = spike_step + 12
    v = net.run(n_steps * DT, backend=backend).trace("post", "v").values
    v_rest = -65e-3
    for j, d in enumerate(delays):
        first = spike_step + d + 1
        assert np.all(v[:first, j] == v_rest), f"delay {d}: v moved before the arrival"
        assert v[first, j] > v_rest, f"delay {d}: no response in the step after the arrival"


def test_views_in_any_order_deliver_to_the_right_neurons(backend: str) -> None:
    """Connection k of a projection between unordered views carries its own weight and delay.

    Sources ``i = 0..3`` spike once at steps ``S = (2, 5, 9, 14)``. The views ``src[[3, 0, 2]]``
    and ``post[[1, 2, 0]]`` are joined one-to-one with weights ``(1, 2, 3) nA`` and delays
    ``(1, 3, 2)`` steps, so target ``post[q_k]`` receives ``w_k`` at step ``S[p_k] + d_k`` and
    its current at sample ``n`` is ``w_k e^{-(n - a) dt/tau_syn}`` for ``n > a`` (0 before).
    Backends that walk synapses per presynaptic neuron (CSR) need the synapse list sorted by
    population index, not by view position.
    """
    source_steps = [2, 5, 9, 14]
    pre_view, post_view = [3, 0, 2], [1, 2, 0]
    weights, delays = np.array([1.0, 2.0, 3.0]) * 1e-9, np.array([1, 3, 2])
    tau_syn = 5e-3
    net = snn.Network(dt=DT, seed=9)
    src = net.population(4, snn.SpikeSourceArray([[s * DT] for s in source_steps]), label="src")
    post = net.population(3, snn.IF_curr_exp(tau_syn_E=tau_syn, v_thresh=0.0), label="post")
    net.connect(src[pre_view], post[post_view], snn.OneToOne(), weight=weights, delay=delays * DT)
    net.record(post, "isyn_exc", label="post")
    n_steps = 25
    got = net.run(n_steps * DT, backend=backend).trace("post", "isyn_exc").values
    n = np.arange(n_steps)
    for p, q, w, d in zip(pre_view, post_view, weights, delays, strict=True):
        a = source_steps[p] + d
        expected = np.where(n > a, w * np.exp(-np.maximum(n - a, 0) * DT / tau_syn), 0.0)
        np.testing.assert_allclose(got[:, q], expected, rtol=1e-12, atol=1e-30)


@pytest.mark.parametrize(
    ("tau_refrac", "r_steps"), [(0.0, 0), (0.1e-3, 1), (1.04e-3, 10), (2.96e-3, 30)]
)
def test_refractory_period_is_exact_under_huge_drive(
    backend: str, tau_refrac: float, r_steps: int
) -> None:
    """With a drive that crosses threshold within one free step, spikes come every R steps.

    ``i_offset = 1 uA`` gives ``v_inf = v_rest + 20 V``: one free step from ``v_reset`` reaches
    ``v_inf (1 - e^{-dt/tau_m}) ~ 0.1 V > v_thresh``. The first free step (step 0) spikes, steps
    ``m+1 .. m+R-1`` are refractory and step ``m+R`` spikes again, so the spike steps are
    ``0, R', 2R', ...`` with ``R' = max(R, 1)``, ``R = round(tau_refrac/dt)`` (10.4 -> 10,
    29.6 -> 30). Every sample after the first is ``v_reset``.
    """
    n_steps = 200
    model = snn.IF_curr_exp(**{**LIF, "tau_refrac": tau_refrac}, i_offset=1e-6)
    net, _ = one_population(model)
    rec = net.run(n_steps * DT, backend=backend)
    period = max(r_steps, 1)
    assert spike_steps(rec.spikes["neuron"].times, DT) == list(range(0, n_steps, period))
    v = rec.trace("neuron", "v").values[:, 0]
    assert v[0] == LIF["v_rest"]
    assert np.all(v[1:] == LIF["v_reset"])


def test_refractory_neuron_holds_v_while_synapses_evolve(backend: str) -> None:
    """During refractory steps ``v`` is held at ``v_reset``; synaptic currents keep evolving.

    ``i_offset = 1.2 nA`` (``v_inf = -41 mV``) fires the first spike at step
    ``m = floor(T_0/dt)`` (``T_0 = tau_m ln(24/9)``, see the rate test). An input spike arrives
    at step ``m + 5``, inside the refractory period ``m+1 .. m+R-1`` (R = 30): samples
    ``m+1 .. m+R`` (the states after steps ``m .. m+R-1``) are exactly ``v_reset`` although the
    current jumped, the current is ``w e^{-k dt/tau_syn}`` ``k`` steps after its arrival, and
    sample ``m+R+1`` is the first to move (step ``m+R`` is free), above ``v_reset``.
    """
    params = {**LIF, "tau_refrac": 3e-3, "i_offset": 1.2e-9, "tau_syn_E": 4e-3}
    r_steps = 30
    v_inf = LIF["v_rest"] + R_M * params["i_offset"]
    m = _steps_to_threshold(LIF["v_rest"], v_inf, LIF["tau_m"], LIF["v_thresh"], DT)
    w = 0.5e-9
    net = snn.Network(dt=DT, seed=5)
    src = net.population(1, snn.SpikeSourceArray([(m + 4) * DT]), label="src")
    pop = net.population(1, snn.IF_curr_exp(**params), label="neuron")
    net.connect(src, pop, snn.OneToOne(), weight=w, delay=DT)
    net.record(pop, "spikes", "v", "isyn_exc", label="neuron")
    rec = net.run((m + r_steps + 10) * DT, backend=backend)
    assert spike_steps(rec.spikes["neuron"].times, DT) == [m]
    v = rec.trace("neuron", "v").values[:, 0]
    assert v[m] < LIF["v_thresh"] < v_inf
    assert np.all(v[m + 1 : m + r_steps + 1] == LIF["v_reset"])
    assert v[m + r_steps + 1] > LIF["v_reset"]
    i_syn = rec.trace("neuron", "isyn_exc").values[:, 0]
    k = np.arange(i_syn.size) - (m + 5)
    expected = np.where(k > 0, w * np.exp(-np.maximum(k, 0) * DT / params["tau_syn_E"]), 0.0)
    np.testing.assert_allclose(i_syn, expected, rtol=1e-12, atol=1e-30)


# -- conductance-based LIF --------------------------------------------------------------------

COND = {
    "tau_m": 20e-3,
    "cm": 0.2e-9,  # g_L = 10 nS
    "v_rest": -60e-3,
    "v_thresh": 0.0,  # never fires here
    "e_rev_E": 0.0,
    "e_rev_I": -80e-3,
    "tau_syn_E": 5e-3,
    "tau_syn_I": 10e-3,
}


def _cond_network(
    dt: float, exc_steps: list[int], inh_steps: list[int], w_exc: float, w_inh: float, **kw: float
) -> snn.Network:
    net = snn.Network(dt=dt, seed=6)
    exc = net.population(1, snn.SpikeSourceArray([s * dt for s in exc_steps]), label="exc")
    inh = net.population(1, snn.SpikeSourceArray([s * dt for s in inh_steps]), label="inh")
    pop = net.population(1, snn.IF_cond_exp(**{**COND, **kw}), label="neuron")
    net.connect(exc, pop, snn.OneToOne(), weight=w_exc, delay=dt, receptor="excitatory")
    net.connect(inh, pop, snn.OneToOne(), weight=w_inh, delay=dt, receptor="inhibitory")
    net.record(pop, "spikes", "v", "gsyn_exc", "gsyn_inh", label="neuron")
    return net


def test_cond_exp_follows_the_frozen_conductance_recurrence(backend: str) -> None:
    r"""IF_cond_exp sub-threshold: exponential Euler with the conductances frozen over a step.

    Holding :math:`g_E, g_I` at their start-of-step values (after the step's arrivals), the ODE
    :math:`c_m \dot v = g_L (v_{rest} - v) + g_E (E_E - v) + g_I (E_I - v) + i_{off}` is linear
    with constant coefficients, :math:`c_m \dot v = -g (v - v_\infty)`, so over one step

    .. math::
        g = g_L + g_E + g_I,\quad
        v_\infty = \frac{g_L v_{rest} + g_E E_E + g_I E_I + i_{off}}{g},\quad
        v \leftarrow v_\infty + (v - v_\infty) e^{-g\,dt/c_m},

    and between arrivals each conductance decays exactly: ``k`` steps after an arrival of
    weight ``w`` it is :math:`w e^{-k\,dt/\tau}` (sums of those for several arrivals). The test
    iterates this recurrence itself (from ``v_0 != v_rest``, with an offset current and inputs
    on both receptors, one of them arriving twice) and compares to 1e-12.
    """
    n_steps = 400
    exc_steps, inh_steps = [2, 60], [30]
    w_exc, w_inh, i_off, v0 = 6e-9, 20e-9, 0.05e-9, -55e-3
    net = _cond_network(DT, exc_steps, inh_steps, w_exc, w_inh, i_offset=i_off)
    net.population_by_label("neuron").initialize(v=v0)
    rec = net.run(n_steps * DT, backend=backend)
    assert rec.spikes["neuron"].count == 0
    g_leak = COND["cm"] / COND["tau_m"]
    arrive_e = [s + 1 for s in exc_steps]
    arrive_i = [s + 1 for s in inh_steps]
    k = np.arange(n_steps)

    def conductance(arrivals: list[int], w: float, tau: float) -> np.ndarray:
        return sum(
            (np.where(k > a, w * np.exp(-np.maximum(k - a, 0) * DT / tau), 0.0) for a in arrivals),
            start=np.zeros(n_steps),
        )

    g_e = conductance(arrive_e, w_exc, COND["tau_syn_E"])
    g_i = conductance(arrive_i, w_inh, COND["tau_syn_I"])
    np.testing.assert_allclose(rec.trace("neuron", "gsyn_exc").values[:, 0], g_e, rtol=1e-12)
    np.testing.assert_allclose(rec.trace("neuron", "gsyn_inh").values[:, 0], g_i, rtol=1e-12)

    def after_arrivals(step: int, arrivals: list[int], w: float, tau: float) -> float:
        return sum(w * math.exp(-(step - a) * DT / tau) for a in arrivals if a <= step)

    v_expected = np.empty(n_steps)
    v = v0
    for step in range(n_steps):
        v_expected[step] = v
        ge = after_arrivals(step, arrive_e, w_exc, COND["tau_syn_E"])
        gi = after_arrivals(step, arrive_i, w_inh, COND["tau_syn_I"])
        g = g_leak + ge + gi
        v_inf = (g_leak * COND["v_rest"] + ge * COND["e_rev_E"] + gi * COND["e_rev_I"] + i_off) / g
        v = v_inf + (v - v_inf) * math.exp(-g * DT / COND["cm"])
    np.testing.assert_allclose(rec.trace("neuron", "v").values[:, 0], v_expected, rtol=1e-12)


def _cond_psp_error(backend: str, dt: float) -> float:
    """Max |v_sim - v_ode| over 40 ms after one excitatory jump, relative to the PSP peak."""
    w = 6e-9
    duration = 40e-3
    n_steps = round(duration / dt)
    rec = _cond_network(dt, [0], [], w, 0.0).run(duration, backend=backend)
    v_sim = rec.trace("neuron", "v").values[:, 0]
    t_arrival = dt  # emitted at step 0, delay one step
    g_leak = COND["cm"] / COND["tau_m"]

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        g_e = w * math.exp(-(t - t_arrival) / COND["tau_syn_E"])
        return np.array(
            [(g_leak * (COND["v_rest"] - y[0]) + g_e * (COND["e_rev_E"] - y[0])) / COND["cm"]]
        )

    t_eval = np.arange(1, n_steps) * dt
    sol = solve_ivp(
        rhs,
        (t_arrival, t_eval[-1]),
        [COND["v_rest"]],
        method="DOP853",
        t_eval=t_eval,
        rtol=1e-12,
        atol=1e-16,
    )
    assert sol.success
    v_ode = sol.y[0]
    peak = np.abs(v_ode - COND["v_rest"]).max()
    return float(np.abs(v_sim[1:] - v_ode).max() / peak)


def test_cond_exp_psp_matches_ode_solution_to_first_order(backend: str) -> None:
    r"""One conductance jump against ``solve_ivp`` of the continuous ODE, and convergence in dt.

    In the ODE the conductance decays continuously, :math:`g(t) = w e^{-(t - t_a)/\tau_E}`; the
    scheme holds it at its start-of-step value, so over each step it uses :math:`g(t_k)`
    instead of the step mean :math:`g(t_k)(1 - e^{-dt/\tau})\tau/dt \approx
    g(t_k)(1 - dt/(2\tau))`. The delivered conductance is thus too large by about
    :math:`dt/(2\tau_E)` = 1 % at dt = 0.1 ms, tau_E = 5 ms, and for a small PSP (far from
    ``E_E``) the PSP is too large by about the same fraction. We bound the error relative to
    the PSP peak (5.4 mV here) by ``dt/tau_E`` (twice the estimate; measured 0.95 %, i.e.
    about 9e-4 relative to ``v`` itself) and require first-order convergence: halving dt halves
    the error (ratio in [1.8, 2.2]). The ODE is solved with DOP853 at rtol 1e-12, far below
    these errors.
    """
    errors = [_cond_psp_error(backend, dt) for dt in (0.1e-3, 0.05e-3, 0.025e-3)]
    for dt, err in zip((0.1e-3, 0.05e-3, 0.025e-3), errors, strict=True):
        assert err < dt / COND["tau_syn_E"], f"dt={dt:g}: relative error {err:.3g}"
        assert err > 0.1 * dt / (2 * COND["tau_syn_E"]), "error implausibly small"
    for coarse, fine in itertools.pairwise(errors):
        assert 1.8 < coarse / fine < 2.2, errors


# -- adaptation -------------------------------------------------------------------------------

ADAPT = {
    **LIF,
    "i_offset": 2e-9,  # v_inf = -25 mV
    "tau_w": 100e-3,
    "tau_theta": 50e-3,
}


def _predict_adaptive(b: float, delta_theta: float, n_steps: int) -> dict[str, np.ndarray]:
    r"""Spike steps and samples of an AdaptiveLIF under constant drive, from closed forms.

    With ``k`` spikes at steps ``m_1 < m_2 < ...`` the adaptation variables at sample ``n``
    (time ``n dt``) are :math:`w_n = \sum_{m_i < n} b\,e^{-(n - 1 - m_i) dt/\tau_w}` and
    likewise for :math:`\theta` (each spike adds ``b`` at the end of its step, time
    ``(m_i + 1) dt``, and the sum decays exactly). After a spike at ``m`` the neuron is free
    again from the start of step ``r = m + max(R, 1)`` with ``v = v_reset``, ``w = w_r``; for
    ``s = t - r dt >= 0`` the linear ODE
    :math:`\tau_m \dot v = v_{rest} - v + R (i - w)`, :math:`w = w_r e^{-s/\tau_w}` gives

    .. math::
        v = v_\infty + (v_{reset} - v_\infty) e^{-s/\tau_m}
            - \frac{R w_r \tau_w}{\tau_w - \tau_m}(e^{-s/\tau_w} - e^{-s/\tau_m}).

    A free step ``n - 1`` spikes when ``v(n dt) > v_thresh + theta(n dt)`` (theta before that
    spike's own increment).
    """
    p = ADAPT
    r_m = p["tau_m"] / p["cm"]
    v_inf = p["v_rest"] + r_m * p["i_offset"]
    period = max(round(p["tau_refrac"] / DT), 1)
    spikes: list[int] = []

    def summed(n: int, jump: float, tau: float) -> float:
        return sum(jump * math.exp(-(n - 1 - m) * DT / tau) for m in spikes if m < n)

    v = np.empty(n_steps)
    w = np.empty(n_steps)
    theta = np.empty(n_steps)
    resume, v_start, w_start = 0, p["v_rest"], 0.0
    for n in range(n_steps + 1):
        s = (n - resume) * DT
        if n <= resume:
            v_n = v_start
        else:
            v_n = (
                v_inf
                + (v_start - v_inf) * math.exp(-s / p["tau_m"])
                - r_m
                * w_start
                * p["tau_w"]
                / (p["tau_w"] - p["tau_m"])
                * (math.exp(-s / p["tau_w"]) - math.exp(-s / p["tau_m"]))
            )
            theta_before = summed(n, delta_theta, p["tau_theta"])
            if v_n > p["v_thresh"] + theta_before:
                spikes.append(n - 1)
                resume = n - 1 + period
                v_n, v_start = p["v_reset"], p["v_reset"]
                w_start = summed(resume, b, p["tau_w"])
        if n < n_steps:
            v[n] = v_n
            w[n] = summed(n, b, p["tau_w"])
            theta[n] = summed(n, delta_theta, p["tau_theta"])
    return {"spikes": np.array(spikes), "v": v, "w": w, "theta": theta}


@pytest.mark.parametrize(
    ("b", "delta_theta"),
    [(0.1e-9, 0.0), (0.0, 3e-3), (0.05e-9, 1.5e-3)],
    ids=["current", "threshold", "both"],
)
def test_adaptive_lif_matches_closed_form(backend: str, b: float, delta_theta: float) -> None:
    """AdaptiveLIF under constant drive: spikes, v, w and theta from closed forms.

    See ``_predict_adaptive`` for the derivation. Checks: the spike steps are exactly the
    predicted ones; the samples of ``w`` and ``theta`` equal the exponential sums (so each spike
    adds exactly ``b`` / ``delta_theta`` on top of the decayed value, checked explicitly too);
    ``v`` equals the closed form; and the ISI lengthens monotonically (adaptation only grows
    towards its steady state under constant drive).
    """
    n_steps = 3000
    model = snn.AdaptiveLIF(**ADAPT, b=b, delta_theta=delta_theta)
    net, _ = one_population(model, record=("spikes", "v", "w", "theta"))
    rec = net.run(n_steps * DT, backend=backend)
    expected = _predict_adaptive(b, delta_theta, n_steps)
    got = np.array(spike_steps(rec.spikes["neuron"].times, DT))
    np.testing.assert_array_equal(got, expected["spikes"])
    assert got.size >= 6
    w = rec.trace("neuron", "w").values[:, 0]
    theta = rec.trace("neuron", "theta").values[:, 0]
    v = rec.trace("neuron", "v").values[:, 0]
    np.testing.assert_allclose(w, expected["w"], rtol=1e-12, atol=1e-30)
    np.testing.assert_allclose(theta, expected["theta"], rtol=1e-12, atol=1e-30)
    np.testing.assert_allclose(v, expected["v"], rtol=1e-12, atol=0)
    m = got[got < n_steps - 1]
    jump_w = w[m + 1] - w[m] * math.exp(-DT / ADAPT["tau_w"])
    jump_theta = theta[m + 1] - theta[m] * math.exp(-DT / ADAPT["tau_theta"])
    np.testing.assert_allclose(jump_w, b, rtol=1e-9, atol=1e-24)
    np.testing.assert_allclose(jump_theta, delta_theta, rtol=1e-9, atol=1e-15)
    isi = np.diff(got)
    assert np.all(np.diff(isi) >= 0), isi
    assert isi[-1] > isi[0], isi


# -- Poisson sources --------------------------------------------------------------------------


def test_poisson_rate_window_and_seeding(backend: str) -> None:
    r"""SpikeSourcePoisson: rate, activity window, at most one spike per step, seeding.

    Each active step a source spikes with probability :math:`p = 1 - e^{-r\,dt}`, so the count
    of ``n`` sources over ``K`` active steps is binomial(nK, p): it must lie within 4.5 standard
    errors of ``nKp``, and the nominal rate ``r`` within 4.5 standard errors plus the known
    ``r dt / 2`` discretisation bias. No spike may fall outside ``[start, start + duration)``.
    The same run seed gives identical spikes, another seed different ones.
    """
    n, rate, start, duration, total = 800, 40.0, 20e-3, 100e-3, 150e-3
    net = snn.Network(dt=DT, seed=7)
    src = net.population(n, snn.SpikeSourcePoisson(rate=rate, start=start, duration=duration))
    silent = net.population(5, snn.SpikeSourcePoisson(rate=0.0))
    net.record(src, "spikes", label="src")
    net.record(silent, "spikes", label="silent")
    rec = net.run(total, backend=backend, seed=11)
    sp = rec.spikes["src"]
    steps = np.rint(sp.times / DT).astype(np.int64)
    start_step, stop_step = round(start / DT), round((start + duration) / DT)
    assert steps.min() >= start_step and steps.max() < stop_step
    assert np.unique(steps * n + sp.ids).size == sp.count  # one spike per neuron and step
    assert rec.spikes["silent"].count == 0
    k_active = stop_step - start_step
    p = -math.expm1(-rate * DT)
    mean, se = n * k_active * p, math.sqrt(n * k_active * p * (1 - p))
    assert abs(sp.count - mean) < 4.5 * se, (sp.count, mean, se)
    nominal = sp.count / (n * duration)
    assert abs(nominal - rate) < 4.5 * se / (n * duration) + rate * rate * DT / 2
    # every neuron fires independently: no neuron is left silent at these numbers (p ~ 0.02)
    assert np.unique(sp.ids).size > 0.9 * n * (1 - math.exp(-rate * duration))

    again = net.run(total, backend=backend, seed=11).spikes["src"]
    np.testing.assert_array_equal(again.times, sp.times)
    np.testing.assert_array_equal(again.ids, sp.ids)
    other = net.run(total, backend=backend, seed=12).spikes["src"]
    assert other.count != sp.count or not np.array_equal(other.ids, sp.ids)
    default = net.run(total, backend=backend).spikes["src"]
    same_as_net = net.run(total, backend=backend, seed=net.seed).spikes["src"]
    np.testing.assert_array_equal(default.ids, same_as_net.ids)
    np.testing.assert_array_equal(default.times, same_as_net.times)


# -- STDP -------------------------------------------------------------------------------------

LAGS = np.arange(-5, 6)
POST_STEP = 20

STDP_CASES = {
    "additive": (
        {
            "tau_plus": 2e-3,
            "tau_minus": 3e-3,
            "A_plus": 0.01e-9,
            "A_minus": 0.015e-9,
            "w_min": 0.0,
            "w_max": 1e-9,
        },
        0.5e-9,
    ),
    "additive-clip-max": (
        {
            "tau_plus": 2e-3,
            "tau_minus": 3e-3,
            "A_plus": 0.01e-9,
            "A_minus": 0.015e-9,
            "w_min": 0.0,
            "w_max": 1e-9,
        },
        0.995e-9,
    ),
    "additive-clip-min": (
        {
            "tau_plus": 2e-3,
            "tau_minus": 3e-3,
            "A_plus": 0.01e-9,
            "A_minus": 0.015e-9,
            "w_min": 0.002e-9,
            "w_max": 1e-9,
        },
        0.01e-9,
    ),
    "multiplicative": (
        {
            "tau_plus": 2e-3,
            "tau_minus": 3e-3,
            "A_plus": 0.1,
            "A_minus": 0.2,
            "w_min": 0.1e-9,
            "w_max": 1e-9,
        },
        0.4e-9,
    ),
}


def _single_pair_weights(rule: snn.STDP, w0: float, delay: int, backend: str) -> np.ndarray:
    """The recorded weights (steps, LAGS.size) of the single-pair set-up (see below)."""
    pre_steps = POST_STEP - delay - LAGS
    n_steps = POST_STEP + LAGS.max() + 3
    net = snn.Network(dt=DT, seed=8)
    pre = net.population(LAGS.size, snn.SpikeSourceArray([[s * DT] for s in pre_steps]), "pre")
    teacher = net.population(1, snn.SpikeSourceArray([(POST_STEP - 1) * DT]), label="teacher")
    post = net.population(1, snn.IF_curr_exp(tau_refrac=10e-3), label="post")
    net.connect(teacher, post, snn.OneToOne(), weight=500e-9, delay=DT)
    proj = net.connect(
        pre,
        post,
        snn.AllToAll(),
        weight=w0,
        delay=delay * DT,
        receptor="inhibitory",
        plasticity=rule,
    )
    net.record(post, "spikes", label="post")
    net.record(proj, "weights", label="weights")
    rec = net.run(n_steps * DT, backend=backend)
    assert spike_steps(rec.spikes["post"].times, DT) == [POST_STEP]
    np.testing.assert_array_equal(proj.pre_idx, np.arange(LAGS.size))  # synapse j <-> LAGS[j]
    weights: np.ndarray = rec.trace("weights", "weights").values
    return weights


@pytest.mark.parametrize("delay", [1, 4])
@pytest.mark.parametrize("case", list(STDP_CASES))
def test_stdp_single_pairs(backend: str, case: str, delay: int) -> None:
    r"""One pre/post pair per synapse at lags -5..+5 steps: the closed-form weight change.

    Eleven presynaptic sources each spike once, at step ``P - d - lag``, so that with axonal
    delay ``d`` the spike *arrives* ``lag`` steps before the postsynaptic spike at step
    ``P``. The post neuron is forced to spike exactly at ``P`` by a separate teacher source
    (one 500 nA jump arriving at step ``P``) and cannot spike again (refractory for the rest of
    the run); the plastic synapses use the inhibitory receptor, so they cannot trigger spikes.
    With only one pre and one post event per synapse, the all-to-all pair rule reduces to

    .. math::
        \Delta w = A_+ f_+(w) e^{-\text{lag}\,dt/\tau_+}\ (\text{lag} \ge 0),\qquad
        \Delta w = -A_- f_-(w) e^{-|\text{lag}|\,dt/\tau_-}\ (\text{lag} < 0),

    ``f = 1`` (additive) or ``f_+ = w_max - w``, ``f_- = w - w_min`` (multiplicative), then
    clipped to ``[w_min, w_max]``; lag 0 potentiates. The weight must equal this formula and
    :meth:`STDP.pair_change`, and change exactly once: potentiation in step ``P`` and
    depression in the arrival step ``P - lag`` (visible in the next sample).
    """
    params, w0 = STDP_CASES[case]
    dependence = "multiplicative" if case == "multiplicative" else "additive"
    rule = snn.STDP(dependence, **params)
    weights = _single_pair_weights(rule, w0, delay, backend)
    n_steps = POST_STEP + LAGS.max() + 3
    assert weights.shape == (n_steps, LAGS.size)
    tau_p, tau_m = params["tau_plus"], params["tau_minus"]
    lo, hi = params["w_min"], params["w_max"]
    for j, lag in enumerate(LAGS):
        if lag >= 0:
            f = 1.0 if dependence == "additive" else hi - w0
            formula = w0 + params["A_plus"] * f * math.exp(-lag * DT / tau_p)
            event_step = POST_STEP
        else:
            f = 1.0 if dependence == "additive" else w0 - lo
            formula = w0 - params["A_minus"] * f * math.exp(-abs(lag) * DT / tau_m)
            event_step = POST_STEP - lag  # the arrival step of the presynaptic spike
        formula = min(max(formula, lo), hi)
        trace = weights[:, j]
        assert np.all(trace[: event_step + 1] == w0), f"lag {lag}: changed before the event"
        np.testing.assert_allclose(trace[event_step + 1 :], formula, rtol=1e-12, atol=0)
        assert formula == pytest.approx(rule.pair_change(w0, int(lag), DT), rel=1e-12, abs=0)
    if case == "additive-clip-max":
        assert np.all(weights[-1, LAGS >= 0] == hi)
    if case == "additive-clip-min":
        assert np.all(weights[-1, LAGS < 0] == lo)


@pytest.mark.parametrize("delay", [1, 4])
def test_inhibitory_stdp_single_pairs(backend: str, delay: int) -> None:
    r"""Vogels et al. 2011 inhibitory STDP, one pre/post pair per synapse at lags -5..+5.

    The set-up of :func:`test_stdp_single_pairs`. Both events change the weight: the pre event
    (arrival step ``P - lag``) by ``eta (x_post - alpha)``, the post event (step ``P``) by
    ``eta x_pre``, so with one pair

    .. math::
        w \to w - \eta\alpha + \eta e^{-\text{lag}\,dt/\tau}\ (\text{lag} \ge 0),\qquad
        w \to w + \eta (e^{-|\text{lag}|\,dt/\tau} - \alpha)\ (\text{lag} < 0),

    each visible from the sample after its event, ``alpha = 2 rho0 tau``.
    """
    tau, eta, rho0, w0 = 2e-3, 0.05e-9, 10.0, 0.5e-9
    rule = snn.InhibitorySTDP(tau=tau, eta=eta, rho0=rho0, w_min=0.0, w_max=1e-9)
    alpha = 2 * rho0 * tau
    assert rule.alpha == pytest.approx(alpha, rel=1e-15)
    weights = _single_pair_weights(rule, w0, delay, backend)
    for j, lag in enumerate(LAGS):
        arrival = POST_STEP - int(lag)
        trace = weights[:, j]
        decay = math.exp(-abs(lag) * DT / tau)
        final = (w0 - eta * alpha + eta * decay) if lag >= 0 else (w0 + eta * (decay - alpha))
        first = min(arrival, POST_STEP)
        assert np.all(trace[: first + 1] == w0), f"lag {lag}: changed before the first event"
        if lag > 0:  # the pre event alone, then both
            np.testing.assert_allclose(trace[arrival + 1 : POST_STEP + 1], w0 - eta * alpha)
        np.testing.assert_allclose(trace[max(arrival, POST_STEP) + 1 :], final, rtol=1e-12)
        assert final == pytest.approx(rule.pair_change(w0, int(lag), DT), rel=1e-12, abs=0)
