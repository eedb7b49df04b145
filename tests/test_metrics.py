"""Workload and static metrics (snn.metrics) against counts worked out by hand and by brute force.

The hand-computed network: input (3 pixels) -> h1 (2 DeltaLIF) -> h2 (2 DeltaLIF) -> readout (1),
dense projections with the weights below, a known raster over 5 steps of 1 ms and 3 frames.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import snn
import snn.deep
from snn.connectors import Conv2d, Dense, Pool2d
from snn.metrics import mean_metrics, measure, measure_rates, static_metrics
from snn.neurons import DeltaLIF, LeakyIntegrator
from snn.recording import Recording, SpikeTrains

# kernels in torch layout (n_post, n_pre)
W_IN = np.array([[0.5, 0.0, 1.0], [0.25, 0.5, 0.0]])  # non-zero fan-out of input 0, 1, 2: 2, 1, 1
W_H1 = np.array([[1.0, 0.0], [1.0, 1.0]])  # non-zero fan-out of h1_0: 2, h1_1: 1
W_H2 = np.array([[1.0, 1.0]])
FRAMES = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
N_STEPS = 5
H1 = np.zeros((N_STEPS, 2), dtype=bool)
H1[1, 0] = H1[2, 0] = H1[2, 1] = H1[4, 1] = True
H2 = np.zeros((N_STEPS, 2), dtype=bool)
H2[2, 0] = H2[3, 1] = H2[4, 0] = H2[4, 1] = True
RASTER = {"h1": H1, "h2": H2}


def three_layer_network() -> snn.Network:
    net = snn.Network(dt=1e-3, seed=0)
    x = net.input(3, label="in")
    lif = DeltaLIF(tau_m=10e-3, v_thresh=1.0)
    h1 = net.population(2, lif, label="h1")
    h2 = net.population(2, lif, label="h2")
    out = net.population(1, LeakyIntegrator(tau_m=10e-3), label="out")
    net.connect(x, h1, Dense(), weight=W_IN, label="in_h1")
    net.connect(h1, h2, Dense(), weight=W_H1, label="h1_h2")
    net.connect(h2, out, Dense(), weight=W_H2, label="h2_out")
    return net


def test_hand_computed_counts() -> None:
    m = measure(three_layer_network(), RASTER, FRAMES, membrane=False)
    p = m.projections
    # input: frame 0: x0 = 1 (AC, 2 synapses), x2 = 2 (MAC, 1); frame 2: x0 (AC, 2), x1 (AC, 1)
    assert (p["in_h1"].acs, p["in_h1"].macs) == (5, 1)
    assert p["in_h1"].synaptic_events == 4 * 2  # four non-zero inputs, fan-out 2 each
    # h1: spikes at steps 1 (h1_0), 2 (h1_0, h1_1); step 4 arrives at step 5 = outside the run
    assert (p["h1_h2"].acs, p["h1_h2"].macs, p["h1_h2"].synaptic_events) == (2 + 2 + 1, 0, 6)
    assert (p["h2_out"].acs, p["h2_out"].synaptic_events) == (2, 2)
    assert m.acs == 12 and m.macs == 1 and m.synaptic_operations == 13
    assert [p[k].dense for k in ("in_h1", "h1_h2", "h2_out")] == [6 * 5, 4 * 5, 2 * 5]
    assert m.dense == 60
    assert m.membrane_updates == (2 + 2 + 1) * 5
    assert m.spikes == 8
    assert m.activation_sparsity == pytest.approx(1 - 8 / 20)
    assert m.layers["h1"].activation_sparsity == pytest.approx(1 - 4 / 10)
    assert m.layers["h1"].rate == pytest.approx(4 / (2 * 5e-3))
    assert m.layers["out"].activation_sparsity is None
    assert m.layers["h2"].acs == 5 and m.layers["out"].acs == 2
    assert m.input_events == 5 and m.input_nonzero == 4
    assert m.input_event_rate == pytest.approx(5 / 3e-3)
    # crossbar reads of dense projections: arrival steps with any input
    assert [p[k].vmm_reads for k in ("in_h1", "h1_h2", "h2_out")] == [2, 2, 2]
    assert [p[k].active_rows for k in ("in_h1", "h1_h2", "h2_out")] == [4, 3, 2]


def test_hand_computed_neurobench_convention() -> None:
    m = measure(three_layer_network(), RASTER, FRAMES, convention="neurobench", membrane=False)
    # frame 0 holds a 2: all of its operations are MACs; frame 2 is binary
    assert (m.projections["in_h1"].acs, m.projections["in_h1"].macs) == (3, 3)
    assert m.acs == 3 + 5 + 2 and m.macs == 3
    # the readout counts as a layer of zero outputs
    assert m.activation_sparsity == pytest.approx(1 - 8 / 25)


def test_same_step_delivery_counts_the_last_step() -> None:
    m = measure(three_layer_network(), RASTER, FRAMES, delivery="same_step", membrane=False)
    assert m.projections["h1_h2"].acs == 5 + 1  # h1_1 at step 4 (non-zero fan-out 1)
    assert m.projections["h2_out"].acs == 2 + 2


def test_static_metrics_by_hand() -> None:
    net = three_layer_network()
    s = static_metrics(net)
    weights = 6 + 4 + 2
    zeros = int((W_IN == 0).sum() + (W_H1 == 0).sum() + (W_H2 == 0).sum())  # W_IN: 2, W_H1: 1
    assert s.weights == weights and s.zero_weights == zeros == 3
    assert s.connection_sparsity == pytest.approx(3 / 12)
    # neuron parameters: uniform, one value each: DeltaLIF tau_m, v_thresh, v_bias (x2 layers),
    # LeakyIntegrator tau_m, v_bias
    assert s.neuron_parameters == 3 + 3 + 2
    assert s.parameter_count == 12 + 8
    state = 2 + 2 + 1  # one membrane potential per neuron
    assert s.footprint_bytes == 4 * (20 + state)
    nb = static_metrics(net, "neurobench", value_bytes=8)
    assert nb.parameter_count == 12
    assert nb.connection_sparsity == 0.25
    assert nb.footprint_bytes == 12 * 8 + 3 * (2 * 8 + 4 + 8)


def test_effective_membrane_updates_match_the_reference_potentials() -> None:
    """NeuroBench's definition (changed potentials) from our reconstruction vs the potentials
    the NumPy reference computed (the readout's trace)."""
    net = three_layer_network()
    res = snn.deep.run(net, FRAMES * 1.5, backend="numpy", n_steps=6)
    m = measure(net, res, FRAMES * 1.5)
    v = res.readout_v[:, 0]
    expected = 1 + int(np.count_nonzero(v[1:] != v[:-1]))
    assert m.layers["out"].effective_membrane_updates == expected


def test_recording_and_deep_result_agree_and_counts_match_the_kernel() -> None:
    from snn.models.dvs import cordone_network

    net = cordone_network((2, 48, 48), n_classes=4)
    rng = np.random.default_rng(3)
    frames = rng.poisson(0.2, (6, 2, 48, 48)).astype(float)
    res = snn.deep.run(net, frames, backend="numba")
    a = measure(net, res, frames)
    b = measure(net, res.to_recording("numba"), frames)
    assert a.totals() == b.totals()
    # independent count: the deep executors' own tally of synaptic events (no zero weights here)
    for label, count in res.synaptic_events.items():
        assert a.projections[label].synaptic_events == count
    # without the frames the input projection falls back to the recorded event count, as MACs
    c = measure(net, res.to_recording("numba"))
    assert c.projections["conv1_w"].macs == res.synaptic_events["conv1_w"]
    assert c.notes and c.input_events is None


def test_clock_driven_recording_brute_force() -> None:
    net = snn.Network(dt=0.1e-3, seed=4)
    src = net.population(20, snn.SpikeSourcePoisson(rate=200.0), label="src")
    exc = net.population(30, snn.IF_curr_exp(), label="exc")
    net.connect(src, exc, snn.FixedProbability(0.3), weight=2e-9, delay=0.3e-3, label="ff")
    net.connect(exc, exc, snn.FixedProbability(0.2), weight=0.5e-9, delay=0.1e-3, label="rec")
    net.record(src, "spikes")
    net.record(exc, "spikes")
    rec = net.run(0.05, backend="numpy")
    m = measure(net, rec)
    n = net.n_steps(0.05)
    for proj in net.projections:
        train = rec.spikes[proj.pre.label]
        expected = 0
        for t, i in zip(np.rint(train.times / net.dt).astype(int), train.ids, strict=True):
            mask = proj.pre_idx == i
            expected += int(np.count_nonzero(t + proj.delays[mask] < n))
        assert m.projections[proj.label].synaptic_events == expected
        assert m.projections[proj.label].acs == expected  # all weights non-zero, spikes binary
    assert m.layers["exc"].membrane_updates == 30 * n
    assert m.input_events == rec.spikes["src"].count
    assert m.layers["exc"].rate == pytest.approx(rec.rate("exc"))


def test_measure_rates_by_hand() -> None:
    net = three_layer_network()
    m = measure_rates(net, {"h1": 100.0, "h2": 50.0}, n_steps=10, input_rate=200.0, input_frames=4)
    # input: p = 0.2 per step for 4 frames, 6 synapses (4 non-zero), delay 1 (4 <= 10 - 1)
    assert m.projections["in_h1"].synaptic_events == pytest.approx(0.2 * 6 * 4)
    assert m.projections["in_h1"].acs == pytest.approx(0.2 * 4 * 4)
    # h1: p = 0.1, 4 synapses (3 non-zero), delivered for 9 of 10 steps
    assert m.projections["h1_h2"].acs == pytest.approx(0.1 * 3 * 9)
    assert m.layers["h1"].spikes == pytest.approx(100.0 * 2 * 10e-3)
    assert m.layers["h1"].activation_sparsity == pytest.approx(0.9)
    assert m.membrane_updates == 5 * 10
    # crossbar reads: P(any of 3 inputs active) per frame
    assert m.projections["in_h1"].vmm_reads == pytest.approx((1 - 0.8**3) * 4)
    macs = measure_rates(net, 10.0, n_steps=10, input_rate=200.0, input_binary=False)
    assert macs.projections["in_h1"].acs == 0 and macs.projections["in_h1"].macs > 0


def test_mean_metrics_averages_samples() -> None:
    net = three_layer_network()
    a = measure(net, RASTER, FRAMES, membrane=False)
    b = measure(net, {"h1": np.zeros_like(H1), "h2": H2}, FRAMES, membrane=False)
    mean = mean_metrics([a, b])
    assert mean.samples == 2
    assert mean.acs == pytest.approx((a.acs + b.acs) / 2)
    assert mean.layers["h1"].spikes == 2


def test_conv_vmm_reads_by_brute_force() -> None:
    net = snn.Network(dt=1e-3, seed=1)
    x = net.input((1, 5, 5), label="in")
    conv = Conv2d(2, 3, stride=1)
    h = net.population(conv.output_shape(x.shape), DeltaLIF(), label="h")
    out = net.population(2, LeakyIntegrator(), label="out")
    net.connect(x, h, conv, weight=0.1, label="c")
    net.connect(h, out, Dense(), weight=0.1, label="d")
    frames = np.zeros((3, 1, 5, 5))
    frames[0, 0, 0, 0] = 1  # one output position (0, 0)
    frames[1, 0, 2, 2] = 1  # the centre: all 9 positions
    frames[1, 0, 4, 4] = 1  # position (2, 2), already counted
    m = measure(net, {"h": np.zeros((5, 2, 3, 3), bool)}, frames, membrane=False)
    assert m.projections["c"].vmm_reads == 1 + 9
    assert m.projections["c"].synaptic_events == (1 + 9 + 1) * 2


# -- bad input ---------------------------------------------------------------------------------
def test_missing_layer_is_a_clear_error() -> None:
    net = three_layer_network()
    with pytest.raises(ValueError, match="'h2'"):
        measure(net, {"h1": H1}, FRAMES)
    rec = Recording(dt=1e-3, duration=5e-3, backend="numpy", seed=0)
    rec.spikes["h1"] = SpikeTrains("h1", np.arange(2), np.array([1e-3]), np.array([0]))
    with pytest.raises(ValueError, match="h2"):
        measure(net, rec, FRAMES)
    with pytest.raises(ValueError, match="input frames"):
        measure(net, RASTER)


def test_mismatched_time_bins_are_clear_errors() -> None:
    net = three_layer_network()
    with pytest.raises(ValueError, match="time"):
        measure(net, {"h1": H1, "h2": H2[:4]}, FRAMES)
    with pytest.raises(ValueError, match="mismatched time bins"):
        measure(net, RASTER, np.zeros((7, 3)))
    rec = Recording(dt=0.5e-3, duration=5e-3, backend="numpy", seed=0)
    with pytest.raises(ValueError, match="dt"):
        measure(net, rec, FRAMES)
    rec = Recording(dt=1e-3, duration=5e-3, backend="numpy", seed=0)
    for label in ("h1", "h2"):
        rec.spikes[label] = SpikeTrains(label, np.arange(2), np.array([1.5e-3]), np.array([0]))
    with pytest.raises(ValueError, match="grid"):
        measure(net, rec, FRAMES)


def test_bad_rates_are_clear_errors() -> None:
    net = three_layer_network()
    with pytest.raises(ValueError, match=">= 0 Hz"):
        measure_rates(net, -1.0, n_steps=5)
    with pytest.raises(ValueError, match=">= 0 Hz"):
        measure_rates(net, 1.0, n_steps=5, input_rate=-3.0)
    with pytest.raises(ValueError, match="one spike per step"):
        measure_rates(net, 2000.0, n_steps=5)
    with pytest.raises(ValueError, match="unknown populations"):
        measure_rates(net, {"h1": 1.0, "h2": 1.0, "nope": 1.0}, n_steps=5)
    with pytest.raises(ValueError, match="no rate for spiking population 'h2'"):
        measure_rates(net, {"h1": 1.0}, n_steps=5)
    with pytest.raises(ValueError, match="exactly one"):
        measure_rates(net, 1.0)
    with pytest.raises(ValueError, match="convention"):
        measure(net, RASTER, FRAMES, convention="other")


def test_snn_bench_writes_the_report(tmp_path: Path) -> None:
    from snn.cli import main

    model = tmp_path / "net.h5"
    snn.save(three_layer_network(), model)
    frames = tmp_path / "frames.npy"
    np.save(frames, FRAMES)
    out = tmp_path / "bench"
    assert main(["bench", str(model), "--frames", str(frames), "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "| h1 | 2 |" in text and "loihi" in text
    assert "<h1>snn bench: net.h5</h1>" in (out / "report.html").read_text()
    data = json.loads((out / "metrics.json").read_text())
    assert data["metrics"]["layers"]["in"]["neurons"] == 3
    assert set(data["energy"]) >= {"cpu-fp32", "spinnaker", "loihi", "crossbar"}
    assert main(["bench", str(model), "--rate", "10", "--out", str(out)]) == 0
    assert main(["bench", str(model), "--out", str(out)]) == 2


def test_effective_membrane_updates_counted_in_the_run_equal_the_reconstruction() -> None:
    """The deep executors count NeuroBench's membrane updates while running; measure() uses
    those counts, which equal the potentials reconstructed from the raster and frames."""
    import dataclasses

    from snn import deep
    from snn.metrics import measure
    from snn.models.dvs import csnn_network

    net = csnn_network(channels=4, weight_gain=4.0, seed=2)
    frames = (np.random.default_rng(3).random((8, 2, 32, 32)) < 0.05).astype(np.float64)
    for backend in ("numpy", "numba"):
        res = deep.run(net, frames, backend=backend)
        assert sum(res.membrane_changes.values()) > 0
        counted = measure(net, res, frames)
        rebuilt = measure(net, dataclasses.replace(res, membrane_changes={}), frames)
        assert counted.effective_membrane_updates == rebuilt.effective_membrane_updates
        for label, layer in counted.layers.items():
            assert (
                layer.effective_membrane_updates == rebuilt.layers[label].effective_membrane_updates
            )


def odd_geometry_network() -> snn.Network:
    """Stride 2 and padding, pooling that leaves a row and a column out, zero weights, and a
    layer fed by two projections: every case of the kernel's counting."""
    rng = np.random.default_rng(5)
    net = snn.Network(dt=1e-3, seed=3)
    x = net.input((2, 9, 9), label="in")
    conv = Conv2d(3, 3, stride=2, padding=1)
    lif = DeltaLIF(tau_m=5e-3, v_thresh=0.3)
    h = net.population(conv.output_shape(x.shape), lif, label="h")
    pool = Pool2d(2)
    p = net.population(pool.output_shape(h.shape), lif, label="p")
    d = net.population(7, lif, label="d")
    out = net.population(3, LeakyIntegrator(tau_m=5e-3), label="out")
    w_conv = rng.normal(size=(3, 2, 3, 3))
    w_conv[0, 1] = 0.0
    w_conv[1, :, 0, 0] = 0.0
    w_dense = rng.normal(size=(7, p.size))
    w_dense[:, :3] = 0.0
    w_dense[2] = 0.0
    net.connect(x, h, conv, weight=w_conv, label="conv")
    net.connect(h, p, pool, weight=1.0, label="pool")
    net.connect(p, d, Dense(), weight=w_dense, label="dense")
    net.connect(h, d, Dense(), weight=rng.normal(size=(7, h.size)), label="skip")
    net.connect(d, out, Dense(), weight=rng.normal(size=(3, 7)), label="readout")
    return net


@pytest.mark.parametrize("kind", ["binary", "counts", "mixed", "polarity"])
def test_kernel_counts_equal_the_raster_scan(kind: str) -> None:
    """measure() takes a Numba run's workload from the kernel's own counts; the NumPy
    reference's run has none and is measured by scanning its raster: every metric agrees
    exactly, in both conventions. Different frames, or same-step delivery, scan the raster."""
    import dataclasses

    net = odd_geometry_network()
    rng = np.random.default_rng(7)
    shape = (6, 2, 9, 9)
    if kind == "binary":
        frames = (rng.random(shape) < 0.3).astype(np.float64)
    elif kind == "counts":
        frames = rng.poisson(0.5, shape).astype(np.float64)
    elif kind == "mixed":  # one graded value: NeuroBench counts that step's input as MACs
        frames = (rng.random(shape) < 0.3).astype(np.float64)
        frames[2, 0, 0, 0] = 0.5
    else:
        frames = np.sign(rng.normal(size=shape)) * (rng.random(shape) < 0.3)
    fast = snn.deep.run(net, frames, backend="numba")
    ref = snn.deep.run(net, frames, backend="numpy")
    assert fast.activity is not None and ref.activity is None
    for convention in ("snn", "neurobench"):
        counted = measure(net, fast, frames, convention=convention)
        assert counted == measure(net, ref, frames, convention=convention)
        assert counted.spikes > 0 and counted.synaptic_operations > 0
        assert all(p.vmm_reads > 0 for p in counted.projections.values() if p.counted)
        scanned = dataclasses.replace(fast, activity=None)
        other = frames[::-1].copy()
        assert measure(net, fast, other, convention=convention) == measure(
            net, scanned, other, convention=convention
        )
        assert measure(net, fast, frames, convention=convention, delivery="same_step") == (
            measure(net, scanned, frames, convention=convention, delivery="same_step")
        )
