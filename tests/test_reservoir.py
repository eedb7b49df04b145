"""E/I rate reservoirs, their readouts and tasks (snn.models.reservoir).

References are independent of the code under test where one exists: a delay line and orthogonal
linear networks for memory capacity (Jaeger's bound N), per-delay ridge fits for the FFT estimator,
closed-form ridge and ReservoirPy's ``Ridge`` for the readouts, SciPy's DOP853 and ReservoirPy's
``mackey_glass`` for the Mackey-Glass generator.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from snn.models.reservoir import (
    EIParameters,
    EIReservoir,
    delay_line,
    ei_parameters,
    ei_reservoir,
    fit_ridge,
    fit_rls,
    forecast_nrmse,
    mackey_glass,
    memory_capacity,
    memory_parameters,
    narma10,
    orthogonal_linear_reservoir,
    scale_to_unit,
    spectral_radius_of,
    spectrum,
    tanh_esn,
    target_rates,
    uniform_input,
)
from snn.models.reservoir.tasks import Reservoir

# ------------------------------------------------------------------------------------------------
# construction


def test_dale_law_fixed_in_degree_and_balance() -> None:
    p = EIParameters(n=200, in_degree=20, balance=1.5)
    res = ei_reservoir(p, seed=0)
    assert res.pre_exc.shape == (200, 16) and res.pre_inh.shape == (200, 4)
    assert (res.pre_exc < p.n_exc).all() and (res.pre_inh >= p.n_exc).all()
    rows = np.arange(200)[:, None]
    assert not (res.pre_exc == rows).any() and not (res.pre_inh == rows).any()  # no autapses
    for pre in (res.pre_exc, res.pre_inh):  # distinct partners
        assert all(np.unique(r).size == r.size for r in pre)
    assert (res.w_exc >= 0).all() and (res.w_inh >= 0).all()
    # summed weights: excitatory about 1, inhibitory about beta (uniform factors, mean 1)
    assert res.w_exc.sum(axis=1).mean() == pytest.approx(1.0, abs=0.05)
    assert res.w_inh.sum(axis=1).mean() == pytest.approx(1.5, abs=0.15)
    # the same seed with another balance: same connectivity, inhibition scaled
    other = ei_reservoir(p, seed=0, balance=0.5)
    assert np.array_equal(other.pre_inh, res.pre_inh)
    np.testing.assert_allclose(other.w_inh * 3.0, res.w_inh, rtol=1e-12)
    np.testing.assert_array_equal(other.w_exc, res.w_exc)
    a_exc, a_inh = res.dense()
    np.testing.assert_allclose(a_exc.sum(axis=1), res.w_exc.sum(axis=1))
    np.testing.assert_array_equal(res.recurrent_matrix().toarray(), a_exc - a_inh)
    assert (a_inh[:, : p.n_exc] == 0).all() and (a_exc[:, p.n_exc :] == 0).all()
    assert np.count_nonzero(res.w_in.any(axis=1)) == 100  # input_fraction 0.5


@pytest.mark.parametrize(
    ("n", "k", "autapses"), [(200, 10, False), (1000, 3, False), (20, 15, False), (30, 5, True)]
)
def test_regular_connectivity_fixes_out_degrees(n: int, k: int, autapses: bool) -> None:
    p = EIParameters(n=n, in_degree=k, connectivity="regular", autapses=autapses)
    res = ei_reservoir(p, seed=4)
    assert res.pre_exc.shape == (n, p.k_exc) and res.pre_inh.shape == (n, p.k_inh)
    rows = np.arange(n)[:, None]
    for pre, first, size, k_block in (
        (res.pre_exc, 0, p.n_exc, p.k_exc),
        (res.pre_inh, p.n_exc, p.n_inh, p.k_inh),
    ):
        assert ((pre >= first) & (pre < first + size)).all()
        assert all(np.unique(r).size == r.size for r in pre)  # distinct partners
        if not autapses:
            assert not (pre == rows).any()
        out_degree = np.bincount(pre.ravel() - first, minlength=size)
        # every unit of the block projects to floor(n k / size) or one more units
        assert out_degree.sum() == n * k_block
        assert out_degree.min() == (n * k_block) // size
        assert out_degree.max() - out_degree.min() <= 1
    again = ei_reservoir(p, seed=4)
    np.testing.assert_array_equal(again.pre_exc, res.pre_exc)
    np.testing.assert_array_equal(again.pre_inh, res.pre_inh)
    # with fixed in-degree only, out-degrees spread (binomially)
    spread = np.bincount(ei_reservoir(n=1000, in_degree=3, seed=4).pre_exc.ravel(), minlength=800)
    assert spread.max() - spread.min() >= 4


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_backends_agree(backend: str) -> None:
    res = ei_reservoir(n=60, seed=1, leak_rate=0.7, input_scale=0.5)
    u = uniform_input(150, seed=2)
    ref, ref_state = res.run(u, backend="numpy")
    out, state = res.run(u, backend=backend)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(state.v, ref_state.v, rtol=0, atol=1e-12)
    rho = target_rates(60, "beta", seed=3)
    a_ref = res.adapt(u, rho, 0.01, backend="numpy")
    a_out = res.adapt(u, rho, 0.01, backend=backend)
    np.testing.assert_allclose(a_out.reservoir.w_inh, a_ref.reservoir.w_inh, atol=1e-12)
    np.testing.assert_allclose(a_out.error_trace, a_ref.error_trace, atol=1e-12)
    esn = tanh_esn(40, 0.9, seed=0, leak_rate=0.5)
    np.testing.assert_allclose(esn.run(u, backend=backend)[0], esn.run(u, backend="numpy")[0])


# ------------------------------------------------------------------------------------------------
# memory capacity


def test_memory_capacity_of_a_delay_line_is_n_minus_1() -> None:
    u = uniform_input(4000, seed=0)
    for n in (10, 40):
        states, _ = delay_line(n).run(u)
        mc = memory_capacity(states, u)
        assert mc.total <= n
        assert mc.total == pytest.approx(n - 1, abs=1e-6)  # delays 1 .. n-1 exactly, then chance


def test_orthogonal_linear_reservoir_reaches_most_of_n() -> None:
    # measured: 97.6 of 100 (rho 0.95, 6000 steps); rho -> 1 spreads memory past delay 2N
    n = 100
    u = uniform_input(6000, seed=1)
    states, _ = orthogonal_linear_reservoir(n, 0.95, seed=2).run(u)
    mc = memory_capacity(states, u)
    assert 0.95 * n <= mc.total <= n
    assert mc.per_delay.max() <= 1.0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["orthogonal", "tanh", "ei", "delay"]),
    n=st.integers(5, 30),
    radius=st.floats(0.3, 0.999),
    seed=st.integers(0, 1000),
)
def test_memory_capacity_never_exceeds_n(kind: str, n: int, radius: float, seed: int) -> None:
    u = uniform_input(2500, seed=seed)
    res: Reservoir
    if kind == "orthogonal":
        res = orthogonal_linear_reservoir(n, radius, seed=seed)
    elif kind == "tanh":
        res = tanh_esn(n, radius, connectivity=0.5, input_scaling=0.05, seed=seed)
    elif kind == "ei":
        res = ei_reservoir(n=max(n, 10), in_degree=5, gain=8 * radius, seed=seed)
    else:
        res = delay_line(n)
    states, _ = res.run(u)
    mc = memory_capacity(states, u, washout=50)
    assert 0.0 <= mc.total <= states.shape[1]
    assert mc.raw_per_delay.max() <= 1.0


def test_fft_estimator_matches_per_delay_fits() -> None:
    """The FFT/shared-Gram estimator against one ordinary ridge fit per delay."""
    n, k_max = 12, 24
    res = ei_reservoir(n=n, in_degree=5, seed=4, input_scale=0.3)
    u = uniform_input(1500, seed=5)
    states, _ = res.run(u)
    mc = memory_capacity(states, u, max_delay=k_max, washout=50, ridge=1e-6, significance=0.0)
    start = 50  # max(washout, max_delay)
    split = start + round(0.75 * (1500 - start))
    for k in (1, 5, 24):
        readout = fit_ridge(states[start:split], u[start - k : split - k], ridge=1e-6)
        pred = readout.predict(states[split:])
        r2 = np.corrcoef(pred, u[split - k : 1500 - k])[0, 1] ** 2
        assert mc.raw_per_delay[k - 1] == pytest.approx(r2, rel=1e-9, abs=1e-12)


# ------------------------------------------------------------------------------------------------
# adaptation and design


@pytest.mark.parametrize("balance", [0.5, 1.0, 2.0])
def test_adaptation_converges_to_uniform_targets(balance: float) -> None:
    """300 units, targets 0.5, 5000 steps of uniform [-1, 1) input, learning rate decaying
    geometrically from 3e-2 to 1e-4; then frozen and driven by 20000 fresh steps. Measured max
    deviation of a unit's mean rate from its target: 0.003-0.008 from every starting balance."""
    res = ei_reservoir(n=300, balance=balance, seed=3)
    steps = 5000
    out = res.adapt(uniform_input(steps, seed=5), 0.5, np.geomspace(3e-2, 1e-4, steps))
    rates, _ = out.reservoir.run(uniform_input(20_000, seed=6))
    deviation = np.abs(rates[200:].mean(axis=0) - 0.5)
    assert deviation.max() < 0.02
    assert not out.saturated.any()
    assert out.error_trace[-500:].mean() < out.error_trace[:50].mean()
    assert res.w_inh.sum() == ei_reservoir(n=300, balance=balance, seed=3).w_inh.sum()  # unchanged


