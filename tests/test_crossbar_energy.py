"""Energy, latency and area of snn.hardware.crossbar.energy against hand-computed sums."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from snn.hardware.crossbar.devices import ConductanceRange, DeviceModel
from snn.hardware.crossbar.energy import (
    HERMES_ENERGY_PER_MAC_J,
    EnergyConstants,
    vmm_cost,
)
from snn.hardware.crossbar.mapping import CrossbarLayer, Quantiser

US = 1e-6


def test_known_vmm_equals_hand_computed_sum() -> None:
    # W = [[1, -2], [0.5, 2]] on 1-5 uS: s = 4 uS / 2 = 2 uS per unit
    w = np.array([[1.0, -2.0], [0.5, 2.0]])
    x = np.array([[1.0, -0.5]])
    layer = CrossbarLayer(
        w,
        device=DeviceModel(ConductanceRange(1 * US, 5 * US)),
        dac=Quantiser(3, full_scale=1.0),  # lsb 1/3 of 0.2 V
        adc=Quantiser(8),
    )
    c = EnergyConstants()
    v = 0.2 * np.array([1.0, -2 / 3])  # -0.5 / lsb = -1.5 rounds (half to even) to -2
    g_pos = np.array([[3.0, 1.0], [2.0, 5.0]]) * US
    g_neg = np.array([[1.0, 5.0], [1.0, 1.0]]) * US
    e_dev = c.t_read * sum(v[i] ** 2 * (g_pos[i].sum() + g_neg[i].sum()) for i in range(2))
    cost = vmm_cost(layer, x, c)
    assert cost.energy_device == pytest.approx(e_dev, rel=1e-12)
    assert cost.dac_conversions == 4  # 2 rows x 2 arrays
    assert cost.adc_conversions == 2  # 2 difference columns
    assert cost.energy_dac == pytest.approx(4 * 3 * c.dac_energy_per_bit, rel=1e-12)
    assert cost.energy_adc == pytest.approx(2 * c.adc_energy_8bit, rel=1e-12)
    assert cost.energy_digital == pytest.approx(2 * c.digital_add_energy, rel=1e-12)
    assert cost.energy_total == pytest.approx(
        e_dev + 12 * c.dac_energy_per_bit + 2 * c.adc_energy_8bit + 2 * c.digital_add_energy
    )
    assert cost.latency == pytest.approx(c.t_read + 2 / c.adc_sample_rate, rel=1e-12)
    assert cost.area_cells == pytest.approx(8 * 4 * (32e-9) ** 2, rel=1e-12)
    assert cost.macs == 4


def test_isaac_adc_constant() -> None:
    c = EnergyConstants()
    assert c.adc_energy_8bit == pytest.approx(1.5625e-12)  # 2 mW / 1.28 GS/s
    assert c.adc_area == pytest.approx(1.2e-9)  # 0.0012 mm^2


def test_counts_with_tiling_and_adc_sharing() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((300, 200))
    x = rng.standard_normal((4, 300))
    layer = CrossbarLayer(w, tile_rows=128, tile_cols=128)
    c = EnergyConstants(columns_per_adc=32)
    cost = vmm_cost(layer, x, c)
    # 3 row tiles x 2 col tiles (128 + 72 columns), differential pair -> 12 arrays
    assert cost.n_arrays == 12
    assert cost.dac_conversions == 4 * 2 * 2 * 300
    assert cost.adc_conversions == 4 * 3 * 200
    assert cost.n_adcs == 3 * (4 + 3)
    assert cost.latency == pytest.approx(4 * (c.t_read + 32 / c.adc_sample_rate))
    # ADC energy doubles per bit (Walden figure-of-merit assumption)
    layer6 = CrossbarLayer(w, tile_rows=128, tile_cols=128, adc=Quantiser(6))
    assert vmm_cost(layer6, x, c).energy_adc == pytest.approx(cost.energy_adc / 4)


def test_report_to_dict_and_frozen() -> None:
    rng = np.random.default_rng(1)
    layer = CrossbarLayer(rng.standard_normal((256, 256)))
    cost = vmm_cost(layer, rng.standard_normal((16, 256)))
    d = cost.to_dict()
    for key in ("energy_total", "energy_per_mac", "latency", "area_total", "energy_adc"):
        assert key in d
    assert d["energy_total"] == pytest.approx(sum(cost.breakdown.values()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cost.latency = 0.0  # type: ignore[misc]
    # same order of magnitude as measured analog in-memory chips (HERMES 0.20-0.81 pJ/MAC),
    # which also pay for everything this model leaves out
    assert HERMES_ENERGY_PER_MAC_J[0] / 100 < cost.energy_per_mac < HERMES_ENERGY_PER_MAC_J[1]


@pytest.mark.parametrize("name", ["adc_energy_8bit", "t_read", "columns_per_adc"])
def test_bad_constants_raise(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        EnergyConstants(**{name: 0})
