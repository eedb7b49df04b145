"""Energy models (snn.hardware.energy): constants against DESIGN.md, energies worked out by hand
for the 3-layer network of test_metrics (12 ACs, 1 MAC, 60 dense, 25 updates, 8 spikes)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

import snn.deep
from snn.hardware.crossbar.energy import vmm_cost
from snn.hardware.crossbar.mapping import CrossbarLayer
from snn.hardware.energy import (
    ENERGY_MODELS,
    Horowitz45nm,
    LoihiConstants,
    SpiNNakerConstants,
    crossbar_energy,
    digital_energy,
    estimate_all,
    estimate_energy,
    estimate_spinnaker_cores,
    loihi_energy,
    spinnaker_energy,
)
from snn.metrics import NetworkMetrics, measure, measure_rates
from test_metrics import FRAMES, RASTER, three_layer_network

PJ = 1e-12


@pytest.fixture(scope="module")
def metrics() -> NetworkMetrics:
    return measure(three_layer_network(), RASTER, FRAMES, membrane=False)


def test_constants_match_design_md() -> None:
    h = Horowitz45nm()
    assert h.int8_mult + h.int8_add == pytest.approx(0.23 * PJ)  # INT8 MAC ~0.23 pJ
    assert h.fp32_mult + h.fp32_add == pytest.approx(4.6 * PJ)  # FP32 MAC ~4.6 pJ
    assert 10 * PJ <= h.sram_read_64bit_8kb <= h.sram_read_64bit_1mb <= 100 * PJ
    assert 1.3e-9 <= h.dram_read_64bit <= 2.6e-9
    s = SpiNNakerConstants()
    assert (s.synaptic_event, s.neuron_update_per_ms) == (43e-9, 100e-9)
    lo = LoihiConstants()
    assert (lo.synaptic_op, lo.neuron_update) == (23.6 * PJ, 52 * PJ)


def test_cpu_fp32_by_hand(metrics: NetworkMetrics) -> None:
    e = digital_energy(metrics, three_layer_network(), precision="fp32")
    mac, add, mem = 4.6, 0.9, 20.0 * 32 / 64  # pJ; one 32-bit value = half a 64-bit SRAM read
    update = 3.7 + 3 * 0.9
    expected = 1 * mac + 12 * add + 25 * update + mem * (1 + 12 + 2 * 25)
    assert e.energy == pytest.approx(expected * PJ, rel=1e-12)
    assert e.breakdown["mac"] == pytest.approx(mac * PJ)
    assert sum(e.by_layer.values()) == pytest.approx(e.energy)
    assert e.energy_per_second == pytest.approx(e.energy / 5e-3)


def test_cpu_int8_and_gpu_by_hand(metrics: NetworkMetrics) -> None:
    e = estimate_energy(metrics, None, "cpu-int8")
    mem = 20.0 * 8 / 64
    expected = 1 * 0.23 + 12 * 0.03 + 25 * (0.2 + 3 * 0.03) + mem * (1 + 12 + 50)
    assert e.energy == pytest.approx(expected * PJ, rel=1e-12)
    g = estimate_energy(metrics, None, "gpu-fp32")  # dense: 60 MACs, no ACs
    expected = 60 * 4.6 + 25 * (3.7 + 2.7) + 10.0 * (60 + 50)
    assert g.energy == pytest.approx(expected * PJ, rel=1e-12)


def test_loihi_by_hand(metrics: NetworkMetrics) -> None:
    e = loihi_energy(metrics, three_layer_network(), hops=2)
    # input counts 5 events over 4 non-zero entries: each input op stands for 1.25 spikes
    ops = 6 * 1.25 + 5 + 2
    expected = ops * 23.6 + 25 * 52 + 8 * (1.7 + 2 * 3.5)
    assert e.energy == pytest.approx(expected * PJ, rel=1e-12)
    assert e.counts["synaptic_ops"] == pytest.approx(14.5)


def test_spinnaker_by_hand(metrics: NetworkMetrics) -> None:
    net = three_layer_network()
    assert estimate_spinnaker_cores(net) == (4, 1)
    c = SpiNNakerConstants(chip_idle_power=0.5, core_idle_power=0.01)
    e = spinnaker_energy(metrics, net, constants=c)
    events = 8 * 1.25 + 6 + 2
    expected = 25 * 100e-9 + events * 43e-9 + (0.5 * 1 + 0.01 * 4) * 5 * 1e-3
    assert e.energy == pytest.approx(expected, rel=1e-12)
    report = SimpleNamespace(application_cores=10, application_chips=2)
    r = spinnaker_energy(metrics, net, mapping=report, constants=c)
    assert r.counts["cores"] == 10 and r.counts["chips"] == 2
    assert r.breakdown["idle"] == pytest.approx((0.5 * 2 + 0.01 * 10) * 5e-3)
    default = spinnaker_energy(metrics, net)
    assert default.breakdown["idle"] == 0 and any("idle" in n for n in default.notes)
    assert default.breakdown["spike_packets"] == 0


def test_spinnaker_spynnaker_model_by_hand_and_equal_to_spinn_machine(
    metrics: NetworkMetrics,
) -> None:
    """sPyNNaker's own power model: 0.35 W per chip, 0.034 W per active core, 1 nJ per spike
    packet; the constants are those of the installed spinn_machine (its energy report's)."""
    net = three_layer_network()
    c = SpiNNakerConstants.spynnaker()
    e = spinnaker_energy(metrics, net, constants=c)
    expected = (0.35 * 1 + 0.034 * 4) * 5e-3 + metrics.spikes * 1e-9
    assert e.energy == pytest.approx(expected, rel=1e-12)
    assert e.breakdown["neuron_updates"] == 0 and e.breakdown["synaptic_events"] == 0
    assert e.breakdown["spike_packets"] == pytest.approx(metrics.spikes * 1e-9)
    version = pytest.importorskip("spinn_machine.version.version_spin1")
    spin1 = version.VersionSpin1
    assert c.chip_idle_power == spin1.WATTS_PER_IDLE_CHIP
    assert c.core_idle_power == spin1.WATTS_PER_CORE_ACTIVE_OVERHEAD
    assert c.spike_packet == pytest.approx(spin1.JOULES_PER_PACKET, rel=1e-15)


def test_crossbar_by_hand(metrics: NetworkMetrics) -> None:
    net = three_layer_network()
    e = crossbar_energy(metrics, net)
    expected = 25 * (3.1 + 3 * 0.1) * PJ
    # dense projections: 2 reads each; active rows 4, 3, 2 of 3, 2, 2 rows
    for proj, rows_active in zip(net.projections, (4, 3, 2), strict=True):
        matrix = proj.kernel().T
        cost = vmm_cost(CrossbarLayer(matrix), np.ones((1, matrix.shape[0])))
        fixed = cost.energy_dac + cost.energy_adc + cost.energy_digital
        expected += 2 * fixed + rows_active / matrix.shape[0] * cost.energy_device
    assert e.energy == pytest.approx(expected, rel=1e-12)
    assert e.counts["vmm_reads"] == 6


def test_rates_feed_every_model() -> None:
    net = three_layer_network()
    m = measure_rates(net, 20.0, n_steps=100, input_rate=50.0)
    out = estimate_all(m, net)
    assert set(out) == set(ENERGY_MODELS)
    for estimate in out.values():
        assert math.isfinite(estimate.energy) and estimate.energy > 0
        assert estimate.duration == pytest.approx(0.1)
    quiet = estimate_all(measure_rates(net, 1.0, n_steps=100, input_rate=50.0), net)
    for target in ("cpu-fp32", "loihi", "spinnaker", "crossbar"):
        assert quiet[target].energy < out[target].energy, target
    # dense execution does not depend on activity
    assert quiet["gpu-fp32"].energy == pytest.approx(out["gpu-fp32"].energy)


def test_bad_energy_input() -> None:
    net = three_layer_network()
    m = measure(net, RASTER, FRAMES, membrane=False)
    with pytest.raises(ValueError, match="unknown energy target"):
        estimate_energy(m, net, "tpu")
    with pytest.raises(ValueError, match="NetworkMetrics"):
        estimate_energy({"acs": 1}, net, "loihi")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="precision"):
        digital_energy(m, precision="fp8")
    with pytest.raises(ValueError, match="hops"):
        loihi_energy(m, hops=-1)
    other = measure_rates(three_layer_network(), 1.0, n_steps=5)
    from snn.models.dvs import cordone_network

    with pytest.raises(ValueError, match="another network"):
        loihi_energy(other, cordone_network((2, 48, 48)))
    # a recording without the input frames: the input layer's crossbar reads are unknown
    result = snn.deep.run(net, FRAMES, backend="numpy", n_steps=5)
    with pytest.raises(ValueError, match="frames"):
        crossbar_energy(measure(net, result.to_recording("numpy")), net)