def test_adaptation_to_heterogeneous_targets() -> None:
    """Beta(2, 2) targets: every unit that keeps some inhibition reaches its target within 0.02;
    the few that lose all of it (targets above what their excitation allows) stay below."""
    n, steps = 300, 5000
    rho = target_rates(n, "beta", seed=4)
    res = ei_reservoir(n=n, seed=3)
    out = res.adapt(uniform_input(steps, seed=5), rho, np.geomspace(3e-2, 1e-4, steps))
    rates, _ = out.reservoir.run(uniform_input(20_000, seed=6))
    mean = rates[200:].mean(axis=0)
    ok = ~out.saturated
    assert np.abs(mean[ok] - rho[ok]).max() < 0.02
    assert out.saturated.mean() < 0.1  # measured 5 %
    assert (mean[out.saturated] < rho[out.saturated]).all()


def test_one_step_design_puts_the_fixed_point_at_the_targets() -> None:
    """Heterogeneous targets Beta(6, 6), threshold -0.5 (all reachable: no target needs negative
    inhibition) and gain 2 (a stable fixed point): relaxing with zero input lands on the targets."""
    n = 200
    rho = target_rates(n, "beta", a=6, b=6, seed=1)
    res = ei_reservoir(n=n, gain=2.0, threshold=-0.5, balance=0.7, seed=2)
    design = res.design(rho, input_mean=0.0)
    assert design.reachable.all()
    rates, _ = design.reservoir.run(np.zeros(400))
    np.testing.assert_allclose(rates[-1], rho, atol=1e-9)
    # wider targets at threshold 0: the highest need negative inhibition and are flagged
    wide = target_rates(n, "beta", seed=1)
    flagged = ei_reservoir(n=n, gain=2.0, seed=2).design(wide)
    assert 0 < (~flagged.reachable).sum() < n // 2
    assert wide[~flagged.reachable].mean() > wide[flagged.reachable].mean()
    # the design does not depend on the starting inhibitory scale
    other = ei_reservoir(n=n, gain=2.0, threshold=-0.5, balance=2.0, seed=2).design(rho).reservoir
    np.testing.assert_allclose(other.w_inh, design.reservoir.w_inh, rtol=1e-12)


