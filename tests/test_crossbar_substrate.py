"""Crossbars as synapses: projections whose weights are realised on programmed crossbars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import snn
from snn import deep
from snn.hardware.crossbar import (
    CrossbarCircuit,
    CrossbarLayer,
    CrossbarSubstrate,
    DeviceModel,
    ProgrammingNoise,
    Quantiser,
    StuckAtFaults,
    program_network,
    projection_matrix,
)
from snn.models.dvs import cordone_network


def _deep_net(substrate: CrossbarSubstrate | None) -> snn.Network:
    net = snn.Network(dt=1e-3, seed=2)
    x = net.input((2, 12, 12), label="events")
    h = net.population((4, 4, 4), snn.DeltaLIF(v_thresh=0.3), label="conv")
    net.connect(
        x, h, snn.Conv2d(4, 5, stride=2), weight=snn.Uniform(-0.5, 0.8), substrate=substrate
    )
    out = net.population(5, snn.LeakyIntegrator(), label="readout")
    net.connect(h, out, snn.Dense(), weight=snn.Normal(0.0, 0.3), substrate=substrate)
    return net


def _frames(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((8, 2, 12, 12)) < 0.2).astype(np.float64)


def test_ideal_crossbar_reproduces_the_weights() -> None:
    ideal = CrossbarSubstrate(dac_bits=None, adc_bits=None)
    net = _deep_net(ideal)
    programmed, report = program_network(net, seed=0)
    assert [r.label for r in report] == [p.label for p in net.projections]
    for a, b in zip(net.projections, programmed.projections, strict=True):
        np.testing.assert_allclose(b.kernel(), a.kernel(), rtol=1e-12, atol=1e-15)
    ref = deep.run(net, _frames(), backend="numpy")
    again = deep.run(programmed, _frames(), backend="numpy")
    assert all(np.array_equal(ref.spikes[k], again.spikes[k]) for k in ref.spikes)


def test_effective_weights_are_what_the_analog_chain_computes() -> None:
    """With IR drop and programming noise, x @ W_eff equals the crossbar's analog output."""
    sub = CrossbarSubstrate(
        device=DeviceModel(programming_noise=ProgrammingNoise()),
        r_word=2.0,
        r_bit=2.0,
        tile_rows=32,
        tile_cols=16,
    )
    rng = np.random.default_rng(1)
    w = rng.normal(size=(40, 7))
    eff = sub.effective_matrix(w, seed=3)
    layer = sub.layer(w, seed=3, ideal_converters=True)
    x = rng.normal(size=(5, 40))
    np.testing.assert_allclose(x @ eff, layer.forward(x), rtol=1e-10, atol=1e-12)
    # the wires matter: the same devices on ideal wires give another matrix
    ideal_wires = CrossbarSubstrate(device=sub.device, tile_rows=32, tile_cols=16)
    assert np.abs(ideal_wires.effective_matrix(w, seed=3) - eff).max() > 1e-4


def test_ir_drop_matches_the_circuit_solver() -> None:
    """One tile, differential pair on ideal devices: W_eff from the exact nodal solution."""
    sub = CrossbarSubstrate(r_word=1.0, r_bit=1.0, tile_rows=16, tile_cols=16)
    w = np.random.default_rng(2).uniform(-1, 1, size=(16, 16))
    dev = sub.device
    s = (dev.g_max - dev.g_min) / np.abs(w).max()
    g_pos = dev.g_min + s * np.maximum(w, 0)
    g_neg = dev.g_min + s * np.maximum(-w, 0)
    eff_pos = CrossbarCircuit(g_pos, r_word=1.0, r_bit=1.0).effective_conductance()
    eff_neg = CrossbarCircuit(g_neg, r_word=1.0, r_bit=1.0).effective_conductance()
    expected = (eff_pos - eff_neg) / s
    np.testing.assert_allclose(sub.effective_matrix(w, seed=0), expected, rtol=1e-8, atol=1e-10)


def test_clock_driven_projection_on_a_crossbar() -> None:
    faults = DeviceModel(faults=StuckAtFaults(rate_on=0.05, rate_off=0.05))
    net = snn.Network(dt=1e-3, seed=1)
    a = net.population(30, snn.SpikeSourcePoisson(rate=50.0), label="a")
    b = net.population(20, snn.IF_curr_exp(), label="b")
    proj = net.connect(
        a,
        b,
        snn.FixedProbability(0.3),
        weight=snn.Uniform(0.1e-9, 1e-9),
        receptor="inhibitory",
        substrate=CrossbarSubstrate(device=faults),
    )
    programmed, report = program_network(net, seed=4)
    new = programmed.projections[0]
    assert new.size == proj.size and (new.weights >= 0).all()
    assert report[0].relative_error > 0.01  # stuck devices change the weights
    # the realised synapse weights are the effective matrix at the synapses, sign restored
    matrix = projection_matrix(proj)
    assert np.all(matrix[proj.pre_idx, proj.post_idx] <= 0)
    programmed.run(0.02, backend="numba")  # any backend runs the programmed network


