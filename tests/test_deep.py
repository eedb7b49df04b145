"""Deep spiking networks: connector geometry, closed forms, and NumPy = Numba = torch parity."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import snn
from snn import deep
from snn.connectors import Conv2d, Dense, Pool2d
from snn.models.dvs import cordone_network, csnn_network
from snn.neurons import DeltaLIF, LeakyIntegrator


def _dense_matrix(proj: snn.Projection) -> np.ndarray:
    w = np.zeros((proj.post.size, proj.pre.size))
    np.add.at(w, (proj.post_idx, proj.pre_idx), proj.weights)
    return w


def _conv_by_loops(x: np.ndarray, k: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """Cross-correlation written out index by index (the independent reference)."""
    c_in, h, w = x.shape
    c_out, _, ks, _ = k.shape
    xp = np.zeros((c_in, h + 2 * padding, w + 2 * padding))
    xp[:, padding : padding + h, padding : padding + w] = x
    h_out = (h + 2 * padding - ks) // stride + 1
    w_out = (w + 2 * padding - ks) // stride + 1
    out = np.zeros((c_out, h_out, w_out))
    for co, oy, ox in itertools.product(range(c_out), range(h_out), range(w_out)):
        patch = xp[:, oy * stride : oy * stride + ks, ox * stride : ox * stride + ks]
        out[co, oy, ox] = np.sum(patch * k[co])
    return out


@pytest.mark.parametrize(
    ("shape", "out_channels", "kernel", "stride", "padding"),
    [
        ((2, 9, 7), 3, 3, 1, 0),
        ((2, 11, 11), 4, 5, 2, 0),
        ((3, 8, 8), 2, 3, 2, 1),
        ((1, 5, 6), 2, 5, 1, 2),
    ],
)
def test_conv2d_synapses_compute_the_convolution(
    shape: tuple[int, int, int], out_channels: int, kernel: int, stride: int, padding: int
) -> None:
    conv = Conv2d(out_channels, kernel, stride, padding)
    net = snn.Network(dt=1e-3, seed=3)
    x = net.input(shape)
    post = net.population(conv.output_shape(shape), DeltaLIF())
    proj = net.connect(x, post, conv, weight=snn.Normal(0.0, 1.0))
    rng = np.random.default_rng(0)
    inp = rng.normal(size=shape)
    expected = _conv_by_loops(inp, proj.kernel(), stride, padding)
    got = _dense_matrix(proj) @ inp.ravel()
    np.testing.assert_allclose(got, expected.ravel(), rtol=1e-12, atol=1e-12)
    # and torch's conv2d over the same kernel
    t = torch.nn.functional.conv2d(
        torch.tensor(inp[None]), torch.tensor(proj.kernel()), stride=stride, padding=padding
    )
    np.testing.assert_allclose(t.numpy().ravel(), expected.ravel(), rtol=1e-12, atol=1e-12)
    # synapses are sorted by (pre, post) and the kernel index maps back to the kernel
    order = np.lexsort((proj.post_idx, proj.pre_idx))
    assert np.array_equal(order, np.arange(proj.size))
    assert np.array_equal(proj.kernel().ravel()[proj.kernel_index], proj.weights)


def test_pool_and_dense_synapses() -> None:
    net = snn.Network(dt=1e-3, seed=1)
    x = net.input((2, 6, 6))
    p = net.population((2, 3, 3), DeltaLIF())
    pool = net.connect(x, p, Pool2d(2), weight=0.25)
    out = net.population(5, LeakyIntegrator())
    dense = net.connect(p, out, Dense(), weight=np.arange(5 * 18.0).reshape(5, 18))
    inp = np.arange(72.0).reshape(2, 6, 6)
    expected = inp.reshape(2, 3, 2, 3, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(_dense_matrix(pool) @ inp.ravel(), expected.ravel())
    assert np.array_equal(_dense_matrix(dense), np.arange(5 * 18.0).reshape(5, 18))
    assert dense.kernel_shape == (5, 18)
    assert pool.kernel_shape == (1,)


def test_delta_lif_closed_form() -> None:
    """A constant drive c from step 1 on: v_m = c (1 - beta^m) / (1 - beta) until threshold."""
    dt, tau, c, th = 1e-3, 5e-3, 0.3, 1.0
    net = snn.Network(dt=dt, seed=0)
    x = net.input(1)
    h = net.population(1, DeltaLIF(tau_m=tau, v_thresh=th, reset="zero"))
    net.connect(x, h, Dense(), weight=c)
    out = net.population(1, LeakyIntegrator(tau_m=1.0))
    net.connect(h, out, Dense(), weight=1.0)
    n = 40
    res = deep.run(net, np.ones((n, 1)), backend="numpy", n_steps=n)
    beta = np.exp(-dt / tau)
    # v reaches c (1 - beta^m) / (1 - beta) m steps after the first drive (step 1); the first
    # crossing is the smallest such m above L = log(1 - th (1 - beta) / c) / log(beta); the reset
    # to zero restarts the same trajectory, so spikes fall at every multiple of that period
    period = int(np.floor(np.log(1 - th * (1 - beta) / c) / np.log(beta))) + 1
    expected = list(range(period, n, period))
    assert len(expected) >= 3
    assert np.flatnonzero(res.spikes[h.label].ravel()).tolist() == expected


def _small_network(seed: int = 0) -> snn.Network:
    net = snn.Network(dt=1e-3, seed=seed)
    x = net.input((2, 24, 24))
    h1 = net.population((4, 10, 10), DeltaLIF(v_thresh=0.5, learn=("tau_m", "v_thresh")), "c1")
    net.connect(x, h1, Conv2d(4, 5, 2), weight=snn.Uniform(-0.3, 0.6))
    h2 = net.population((4, 5, 5), DeltaLIF(reset="zero", v_thresh=0.5, learn=()), "p1")
    net.connect(h1, h2, Pool2d(2), weight=1.0)
    h3 = net.population((6, 3, 3), DeltaLIF(tau_m=5e-3, v_bias=0.01), "c2")
    net.connect(h2, h3, Conv2d(6, 3, 1), weight=snn.Uniform(-0.3, 0.6))
    out = net.population(11, LeakyIntegrator(), "out")
    net.connect(h3, out, Dense(), weight=snn.Normal(0, 0.2))
    return net


def _frames(shape: tuple[int, ...], t: int = 12, p: float = 0.1, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((t, *shape)) < p) * rng.integers(1, 3, (t, *shape)).astype(np.float64)


@pytest.mark.parametrize("build", [_small_network, lambda: csnn_network(channels=4)])
def test_numba_is_bit_identical_to_reference(build: object) -> None:
    net = build()  # type: ignore[operator]
    frames = _frames(net.populations[0].shape)
    ref = deep.run(net, frames, backend="numpy")
    fast = deep.run(net, frames, backend="numba")
    assert ref.spikes.keys() == fast.spikes.keys()
    for label in ref.spikes:
        assert np.array_equal(ref.spikes[label], fast.spikes[label]), label
    assert np.array_equal(ref.readout_v, fast.readout_v)
    assert ref.synaptic_events == fast.synaptic_events
    assert ref.membrane_changes == fast.membrane_changes
    assert sum(int(s.sum()) for s in ref.spikes.values()) > 50  # the test exercises spikes


@pytest.mark.parametrize(
    "build", [_small_network, lambda: cordone_network(input_shape=(2, 48, 48))]
)
def test_torch_float64_forward_matches_reference(build: object) -> None:
    net = build()  # type: ignore[operator]
    frames = _frames(net.populations[0].shape, t=10, p=0.15)
    ref = deep.run(net, frames, backend="numpy")
    module = deep.lower_torch(net, dtype=torch.float64)
    with torch.no_grad():
        logits, spikes = module(torch.tensor(frames[None]), record=True)
    for label, s in ref.spikes.items():
        assert np.array_equal(spikes[label][0].numpy().astype(bool), s), label
    np.testing.assert_allclose(logits[0].numpy().ravel(), ref.logits, rtol=0, atol=1e-12)
    assert sum(int(s.sum()) for s in ref.spikes.values()) > 20


def test_training_changes_parameters_and_export_round_trips(tmp_path: object) -> None:
    net = _small_network()
    module = deep.lower_torch(net, surrogate="atan", dtype=torch.float64)
    frames = torch.tensor(_frames((2, 24, 24), t=8)[None].repeat(2, axis=0))
    opt = torch.optim.SGD(module.parameters(), lr=0.05)
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(module(frames), torch.tensor([3, 3]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(p.grad is not None for p in module.parameters())
    exported = module.export()
    c1 = exported.population_by_label("c1")
    assert c1.params["tau_m"][0] == pytest.approx(float(module.tau_m["l0"].detach()))
    path = tmp_path / "trained.h5"  # type: ignore[operator]
    snn.save(exported, path)
    loaded = snn.load(path)
    assert isinstance(loaded, snn.Network)
    with torch.no_grad():
        expected = module(frames[:1])[0].numpy()
    res = deep.run(loaded, frames[0].numpy(), backend="numba")
    np.testing.assert_allclose(res.logits, expected, atol=1e-9)
    assert loaded.populations[1].model.options == net.populations[1].model.options


def test_surrogates_have_unit_area() -> None:
    from snn.deep.surrogate import DEFAULT_SCALES, SURROGATES

    x = torch.linspace(-200, 200, 2_000_001, dtype=torch.float64)
    for name in SURROGATES:
        area = torch.trapezoid(SURROGATES.get(name)(x, DEFAULT_SCALES[name]), x)
        # fast_sigmoid's area is 2/k (SuperSpike's unnormalised form); the others integrate to 1
        expected = 2 / DEFAULT_SCALES[name] if name == "fast_sigmoid" else 1.0
        assert float(area) == pytest.approx(expected, rel=2e-2), name


def test_bad_deep_networks_and_inputs() -> None:
    net = _small_network()
    with pytest.raises(ValueError, match="expected \\(T, 2, 24, 24\\)"):
        deep.run(net, np.zeros((5, 2, 20, 24)))
    with pytest.raises(ValueError, match="NaN"):
        deep.run(net, np.full((5, 2, 24, 24), np.nan))
    with pytest.raises(ValueError, match="must be real numbers, got dtype complex128"):
        deep.run(net, np.zeros((5, 2, 24, 24), dtype=complex))
    assert deep.run(net, np.zeros((5, 2, 24, 24), dtype=bool)).n_steps == 5 + 4  # bool frames
    with pytest.raises(ValueError, match=r"unknown deep-network backend 'gpu'.*numpy, numba, cuda"):
        deep.run(net, np.zeros((5, 2, 24, 24)), backend="gpu")
    with pytest.raises(ValueError, match=r"snn\.deep\.run"):
        net.run(0.01)
    bad = snn.Network(dt=1e-3)
    x = bad.input((1, 8, 8))
    h = bad.population((2, 4, 4), DeltaLIF())
    with pytest.raises(ValueError, match="output of shape \\(2, 6, 6\\)"):
        bad.connect(x, h, Conv2d(2, 3))
    with pytest.raises(ValueError, match="kernel shape \\(2, 1, 5, 5\\)"):
        bad.connect(x, h, Conv2d(2, 5), weight=np.zeros((2, 1, 3, 3)))
    with pytest.raises(ValueError, match="delay of one step"):
        bad.connect(x, h, Conv2d(2, 5), delay=2e-3)
    with pytest.raises(ValueError, match="deep-network neurons"):
        lif = bad.population((2, 4, 4), snn.IF_curr_exp())
        bad.connect(x, lif, Conv2d(2, 5))
    with pytest.raises(ValueError, match="unknown reset 'hard'; valid choices: subtract, zero"):
        DeltaLIF(reset="hard")
    with pytest.raises(ValueError, match="cannot learn 'tau_s'"):
        DeltaLIF(learn=("tau_s",))
    no_readout = snn.Network(dt=1e-3)
    xi = no_readout.input((1, 8, 8))
    hi = no_readout.population((2, 4, 4), DeltaLIF())
    no_readout.connect(xi, hi, Conv2d(2, 5))
    with pytest.raises(ValueError, match="LeakyIntegrator readout"):
        deep.deep_graph(no_readout)
    with pytest.raises(ValueError, match="unknown surrogate 'relu'"):
        deep.lower_torch(net, surrogate="relu")


@pytest.mark.parametrize("surrogate", ["fast_sigmoid", "atan"])
def test_fused_scan_gradients_equal_autograd(surrogate: str) -> None:
    """The hand-written backward of the LIF scan gives autograd's gradients (float64)."""
    net = _small_network()
    frames = torch.tensor(_frames((2, 24, 24), t=8, p=0.2)[None].repeat(3, axis=0))
    labels = torch.tensor([1, 4, 7])
    grads = []
    for fused in (False, True):
        module = deep.lower_torch(net, surrogate=surrogate, dtype=torch.float64, fused=fused)
        loss = torch.nn.functional.cross_entropy(module(frames), labels)
        loss.backward()
        grads.append({k: p.grad.clone() for k, p in module.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for key in grads[0]:
        torch.testing.assert_close(grads[1][key], grads[0][key], rtol=1e-9, atol=1e-12)
    assert any(float(g.abs().sum()) > 0 for g in grads[0].values())


@pytest.mark.parametrize(("stride", "padding"), [(2, 0), (1, 2), (3, 1)])
def test_sparse_input_convolution_equals_conv2d(stride: int, padding: int) -> None:
    """The event-driven first convolution (forward and weight gradient) is torch's conv2d."""
    from snn.deep.torch_lowering import _SparseInputConv2d

    rng = np.random.default_rng(stride)
    x = torch.tensor((rng.random((3, 2, 2, 17, 15)) < 0.1) * rng.integers(1, 4, (3, 2, 2, 17, 15)))
    x = x.to(torch.float64)
    w1 = torch.tensor(rng.normal(size=(4, 2, 5, 5)), requires_grad=True)
    w2 = w1.detach().clone().requires_grad_(True)
    ours = _SparseInputConv2d.apply(x, w1, stride, padding)
    ref = F.conv2d(x.reshape(6, 2, 17, 15), w2, stride=stride, padding=padding)
    ref = ref.reshape(3, 2, *ref.shape[1:])
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    g = torch.tensor(rng.normal(size=tuple(ref.shape)))
    (ours * g).sum().backward()
    (ref * g).sum().backward()
    torch.testing.assert_close(w1.grad, w2.grad, rtol=1e-10, atol=1e-10)