def _adapted_near_linear(seed: int, threshold: float, balance: float) -> EIReservoir:
    """200 units, input 1e-4, adapted to rates 0.5 (3000 steps), then the gain c with
    c / 4 * rho(A_E - A_I) = 0.99 (the fixed point V = threshold does not depend on c)."""
    res = ei_reservoir(n=200, balance=balance, threshold=threshold, input_scale=1e-4, seed=seed)
    steps = 3000
    res = res.adapt(uniform_input(steps, seed=5), 0.5, np.geomspace(3e-2, 1e-4, steps)).reservoir
    return res.with_effective_radius(0.99)


def test_adaptation_at_half_inhibition_holds_more_memory() -> None:
    """Issue 7's memory finding at N = 200 (4000 steps, delays 1 .. 400): threshold 0.25 makes
    adaptation to rates 0.5 settle at summed inhibition about half the excitation ((1 - beta) / 2
    = theta), where the excitatory mean-mode eigenvalue 1 - beta sits just inside the bulk of the
    spectrum; at threshold 0 it settles balanced (beta = 1) and the inhibitory columns dominate
    the spectrum. Measured MC, seeds 0-2: 63.8, 70.0, 60.5 against 49.9, 47.6, 44.7 balanced;
    tanh ESNs (spectral radius 1) scored 55-64 at input scaling 0.01 and 62-72 at 0.001, so this
    does not beat an ESN in the same near-linear regime. Seed 2 once gave 42.0 inside a full
    test session, most likely because the spectral radius behind the gain then came from ARPACK
    with a random start (see test_spectral_radius_of_a_crowded_spectrum; it is exact now); the
    claim stays the mean over seeds and a majority of them."""
    u = uniform_input(4000, seed=1)
    half, balanced = [], []
    for seed in (0, 1, 2):
        for threshold, balance, scores in ((0.25, 0.5, half), (0.0, 1.0, balanced)):
            res = _adapted_near_linear(seed, threshold, balance)
            states, _ = res.run(u)
            # near the sigmoid's midpoint (the larger gain spreads the residual adaptation error)
            assert np.median(np.abs(states[200:].mean(axis=0) - 0.5)) < 0.03
            scores.append(memory_capacity(states, u).total)
    assert np.mean(half) > np.mean(balanced) + 5.0, (half, balanced)
    assert sum(h > b for h, b in zip(half, balanced, strict=True)) >= 2, (half, balanced)