def test_substrate_round_trips_through_hdf5(tmp_path: Path) -> None:
    sub = CrossbarSubstrate(
        device=DeviceModel.pcm(), mapping="offset", adc_bits=6, r_word=0.5, read_time=3600.0
    )
    net = _deep_net(sub)
    snn.save(net, tmp_path / "xbar.h5")
    loaded = snn.load(tmp_path / "xbar.h5")
    assert isinstance(loaded, snn.Network)
    assert loaded.projections[0].substrate == sub
    assert loaded.projections[0].substrate.device == DeviceModel.pcm()


def test_dynamic_crossbar_inference_in_torch() -> None:
    """Per-step reads through DAC/ADC: ideal converters and devices give the exact logits;
    4-bit converters perturb them."""
    exact = deep.run(_deep_net(None), _frames(), backend="numpy")
    frames = torch.tensor(_frames()[None])
    ideal = deep.lower_torch(
        _deep_net(CrossbarSubstrate(dac_bits=None, adc_bits=None)),
        dtype=torch.float64,
        crossbar=True,
    )
    with torch.no_grad():
        logits = ideal(frames)[0].numpy()
    np.testing.assert_allclose(logits, exact.logits, rtol=1e-9, atol=1e-9)
    coarse = deep.lower_torch(
        _deep_net(CrossbarSubstrate(dac_bits=4, adc_bits=4)), dtype=torch.float64, crossbar=True
    )
    with torch.no_grad():
        rough = coarse(frames)[0].numpy()
    assert np.abs(rough - exact.logits).max() > 1e-3


def test_trained_style_network_keeps_its_predictions_on_mild_noise() -> None:
    net = cordone_network(input_shape=(2, 48, 48), weight_gain=4.0, seed=3)
    rng = np.random.default_rng(5)
    samples = [(rng.random((8, 2, 48, 48)) < 0.05).astype(float) for _ in range(4)]
    mild = CrossbarSubstrate(device=DeviceModel(programming_noise=ProgrammingNoise(scale=0.1)))
    programmed, report = program_network(net, mild, seed=0)
    assert {r.label for r in report} == {p.label for p in net.projections}
    assert all(r.relative_error < 0.05 for r in report)
    same = sum(deep.run(net, x).prediction == deep.run(programmed, x).prediction for x in samples)
    assert same >= 3


def test_bad_substrates() -> None:
    with pytest.raises(ValueError, match="unknown crossbar mapping 'bitwise'"):
        CrossbarSubstrate(mapping="bitwise")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="r_word must be a finite number >= 0"):
        CrossbarSubstrate(r_word=-1.0)
    with pytest.raises(ValueError, match="bits must be >= 2"):
        CrossbarSubstrate(adc_bits=0)
    net = snn.Network(dt=1e-3)
    x = net.input((1, 4, 4))
    p = net.population((1, 2, 2), snn.DeltaLIF())
    with pytest.raises(ValueError, match="pooling is fixed digital arithmetic"):
        net.connect(x, p, snn.Pool2d(2), weight=1.0, substrate=CrossbarSubstrate())
    with pytest.raises(ValueError, match="substrate must be"):
        net.connect(x, p, snn.Conv2d(1, 3), substrate="rram")
    with pytest.raises(ValueError, match="no projection declares a substrate"):
        deep.lower_torch(_deep_net(None), crossbar=True)
    with pytest.raises(ValueError, match="unknown device field 'memory'"):
        CrossbarSubstrate.from_dict({"device": {"memory": {}}})
    assert isinstance(CrossbarLayer(np.ones((2, 2)), adc=Quantiser(None)), CrossbarLayer)


def test_model_accuracy_sweep_over_non_idealities() -> None:
    from snn.hardware.crossbar.sweep import model_accuracy_sweep

    net = _deep_net(None)
    rng = np.random.default_rng(7)
    frames = [(rng.random((8, 2, 12, 12)) < 0.2).astype(float) for _ in range(6)]
    # labels: the exact network's own predictions, so the ideal point scores 100 %
    data = [(x, deep.run(net, x).prediction) for x in frames]
    acc = model_accuracy_sweep(net, data, "fault_rate", [0.0, 0.5], trials=2, seed=1)
    assert acc.shape == (2, 2)
    assert np.all(acc[0] == 100.0)
    assert acc[1].mean() < 100.0  # half the devices stuck: predictions change
    with pytest.raises(ValueError, match="cannot sweep a network's accuracy over 'adc_bits'"):
        model_accuracy_sweep(net, data, "adc_bits", [4])
