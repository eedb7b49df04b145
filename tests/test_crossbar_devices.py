"""Device models of snn.hardware.crossbar.devices against closed forms and binomial bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from snn.hardware.crossbar.devices import (
    ConductanceRange,
    DeviceModel,
    Drift,
    ProgrammingNoise,
    PulseResponse,
    ReadNoise,
    StuckAtFaults,
    Variability,
    as_generator,
)

US = 1e-6


def test_levels_and_quantisation_exact() -> None:
    crange = ConductanceRange(1 * US, 9 * US, n_levels=5)
    np.testing.assert_array_equal(crange.levels(), np.array([1, 3, 5, 7, 9]) * US)
    # every level maps to itself, points just off a level to it, outside values clip
    np.testing.assert_array_equal(crange.quantise(crange.levels()), crange.levels())
    got = crange.quantise(np.array([0.0, 1.9, 2.1, 6.9, 8.2, 50.0]) * US)
    np.testing.assert_allclose(got, np.array([1, 1, 3, 7, 9, 9]) * US, rtol=0, atol=1e-18)
    # continuous device: only clipping
    cont = ConductanceRange(1 * US, 9 * US)
    np.testing.assert_array_equal(cont.quantise([0.5 * US, 4.2 * US]), [1 * US, 4.2 * US])
    with pytest.raises(ValueError, match="no discrete levels"):
        cont.levels()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"g_min": 10 * US, "g_max": 10 * US}, "g_min must be < g_max"),
        ({"g_min": 20 * US, "g_max": 10 * US}, "g_min must be < g_max"),
        ({"g_min": -1 * US, "g_max": 10 * US}, "g_min must be >= 0"),
        ({"g_min": float("nan"), "g_max": 10 * US}, "finite"),
        ({"n_levels": 1}, "n_levels"),
        ({"n_levels": 2.5}, "n_levels"),
    ],
)
def test_conductance_range_rejects_bad_values(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ConductanceRange(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [[-1e-6, 1e-6], [float("nan"), 1e-6], [float("inf"), 1e-6]])
def test_program_rejects_negative_or_nan_conductance(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="target conductance"):
        DeviceModel().program(np.array(bad))


def test_bad_parameters_raise() -> None:
    with pytest.raises(ValueError, match="rate_on"):
        StuckAtFaults(rate_on=1.5)
    with pytest.raises(ValueError, match="rate_on \\+ rate_off"):
        StuckAtFaults(rate_on=0.6, rate_off=0.6)
    with pytest.raises(ValueError, match="kind"):
        ReadNoise(kind="pink")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nu_std"):
        Drift(nu_std=-0.1)
    with pytest.raises(ValueError, match="n_pulses"):
        PulseResponse(n_pulses=0)
    with pytest.raises(ValueError, match="rng"):
        as_generator("seed")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="read time"):
        DeviceModel(drift=Drift()).read(DeviceModel().program([1e-6]), t=-1.0)


def test_ideal_device_programs_and_reads_exactly() -> None:
    target = np.linspace(0.1, 10, 12).reshape(3, 4) * US
    dev = DeviceModel()
    state = dev.program(target, rng=1)
    np.testing.assert_array_equal(state.g, target)
    np.testing.assert_array_equal(dev.read(state, t=1e6), target)
    assert dev.is_ideal


def test_programming_noise_sigma_closed_form_and_empirical() -> None:
    noise = ProgrammingNoise()
    g_max = 25 * US
    g = np.array([0.0, 12.5, 25.0]) * US
    expected = (
        np.array([0.26348, 0.26348 + 1.9650 * 0.5 - 1.1731 * 0.25, 0.26348 + 1.9650 - 1.1731]) * US
    )
    np.testing.assert_allclose(noise.sigma(g, g_max), expected, rtol=1e-12)
    # empirical std at 12.5 uS (far from the clip at 0) within 3 % of sigma for 40000 draws
    dev = DeviceModel(ConductanceRange(0.0, g_max), programming_noise=noise)
    out = dev.program(np.full(40000, 12.5 * US), rng=3).g
    assert abs(out.std() / expected[1] - 1) < 0.03
    assert abs(out.mean() - 12.5 * US) < 4 * expected[1] / math.sqrt(40000)


@pytest.mark.parametrize("nu", [0.0, 0.031, 0.1])
def test_drift_follows_power_law_exactly(nu: float) -> None:
    dev = DeviceModel(drift=Drift(nu_mean=nu, nu_std=0.0, t0=20.0))
    target = np.array([[1.0, 5.0], [7.5, 10.0]]) * US
    state = dev.program(target, rng=0)
    np.testing.assert_array_equal(state.nu, np.full((2, 2), nu))
    for t in (20.0, 200.0, 86400.0, 3.15e7):
        np.testing.assert_allclose(dev.read(state, t), target * (t / 20.0) ** (-nu), rtol=1e-14)
    # before t0 the programmed (verified) value is read
    np.testing.assert_array_equal(dev.read(state, 5.0), target)


def test_drift_state_dependent_pcm_fit_clips() -> None:
    drift = Drift(state_dependent=True)
    g_max = 25 * US
    # g = g_max: mu = 0.0244 -> clipped to 0.049; sd = -0.0059 -> clipped to 0.008
    nu = drift.exponents(np.full(20000, g_max), g_max, np.random.default_rng(0))
    assert abs(nu.mean() - 0.049) < 4 * 0.008 / math.sqrt(20000)
    assert abs(nu.std() - 0.008) < 0.0005


def test_read_noise_redrawn_per_read_and_sigma() -> None:
    dev = DeviceModel(read_noise=ReadNoise("gaussian", relative_sigma=0.02))
    target = np.full(50000, 5 * US)
    state = dev.program(target, rng=0)
    rng = np.random.default_rng(7)
    r1, r2 = dev.read(state, 0.0, rng), dev.read(state, 0.0, rng)
    assert not np.array_equal(r1, r2)
    np.testing.assert_array_equal(state.g, target)  # reading does not change the state
    assert abs(r1.std() / (0.02 * 5 * US) - 1) < 0.03
    # PCM 1/f: closed-form sigma at g = g_max, t = 1000 s
    pcm = ReadNoise("pcm_1f", relative_sigma=1.0)
    sig = pcm.sigma(np.array([25 * US]), 25 * US, 1000.0)
    expected = 25 * US * 0.0088 * math.sqrt(math.log((1000 + 250e-9) / (500e-9)))
    np.testing.assert_allclose(sig, [expected], rtol=1e-12)


def _binomial_ok(count: int, n: int, p: float, z: float = 5.0) -> bool:
    return abs(count - n * p) <= z * math.sqrt(n * p * (1 - p))


def test_stuck_at_rates_within_binomial_bounds_and_pinned() -> None:
    n = 200_000
    dev = DeviceModel(faults=StuckAtFaults(rate_on=0.02, rate_off=0.05), drift=Drift(nu_mean=0.1))
    state = dev.program(np.full(n, 5 * US), rng=11)
    assert _binomial_ok(int(state.stuck_on.sum()), n, 0.02)
    assert _binomial_ok(int(state.stuck_off.sum()), n, 0.05)
    assert not np.any(state.stuck_on & state.stuck_off)
    aged = dev.read(state, t=1e7)
    assert np.all(aged[state.stuck_on] == dev.g_max)
    assert np.all(aged[state.stuck_off] == dev.g_min)
    healthy = ~(state.stuck_on | state.stuck_off)
    np.testing.assert_allclose(aged[healthy], 5 * US * (1e7 / 20) ** -0.1, rtol=1e-14)


def test_device_to_device_lognormal() -> None:
    dev = DeviceModel(
        ConductanceRange(0.0, 100 * US), variability=Variability(device_to_device=0.1)
    )
    g = dev.program(np.full(40000, 10 * US), rng=5).g
    log_ratio = np.log(g / (10 * US))
    assert abs(log_ratio.std() - 0.1) < 0.003
    assert abs(log_ratio.mean()) < 4 * 0.1 / math.sqrt(40000)


def test_seeded_reproducibility() -> None:
    dev = DeviceModel.pcm()
    target = np.linspace(0, 25, 64).reshape(8, 8) * US
    a, b, c = dev.program(target, rng=42), dev.program(target, rng=42), dev.program(target, rng=43)
    np.testing.assert_array_equal(a.g, b.g)
    np.testing.assert_array_equal(a.nu, b.nu)
    assert not np.array_equal(a.g, c.g)
    np.testing.assert_array_equal(dev.read(a, 100.0, 9), dev.read(b, 100.0, 9))


def test_linear_pulse_response() -> None:
    dev = DeviceModel(ConductanceRange(1 * US, 11 * US), pulse_response=PulseResponse(100))
    g = np.array([1.0, 5.0, 10.95, 6.0]) * US
    out = dev.pulse_update(g, np.array([10, -20, 5, 0]))
    np.testing.assert_allclose(out, np.array([2.0, 3.0, 11.0, 6.0]) * US, rtol=1e-12)


def test_nonlinear_pulse_response_closed_form() -> None:
    p_max, kappa = 64, 3.0
    g_min, g_max = 1 * US, 11 * US
    dev = DeviceModel(
        ConductanceRange(g_min, g_max),
        pulse_response=PulseResponse(p_max, nonlinearity_ltp=kappa, nonlinearity_ltd=kappa),
    )
    a = p_max / kappa
    b = (g_max - g_min) / (1 - math.exp(-p_max / a))
    for k in (1, 7, 30):
        got = dev.pulse_update(np.array([g_min]), np.array([k]))
        np.testing.assert_allclose(got, [b * (1 - math.exp(-k / a)) + g_min], rtol=1e-12)
    # k pulses in two steps = k pulses at once (the curve is a function of the pulse count)
    two = dev.pulse_update(dev.pulse_update(np.array([g_min]), np.array([3])), np.array([4]))
    np.testing.assert_allclose(two, dev.pulse_update(np.array([g_min]), np.array([7])), rtol=1e-12)
    # full range both ways, saturating at the window
    np.testing.assert_allclose(dev.pulse_update(np.array([g_min]), np.array([p_max])), [g_max])
    np.testing.assert_allclose(dev.pulse_update(np.array([g_max]), np.array([-p_max])), [g_min])
    np.testing.assert_allclose(dev.pulse_update(np.array([g_max]), np.array([5])), [g_max])
    # depression from g_max: G_LTD(P_max - k)
    got = dev.pulse_update(np.array([g_max]), np.array([-5]))
    expected = -b * (1 - math.exp((p_max - 5 - p_max) / a)) + g_max
    np.testing.assert_allclose(got, [expected], rtol=1e-12)
    # saturation: first steps of LTP are larger than later ones
    steps = np.diff([dev.pulse_update(np.array([g_min]), np.array([k]))[0] for k in range(10)])
    assert np.all(np.diff(steps) < 0)


def test_pulse_update_rejects_fractional_pulses() -> None:
    with pytest.raises(ValueError, match="n_pulses"):
        DeviceModel().pulse_update(np.array([1e-6]), np.array([0.5]))