def _memory_setting(seed: int, connectivity: str) -> EIReservoir:
    """The benchmark's E/I memory setting (``memory_parameters``) at 200 units: adapted to rates
    0.5 (3000 steps), then the gain for an effective spectral radius 0.99."""
    res = ei_reservoir(memory_parameters(200, connectivity=connectivity), seed=seed)
    steps = 3000
    res = res.adapt(uniform_input(steps, seed=5), 0.5, np.geomspace(3e-2, 1e-4, steps)).reservoir
    return res.with_effective_radius(0.99)


def test_spectral_radius_of_a_crowded_spectrum(monkeypatch: pytest.MonkeyPatch) -> None:
    """On an adapted in-degree-3 regular reservoir (N = 1000, eigenvalues crowding towards the
    edge) ARPACK asked for one eigenvalue from a random start returned values up to 2 % below
    the radius, a different one per call; the ARPACK path (forced here for N = 1000) matches
    LAPACK's eigenvalues and repeats exactly."""
    res = ei_reservoir(memory_parameters(1000), seed=2)
    steps = 5000
    res = res.adapt(uniform_input(steps, seed=5), 0.5, np.geomspace(3e-2, 1e-4, steps)).reservoir
    a_exc, a_inh = res.dense()
    w = a_exc - a_inh
    exact = float(np.abs(np.linalg.eigvals(w)).max())
    assert spectral_radius_of(w) == pytest.approx(exact, rel=1e-12)  # dense path at N = 1000
    monkeypatch.setattr(spectrum, "DENSE_SPECTRAL_RADIUS_MAX", 100)
    first = spectral_radius_of(sp.csr_matrix(w))
    assert first == pytest.approx(exact, rel=1e-10)
    assert spectral_radius_of(sp.csr_matrix(w)) == first
    with pytest.raises(ValueError, match="square"):
        spectral_radius_of(w[:10])
    w[3, 4] = np.nan
    with pytest.raises(ValueError, match="finite"):
        spectral_radius_of(sp.csr_matrix(w))


def test_adapted_regular_reservoir_holds_more_memory_than_tanh_esns() -> None:
    """Issue 7's memory target at N = 200 (4000 steps, delays 1 .. 400), medians over seeds 0-3.
    Measured: regular E/I memory setting 86.5 (85.2-89.5), the same with fixed in-degree only
    78.1; tanh ESNs built as ReservoirPy builds them, best median of the grid below 68.6 (sr
    0.99, input scaling 1e-4; sr 0.95 and input scaling 0.01 score lower). At N = 1000 the
    benchmark measures 210.5 against ReservoirPy's best 176.5 (medians over 5 seeds)."""
    u = uniform_input(4000, seed=1)
    seeds = (0, 1, 2, 3)

    def median_mc(build: Callable[[int], Reservoir]) -> float:
        return float(np.median([memory_capacity(build(s).run(u)[0], u).total for s in seeds]))

    regular = median_mc(lambda s: _memory_setting(s, "regular"))
    fixed_in = median_mc(lambda s: _memory_setting(s, "fixed_in_degree"))
    esn_best = max(
        median_mc(lambda s, sr=sr, isc=isc: tanh_esn(200, sr, input_scaling=isc, seed=s))
        for sr in (0.99, 1.0)
        for isc in (1e-4, 1e-3)
    )
    assert regular > 1.15 * esn_best, (regular, esn_best)
    assert regular > fixed_in + 3.0, (regular, fixed_in)


