"""The E/I reservoir's recurrent weights on a memristor crossbar (snn.models.reservoir.crossbar).

References: the software reservoir (an ideal crossbar must reproduce it), the closed-form error
of PCM programming noise (the aihwkit polynomial) and two independent reads of the same devices
(static probe of the effective matrix, per-step reads through ``CrossbarLayer.forward``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from snn.hardware.crossbar import (
    ConductanceRange,
    CrossbarSubstrate,
    DeviceModel,
    Drift,
    ProgrammingNoise,
)
from snn.models.reservoir import (
    EIReservoir,
    ei_reservoir,
    memory_capacity,
    memory_capacity_task,
    uniform_input,
)
from snn.models.reservoir.crossbar import CrossbarProgramming, run_dynamic

#: no noise, continuous levels, no faults, ideal wires (the default) and ideal converters
IDEAL = CrossbarSubstrate(dac_bits=None, adc_bits=None)
#: the published PCM model (Joshi et al. 2020) with 8-bit converters, read right after programming
PCM = CrossbarSubstrate(device=DeviceModel.pcm())


def _target(res: EIReservoir) -> np.ndarray:
    a_exc, a_inh = res.dense()
    return a_exc - a_inh


# ------------------------------------------------------------------------------------------------
# static: programmed once, run with the effective weights


def test_ideal_crossbar_reproduces_the_software_reservoir() -> None:
    res = ei_reservoir(n=80, seed=1, leak_rate=0.7, input_scale=0.5)
    u = uniform_input(400, seed=2)
    programmed = res.on_crossbar(IDEAL, seed=3)
    report = programmed.crossbar
    assert isinstance(report, CrossbarProgramming)
    assert report.source is res and report.seed == 3 and report.substrate is IDEAL
    assert report.relative_error < 1e-12 and report.dale_violations == 0
    # stored densely: every unit presynaptic to every unit, the designed matrix recovered
    p = programmed.params
    assert programmed.pre_exc.shape == (80, p.n_exc) and programmed.pre_inh.shape == (80, p.n_inh)
    assert p.in_degree == 80 and p.autapses and programmed.crossbar is not None
    np.testing.assert_allclose(_target(programmed), _target(res), rtol=0, atol=1e-12)
    ref, ref_state = res.run(u)
    for backend in ("numba", "numpy"):
        out, state = programmed.run(u, backend=backend)
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-9)
        np.testing.assert_allclose(state.v, ref_state.v, rtol=0, atol=1e-9)
    # the source is untouched
    np.testing.assert_array_equal(
        res.w_inh, ei_reservoir(n=80, seed=1, leak_rate=0.7, input_scale=0.5).w_inh
    )


def test_programming_noise_error_matches_its_closed_form() -> None:
    r"""PCM programming noise alone, on [0, 25] uS, differential pairs: weight ``w`` becomes
    :math:`G^+ - G^-` with the larger device at :math:`s|w|` and the other at 0, each programmed
    as :math:`\max(0, g + \sigma(g)\xi)`, :math:`\sigma(g) = (0.26 + 1.97 x - 1.17 x^2)` uS at
    :math:`x = g / g_{max}`. So a synapse's error variance is :math:`\sigma(x)^2 + \sigma_0^2 / 2`
    (the clipped partner at 0) and an absent synapse's :math:`\sigma_0^2 (1 - 1/\pi)`, in weight
    units (:math:`\times w_{max} / 25` uS). Measured 0.117-0.122 (whole matrix) and 0.079-0.088
    (synapses) over seeds 0-2 against 0.120 and 0.084 predicted. An absent synapse reads
    negative when ``0 <= g^+ < g^-``: 3/8 of them (both clipped to 0 with probability 1/4, a
    symmetric sign otherwise), hence the Dale violations."""
    res = ei_reservoir(n=100, seed=0, input_scale=0.5)
    w = _target(res)
    w_max = np.abs(w).max()
    noise = ProgrammingNoise()
    device = DeviceModel(conductance_range=ConductanceRange(0.0, 25e-6), programming_noise=noise)
    programmed = res.on_crossbar(CrossbarSubstrate(device=device), seed=0)
    report = programmed.crossbar
    assert report is not None
    synapse = w != 0
    sigma = noise.sigma(np.abs(w) / w_max * 25e-6, 25e-6) / 25e-6 * w_max
    sigma_0 = float(noise.sigma(0.0, 25e-6)) / 25e-6 * w_max
    var_synapses = (sigma[synapse] ** 2 + sigma_0**2 / 2).sum()
    var_absent = (~synapse).sum() * sigma_0**2 * (1 - 1 / np.pi)
    norm = np.linalg.norm(w)
    predicted = np.sqrt(var_synapses + var_absent) / norm
    assert report.relative_error == pytest.approx(predicted, rel=0.05)
    assert report.synapse_error == pytest.approx(np.sqrt(var_synapses) / norm, rel=0.1)
    assert report.dale_violations == pytest.approx(3 / 8 * (~synapse).sum(), rel=0.05)
    # the effective matrix is what the reservoir runs with
    np.testing.assert_allclose(
        np.linalg.norm(_target(programmed) - w) / norm, report.relative_error, rtol=1e-12
    )


def test_pcm_degrades_memory_capacity_gracefully() -> None:
    """The PCM default right after programming: programming noise plus the 1/f read-noise draw
    folded into the effective weights, 15 % relative error (measured 0.146-0.152 over seeds 0-2;
    programming noise alone predicts 0.12, previous test), 11 % on the synapses.

    Memory capacity (300 units would take longer; 100 units, 3000 steps of uniform input):
    software 8.92, on PCM 8.73, 8.68, 8.43 (seeds 0-2). An unbiased 15 % perturbation of the
    weights barely moves the reservoir's operating point, so the loss is a few percent: pinned at
    within 15 % and below the software value on average. (Harsher substrates, measured with the
    same reservoir: 1 year of drift uncompensated, 52 % error, MC 7.4-7.7; 5 % stuck devices,
    MC 5.0-8.5.)"""
    res = ei_reservoir(n=100, seed=0, input_scale=0.5)
    software = memory_capacity_task(res, 3000, seed=1).total
    assert software == pytest.approx(8.92, abs=0.01)
    on_pcm = []
    for seed in range(3):
        programmed = res.on_crossbar(PCM, seed=seed)
        report = programmed.crossbar
        assert report is not None
        assert 0.13 < report.relative_error < 0.17
        assert 0.09 < report.synapse_error < 0.13
        on_pcm.append(memory_capacity_task(programmed, 3000, seed=1).total)
    assert all(0.85 * software < mc < 1.05 * software for mc in on_pcm)
    assert 0 < np.mean(on_pcm) < software


# ------------------------------------------------------------------------------------------------
# adaptation: in software, then programmed


def test_adaptation_runs_in_software_before_programming() -> None:
    """Adapt to targets 0.5 (100 units, 5000 steps, learning rate 3e-2 -> 1e-4), then program.

    An ideal crossbar keeps the adapted reservoir exactly. PCM's 17 % weight error moves the
    rates away from the targets again: software max deviation of a unit's mean rate 0.005,
    programmed on PCM mean deviation 0.087-0.109 and max 0.28-0.31 (seeds 0-2): adaptation's
    precision does not survive open-loop programming."""
    n, steps = 100, 5000
    res = ei_reservoir(n=n, seed=3)
    adapted = res.adapt(uniform_input(steps, seed=5), 0.5, np.geomspace(3e-2, 1e-4, steps))
    u = uniform_input(10_000, seed=6)
    software, _ = adapted.reservoir.run(u)
    assert np.abs(software[200:].mean(axis=0) - 0.5).max() < 0.02
    ideal = adapted.reservoir.on_crossbar(IDEAL, seed=0)
    assert ideal.crossbar is not None and ideal.crossbar.source is adapted.reservoir
    np.testing.assert_allclose(ideal.run(u)[0], software, rtol=0, atol=1e-9)
    on_pcm, _ = adapted.reservoir.on_crossbar(PCM, seed=0).run(u)
    deviation = np.abs(on_pcm[200:].mean(axis=0) - 0.5)
    assert 0.05 < deviation.mean() < 0.2
    # a programmed reservoir's weights cannot change without reprogramming
    for call in (
        lambda: ideal.adapt(u[:100], 0.5),
        lambda: ideal.design(0.5),
        lambda: ideal.with_inhibition(ideal.w_inh),
    ):
        with pytest.raises(ValueError, match="programmed on a crossbar"):
            call()


# ------------------------------------------------------------------------------------------------
# dynamic: every step read from the arrays


def test_dynamic_reads_match_the_static_weights_without_read_noise() -> None:
    """With ideal devices and converters, per-step reads reproduce the software reservoir; with
    programming noise and drift (1 hour) but no read noise, they reproduce the static effective
    weights (26 % away from the designed ones): both modes read the same devices."""
    res = ei_reservoir(n=60, seed=1, input_scale=0.5)
    u = uniform_input(300, seed=2)
    ideal = res.on_crossbar(IDEAL, seed=0)
    np.testing.assert_allclose(run_dynamic(ideal, u)[0], res.run(u)[0], rtol=0, atol=1e-9)
    device = DeviceModel(
        conductance_range=ConductanceRange(0.0, 25e-6),
        programming_noise=ProgrammingNoise(),
        drift=Drift(state_dependent=True),
    )
    substrate = CrossbarSubstrate(device=device, dac_bits=None, adc_bits=None, read_time=3600.0)
    programmed = res.on_crossbar(substrate, seed=4)
    assert programmed.crossbar is not None and programmed.crossbar.relative_error > 0.2
    static, static_state = programmed.run(u)
    dynamic, dynamic_state = run_dynamic(programmed, u)
    np.testing.assert_allclose(dynamic, static, rtol=0, atol=1e-9)
    np.testing.assert_allclose(dynamic_state.v, static_state.v, rtol=0, atol=1e-9)


def test_dynamic_read_noise_and_converters_cost_memory() -> None:
    """100 units, 3000 steps: software MC 8.92. 8-bit DAC and ADC on ideal devices (the rates
    use 7 of the signed DAC's bits; the ADC's worst-case full scale wastes more): 8.19 per-step,
    while the static effective weights (ideal converters) keep 8.92. PCM with its 1/f read noise
    redrawn every step: 5.54 (static PCM: 8.73): noise on every read acts like state noise, which
    memory suffers from far more than from a fixed weight error. Reads are reproducible by
    default and redrawn with another ``rng``."""
    res = ei_reservoir(n=100, seed=0, input_scale=0.5)
    u = uniform_input(3000, seed=1)
    software = memory_capacity(res.run(u)[0], u).total
    converters = run_dynamic(res.on_crossbar(CrossbarSubstrate(), seed=0), u)[0]
    assert 0.85 * software < memory_capacity(converters, u).total < 0.97 * software
    programmed = res.on_crossbar(PCM, seed=0)
    short = u[:200]
    first, _ = run_dynamic(programmed, short)
    np.testing.assert_array_equal(run_dynamic(programmed, short)[0], first)
    assert np.abs(run_dynamic(programmed, short, rng=1)[0] - first).max() > 1e-3
    pcm = memory_capacity(run_dynamic(programmed, u)[0], u).total
    assert 0.4 * software < pcm < 0.8 * software


# ------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    ("substrate", "seed", "message"),
    [
        (DeviceModel.pcm(), 0, "substrate must be a snn.hardware.crossbar.CrossbarSubstrate, got "),
        ("pcm", 0, "substrate must be a .*CrossbarSubstrate, got str"),
        (None, 0, "substrate must be a .*CrossbarSubstrate, got NoneType"),
        (PCM, 1.5, "seed must be a non-negative integer .* got 1.5 of type float"),
        (PCM, "0", "seed must be a non-negative integer .* got '0' of type str"),
        (PCM, True, "seed must be a non-negative integer .* got True of type bool"),
        (PCM, -1, "seed must be a non-negative integer .* got -1"),
    ],
)
def test_bad_substrate_or_seed(substrate: Any, seed: Any, message: str) -> None:
    res = ei_reservoir(n=20, seed=0)
    with pytest.raises(ValueError, match=message):
        res.on_crossbar(substrate, seed=seed)


def test_programming_twice_and_dynamic_runs_of_software_reservoirs_are_rejected() -> None:
    res = ei_reservoir(n=20, seed=0)
    programmed = res.on_crossbar(IDEAL, seed=np.int64(2))
    assert programmed.crossbar is not None and programmed.crossbar.seed == 2
    with pytest.raises(ValueError, match=r"already programmed .* \(reservoir\.crossbar\.source\)"):
        programmed.on_crossbar(IDEAL)
    with pytest.raises(ValueError, match="not on a crossbar; program it first"):
        run_dynamic(res, np.zeros(10))
    with pytest.raises(ValueError, match=r"inputs must have shape \(T,\) or \(T, 1\)"):
        run_dynamic(programmed, np.zeros((10, 2)))
