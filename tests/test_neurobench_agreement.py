"""Our metrics against NeuroBench 2.3 on the same network, weights and inputs.

Each network runs twice: on our deep executors and, as an snnTorch ``Leaky`` model with the
same weights (:func:`snn.metrics.to_snntorch`), under NeuroBench's ``Benchmark`` with its
hooks. The spikes must be identical (snnTorch is an independent implementation of the update),
and with ``convention="neurobench"`` every metric must equal NeuroBench's exactly. Our own
convention differs where documented (MACs per element, pooling counted, readout left out of the
activation sparsity), checked here too. Weights are multiples of 1/8 so every sum is exact in
float64 whatever the order of additions.

Needs ``snntorch`` and ``neurobench`` (test dependencies); skipped without them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import snn
import snn.deep
from snn.connectors import Conv2d, Dense, Pool2d
from snn.metrics import measure, static_metrics
from snn.neurons import DeltaLIF, LeakyIntegrator

pytest.importorskip("snntorch", reason="the NeuroBench comparison needs snntorch")
pytest.importorskip("neurobench", reason="the NeuroBench comparison needs neurobench")

from snn.metrics import neurobench_metrics


def _dyadic(rng: np.random.Generator, shape: tuple[int, ...], zero_fraction: float) -> Any:
    w = np.round(rng.uniform(-1.0, 1.0, shape) * 8) / 8
    w[rng.random(shape) < zero_fraction] = 0.0
    return w


def conv_net() -> snn.Network:
    """conv 3x3 -> spike max-pool 2 -> dense -> readout, with pruned (zero) weights."""
    rng = np.random.default_rng(0)
    net = snn.Network(dt=1e-3, seed=0)
    x = net.input((2, 10, 10), label="events")
    lif = DeltaLIF(tau_m=10e-3, v_thresh=1.0, reset="subtract")
    conv = Conv2d(4, 3, stride=1, padding=1)
    h1 = net.population(conv.output_shape(x.shape), lif, label="conv1")
    net.connect(x, h1, conv, weight=_dyadic(rng, (4, 2, 3, 3), 0.2), label="conv1_w")
    pool = Pool2d(2)
    pool_lif = DeltaLIF(tau_m=10e-3, v_thresh=0.5, reset="zero", learn=())
    p1 = net.population(pool.output_shape(h1.shape), pool_lif, label="pool1")
    net.connect(h1, p1, pool, weight=1.0, label="pool1_w")
    h2 = net.population(20, lif, label="fc1")
    net.connect(p1, h2, Dense(), weight=_dyadic(rng, (20, p1.size), 0.1), label="fc1_w")
    out = net.population(5, LeakyIntegrator(tau_m=10e-3), label="readout")
    net.connect(h2, out, Dense(), weight=_dyadic(rng, (5, 20), 0.0), label="readout_w")
    return net


def dense_net() -> snn.Network:
    """dense 40 -> 30 -> 20 -> readout 6, zero-reset neurons."""
    rng = np.random.default_rng(1)
    net = snn.Network(dt=1e-3, seed=1)
    x = net.input(40, label="in")
    lif = DeltaLIF(tau_m=5e-3, v_thresh=0.75, reset="zero")
    h1 = net.population(30, lif, label="h1")
    h2 = net.population(20, lif, label="h2")
    out = net.population(6, LeakyIntegrator(tau_m=20e-3), label="readout")
    net.connect(x, h1, Dense(), weight=_dyadic(rng, (30, 40), 0.3), label="w1")
    net.connect(h1, h2, Dense(), weight=_dyadic(rng, (20, 30), 0.0), label="w2")
    net.connect(h2, out, Dense(), weight=_dyadic(rng, (6, 20), 0.0), label="w3")
    return net


def sparse_binary(shape: tuple[int, ...]) -> Any:
    """About 10 % of inputs on, values 0/1: NeuroBench sees spikes (ACs)."""
    return (np.random.default_rng(2).random((12, *shape)) < 0.1).astype(np.float64)


def dense_counts(shape: tuple[int, ...]) -> Any:
    """About 55 % of inputs non-zero, counts up to ~5: MACs in the input layer."""
    return np.random.default_rng(3).poisson(0.8, (12, *shape)).astype(np.float64)


CASES = {
    "conv-sparse-binary": (conv_net, sparse_binary),
    "conv-dense-counts": (conv_net, dense_counts),
    "dense-sparse-binary": (dense_net, sparse_binary),
    "dense-dense-counts": (dense_net, dense_counts),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> dict[str, Any]:
    build, inputs = CASES[request.param]
    net = build()
    frames = inputs(net.populations[0].shape)
    result = snn.deep.run(net, frames, backend="numpy")
    nb, nb_spikes = neurobench_metrics(net, frames)
    return {"net": net, "frames": frames, "result": result, "nb": nb, "nb_spikes": nb_spikes}


def test_snntorch_mirror_reproduces_our_spikes(case: dict[str, Any]) -> None:
    result = case["result"]
    assert set(case["nb_spikes"]) == set(result.spikes)
    for label, spikes in result.spikes.items():
        assert np.array_equal(case["nb_spikes"][label], spikes), label
    numba = snn.deep.run(case["net"], case["frames"], backend="numba")
    for label, spikes in result.spikes.items():
        assert np.array_equal(numba.spikes[label], spikes), label
    assert sum(int(s.sum()) for s in result.spikes.values()) > 20, "too quiet to test anything"


def test_neurobench_convention_equals_neurobench(case: dict[str, Any]) -> None:
    net, nb = case["net"], case["nb"]
    ours = measure(net, case["result"], case["frames"], convention="neurobench")
    synops = nb["SynapticOperations"]
    assert ours.acs == synops["Effective_ACs"]
    assert ours.macs == synops["Effective_MACs"]
    assert ours.dense == synops["Dense"]
    assert ours.activation_sparsity == nb["ActivationSparsity"]
    assert ours.effective_membrane_updates == nb["MembraneUpdates"]
    assert ours.parameter_count == nb["ParameterCount"]
    assert ours.connection_sparsity == nb["ConnectionSparsity"]
    # the mirror holds float64 weights: 8 bytes per value
    assert static_metrics(net, "neurobench", value_bytes=8).footprint_bytes == nb["Footprint"]


def test_our_convention_differs_only_where_documented(case: dict[str, Any]) -> None:
    net, frames, result = case["net"], case["frames"], case["result"]
    ours = measure(net, result, frames)
    nb = measure(net, result, frames, convention="neurobench")
    pool = sum(p.synaptic_operations for p in ours.projections.values() if p.connector == "pool2d")
    assert ours.synaptic_operations == nb.synaptic_operations + pool
    assert ours.macs <= nb.macs  # per element, not per layer
    binary = bool(np.isin(frames, (0.0, 1.0)).all())
    assert (ours.macs == 0) == binary
    assert ours.effective_membrane_updates == nb.effective_membrane_updates
    spiking = [v for v in ours.layers.values() if v.spiking and not v.source]
    cells = sum(v.neurons for v in spiking) * ours.n_steps
    assert ours.activation_sparsity == pytest.approx(1 - ours.spikes / cells)
    assert ours.connection_sparsity == pytest.approx(nb.connection_sparsity, abs=5e-5)


def test_models_without_delays_use_same_step_delivery() -> None:
    """NeuroBench on an snnTorch model stepping every layer within one call: measured from that
    model's own spikes with ``delivery="same_step"``."""
    net = dense_net()
    frames = dense_counts((40,))
    nb, spikes = neurobench_metrics(net, frames, pipeline=False)
    ours = measure(net, spikes, frames, convention="neurobench", delivery="same_step")
    assert ours.n_steps == frames.shape[0]
    synops = nb["SynapticOperations"]
    assert (ours.acs, ours.macs, ours.dense) == (
        synops["Effective_ACs"],
        synops["Effective_MACs"],
        synops["Dense"],
    )
    assert ours.activation_sparsity == nb["ActivationSparsity"]
    assert ours.effective_membrane_updates == nb["MembraneUpdates"]