# ------------------------------------------------------------------------------------------------
# readouts


def test_ridge_matches_closed_form_and_washout() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 8))
    y = x @ rng.standard_normal(8) + 0.3 + 0.01 * rng.standard_normal(300)
    readout = fit_ridge(x, y, ridge=0.5, washout=20, ridge_scale="absolute")
    xs, ys = x[20:], y[20:]
    xc, yc = xs - xs.mean(0), ys - ys.mean()
    w = np.linalg.solve(xc.T @ xc + 0.5 * np.eye(8), xc.T @ yc)
    np.testing.assert_allclose(readout.weights[:, 0], w, rtol=1e-10)
    np.testing.assert_allclose(readout.predict(xs), xs @ w + ys.mean() - xs.mean(0) @ w)


def test_ridge_matches_reservoirpy() -> None:
    nodes = pytest.importorskip("reservoirpy.nodes", reason="reservoirpy is not installed")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((400, 10))
    y = np.stack([x @ rng.standard_normal(10), np.sin(x[:, 0])], axis=1)
    theirs = nodes.Ridge(ridge=0.1)
    theirs.fit(x, y)
    ours = fit_ridge(x, y, ridge=0.1, ridge_scale="absolute")
    np.testing.assert_allclose(ours.weights, theirs.Wout, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.intercept, np.ravel(theirs.bias), rtol=1e-9, atol=1e-12)


def test_rls_equals_ridge_on_augmented_features() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((500, 6))
    y = x @ rng.standard_normal(6) + 1.0 + 0.05 * rng.standard_normal(500)
    delta = 0.1
    out = fit_rls(x, y, washout=10, regularization=delta)
    xa = np.hstack([x[10:], np.ones((490, 1))])
    w = np.linalg.solve(xa.T @ xa + delta * np.eye(7), xa.T @ y[10:])
    np.testing.assert_allclose(out.readout.weights[:, 0], w[:-1], rtol=1e-6)
    assert out.readout.intercept[0] == pytest.approx(w[-1], rel=1e-6)
    assert out.predictions.shape == (490,)
    assert np.abs(out.predictions[-100:] - y[-100:]).mean() < 0.1


# ------------------------------------------------------------------------------------------------
# tasks and generators


def _mackey_glass_reference(history: np.ndarray, x0: float, n: int) -> np.ndarray:
    """DOP853 by the method of steps, one unit interval at a time (the delayed term is smooth
    inside each), history linear between its samples."""
    t_hist = np.concatenate([-np.arange(history.size, 0, -1.0), [0.0]])
    x_hist = np.concatenate([history, [x0]])
    pieces: list = []

    def past(t: float) -> float:
        if t <= 0:
            return float(np.interp(t, t_hist, x_hist))
        return float(pieces[min(int(t), len(pieces) - 1)](t)[0])

    x = x0
    for k in range(n - 1):
        sol = solve_ivp(
            lambda t, y: [0.2 * past(t - 17) / (1 + past(t - 17) ** 10) - 0.1 * y[0]],
            (k, k + 1),
            [x],
            method="DOP853",
            rtol=1e-12,
            atol=1e-12,
            dense_output=True,
        )
        pieces.append(sol.sol)
        x = sol.y[0, -1]
    return np.array([past(float(k)) for k in range(n)])


def test_mackey_glass_against_an_ode_solver() -> None:
    hist = 1.2 + 0.2 * (np.random.default_rng(0).random(17) - 0.5)
    ours = mackey_glass(150, history=hist)
    ref = _mackey_glass_reference(hist, 1.2, 150)
    assert np.abs(ours - ref).max() < 1e-4  # measured 4e-6


def test_mackey_glass_against_reservoirpy() -> None:
    """Same tau (17), step (1), x0 (1.2) and history. ``scheme="reservoirpy"`` reproduces
    ReservoirPy's series to the last bit; our RK4 series agrees within 0.03 over the first 20
    samples (ReservoirPy's update is first-order: 0.015 from the ODE solution by then), then
    chaos separates them, and the mean and standard deviation agree within 1 % over 3000."""
    datasets = pytest.importorskip("reservoirpy.datasets", reason="reservoirpy is not installed")
    hist = 1.2 + 0.2 * (np.random.default_rng(0).random(17) - 0.5)
    theirs = datasets.mackey_glass(3000, tau=17, h=1.0, x0=1.2, history=hist).ravel()
    same = mackey_glass(3000, tau=17, h=1.0, x0=1.2, history=hist, scheme="reservoirpy")
    np.testing.assert_allclose(same, theirs, rtol=0, atol=1e-12)
    ours = mackey_glass(3000, tau=17, h=1.0, x0=1.2, history=hist)
    assert np.abs(ours[:20] - theirs[:20]).max() < 0.03
    assert ours.mean() == pytest.approx(theirs.mean(), rel=0.01)
    assert ours.std() == pytest.approx(theirs.std(), rel=0.01)


def test_narma10_and_forecast_shapes() -> None:
    u, y = narma10(3000, seed=0)
    assert np.isfinite(y).all() and 0 <= u.min() and u.max() <= 0.5
    # the recurrence, checked at one step
    t = 500
    expected = 0.3 * y[t - 1] + 0.05 * y[t - 1] * y[t - 10 : t].sum() + 1.5 * u[t - 9] * u[t] + 0.1
    assert y[t] == pytest.approx(expected)
    series = scale_to_unit(mackey_glass(2000, seed=1))
    states, _ = ei_reservoir(n=100, seed=0).run(series)
    scores = forecast_nrmse(states, series, (1, 17))
    assert set(scores) == {1, 17} and 0 < scores[1] < 0.05 and scores[1] < scores[17]


# ------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_targets_outside_the_open_unit_interval(bad: float) -> None:
    res = ei_reservoir(n=20, seed=0)
    rho = np.full(20, 0.5)
    rho[3] = bad
    with pytest.raises(ValueError, match=r"strictly inside \(0, 1\)"):
        res.adapt(np.zeros(10), rho)
    with pytest.raises(ValueError, match=r"strictly inside \(0, 1\)"):
        res.design(rho)
    with pytest.raises(ValueError, match=r"strictly inside \(0, 1\)"):
        target_rates(5, rate=bad)


def test_in_degree_larger_than_the_population() -> None:
    with pytest.raises(ValueError, match=r"in_degree k=60 .* use in_degree <= \d+"):
        EIParameters(n=50, in_degree=60)
    with pytest.raises(ValueError, match="use in_degree <="):
        ei_reservoir(n=50, in_degree=50)
    with pytest.raises(ValueError, match="no inhibitory input"):
        EIParameters(n=50, in_degree=2)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_inputs(bad: float) -> None:
    res = ei_reservoir(n=20, seed=0)
    u = np.zeros(30)
    u[7] = bad
    with pytest.raises(ValueError, match="step 7"):
        res.run(u)
    with pytest.raises(ValueError, match="must be finite"):
        res.adapt(u, 0.5)
    with pytest.raises(ValueError, match="must be finite"):
        tanh_esn(10, seed=0).run(u)
    with pytest.raises(ValueError, match="must be finite"):
        memory_capacity(np.zeros((30, 3)), u)
    with pytest.raises(ValueError, match="must be finite"):
        fit_ridge(np.zeros((30, 3)), u)


def test_unknown_names_list_the_valid_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown EIParameters parameter\(s\) 'gian'.*gain"):
        ei_reservoir(n=20, gian=3.0)
    with pytest.raises(ValueError, match=r"'tau_m'.*valid names: n, exc_fraction, in_degree"):
        ei_parameters(tau_m=0.02)
    with pytest.raises(ValueError, match="valid choices: constant, lognormal, uniform"):
        EIParameters(weight_distribution="gamma")
    with pytest.raises(ValueError, match="valid choices: fixed_in_degree, regular"):
        EIParameters(connectivity="scale_free")
    with pytest.raises(ValueError, match="valid choices: beta, uniform"):
        target_rates(10, "gaussian")
    with pytest.raises(ValueError, match="valid choices: numba, numpy"):
        ei_reservoir(n=20, seed=0).run(np.zeros(5), backend="cuda")
    with pytest.raises(ValueError, match="valid choices: rk4, reservoirpy"):
        mackey_glass(10, scheme="euler")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="valid choices: relative, absolute"):
        fit_ridge(np.ones((10, 2)), np.arange(10.0), ridge_scale="scaled")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [("exc_fraction", 1.0), ("gain", 0.0), ("leak_rate", 0.0), ("balance", -1.0),
     ("input_fraction", 0.0), ("n", 1), ("gain", float("nan"))],
)  # fmt: skip
def test_out_of_range_parameters(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        ei_parameters(**{field: value})


def test_effective_radius_sets_the_linearised_radius_and_rejects_bad_values() -> None:
    res = ei_reservoir(memory_parameters(100), seed=0).with_effective_radius(0.9, rate=0.3)
    a_exc, a_inh = res.dense()
    linearised = res.params.gain * 0.3 * 0.7 * (a_exc - a_inh)
    assert np.abs(np.linalg.eigvals(linearised)).max() == pytest.approx(0.9, rel=1e-12)
    for radius, rate in ((0.0, 0.5), (float("nan"), 0.5), (0.9, 1.0)):
        with pytest.raises(ValueError, match="radius > 0 and rate in"):
            res.with_effective_radius(radius, rate)
    with pytest.raises(ValueError, match="unknown EIParameters parameter"):
        memory_parameters(100, in_degre=4)


# ---------------------------------------------------------------------------------------------
# closed-loop (generative) forecasting


def test_closed_loop_forecast_continues_a_sine_exactly() -> None:
    """A sine wave (period 25 steps) is a linear recurrence: teacher-forced reservoirs continue it
    autonomously for 500 steps to ~1e-7 (ESN) and ~1e-6 (E/I) NRMSE against the analytic sine."""
    from snn.models.reservoir import closed_loop_forecast, ei_reservoir, tanh_esn

    s = 0.8 * np.sin(2 * np.pi * np.arange(2600) / 25.0)
    for reservoir in (tanh_esn(200, 0.9, input_scaling=0.5, seed=1), ei_reservoir(n=500, seed=0)):
        out = closed_loop_forecast(reservoir, s, 2000, 500, ridge=1e-10)
        assert out.valid_steps == 500 and out.nrmse < 1e-4, (type(reservoir), out.nrmse)
        np.testing.assert_array_equal(out.target, s[2000:2500])


def test_closed_loop_forecast_of_mackey_glass_and_bad_input() -> None:
    """Mackey-Glass is chaotic: the autonomous run stays valid for a while, then diverges
    (E/I reservoir, N = 500: 32 valid steps measured)."""
    from snn.models.reservoir import closed_loop_forecast, ei_reservoir, mackey_glass, scale_to_unit

    series = scale_to_unit(mackey_glass(3400, seed=0))
    out = closed_loop_forecast(ei_reservoir(n=500, seed=0), series, 3000, 300)
    assert 10 <= out.valid_steps < 300
    assert out.prediction.shape == (300,) and np.isfinite(out.prediction[: out.valid_steps]).all()
    res = ei_reservoir(n=50, seed=0)
    with pytest.raises(ValueError, match=r"n_train \+ horizon <= 100"):
        closed_loop_forecast(res, series[:100], 90, 20)
    with pytest.raises(ValueError, match="series must be finite"):
        closed_loop_forecast(res, np.r_[series[:99], np.nan], 50, 20)
    with pytest.raises(ValueError, match="tolerance must be > 0"):
        closed_loop_forecast(res, series, 300, 20, tolerance=0.0)


def test_ridge_on_collinear_states_is_the_minimum_norm_solution() -> None:
    """Duplicated and constant state columns make the Gram matrix singular: with no ridge the
    Cholesky factorisation fails and the solve falls back to the minimum-norm least-squares
    solution (NumPy's lstsq is the reference)."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal((200, 4))
    x = np.hstack([base, base[:, :2], np.full((200, 1), 0.7)])  # 7 columns, rank 4 after centring
    y = base @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.standard_normal(200)
    readout = fit_ridge(x, y, ridge=0.0)
    xc, yc = x - x.mean(axis=0), y - y.mean()
    reference = np.linalg.lstsq(xc, yc, rcond=None)[0]
    np.testing.assert_allclose(readout.weights[:, 0], reference, atol=1e-10)
    np.testing.assert_allclose(readout.predict(x), xc @ reference + y.mean(), atol=1e-10)
