"""Batched deep-network inference on CUDA (:mod:`snn.deep.cuda_kernel`) against the NumPy
reference, on Numba's CUDA simulator (no GPU needed).

``NUMBA_ENABLE_CUDASIM=1`` is set while ``numba.cuda`` is first imported, unless the environment
sets it (``NUMBA_ENABLE_CUDASIM=0 pytest ...`` runs these tests on a GPU), as in
``tests/test_cuda_backend.py``; when another module imported ``numba.cuda`` first without it and
there is no GPU, this module skips (run it on its own). The simulator runs one Python thread per
CUDA thread, so the networks are tiny: tens to a few thousand neurons, a few frames.

Tolerance: none. Every sample's spikes, readout potentials, logits, prediction, synaptic events
and membrane changes equal :func:`snn.deep.run_reference`'s for that sample
(``np.array_equal``, ``==``). That the float64 kernel compiles without fused multiply-adds
(what carries the simulator's bit-parity over to a GPU) is checked on PTX when NVVM is installed.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import cuda_sim
import snn
from snn import deep
from snn.connectors import Conv2d, Dense, Pool2d
from snn.deep.reference import DeepResult
from snn.models.dvs import csnn_network
from snn.neurons import DeltaLIF, LeakyIntegrator

cuda_sim.use_simulator()
pytest.importorskip("numba_cuda", reason="the cuda executor needs the 'numba-cuda' package")


cuda_sim.skip_module_unless_available()

from snn.deep.cuda_kernel import run_cuda_batch  # noqa: E402

BATCH, FRAMES = 3, 4


def _conv_pool_dense(seed: int) -> snn.Network:
    """conv 3x3 (subtract reset) -> pool 2 (zero reset) -> dense readout."""
    net = snn.Network(dt=1e-3, seed=seed)
    x = net.input((2, 6, 6))
    conv = net.population((3, 4, 4), DeltaLIF(v_thresh=1.0), "conv")
    net.connect(x, conv, Conv2d(3, 3), weight=snn.Uniform(-0.3, 0.5))
    pool = net.population((3, 2, 2), DeltaLIF(v_thresh=0.5, reset="zero"), "pool")
    net.connect(conv, pool, Pool2d(2), weight=0.3)
    out = net.population(4, LeakyIntegrator(), "readout")
    net.connect(pool, out, Dense(), weight=snn.Normal(0.0, 0.5))
    return net


def _strided_two_inputs(seed: int) -> snn.Network:
    """A strided, padded conv with a bias, an overlapping pool, and a readout fed by two
    projections (its drive is a sum of two projection sums, in declaration order)."""
    net = snn.Network(dt=1e-3, seed=seed)
    x = net.input((2, 6, 6))
    conv = net.population((3, 3, 3), DeltaLIF(tau_m=5e-3, v_thresh=0.4, v_bias=0.02), "conv")
    net.connect(x, conv, Conv2d(3, 3, stride=2, padding=1), weight=snn.Uniform(-0.4, 0.8))
    pool = net.population((3, 2, 2), DeltaLIF(v_thresh=0.5, reset="zero"), "pool")
    net.connect(conv, pool, Pool2d(2, stride=1), weight=0.3)
    out = net.population(4, LeakyIntegrator(tau_m=10e-3, v_bias=0.01), "readout")
    net.connect(pool, out, Dense(), weight=snn.Normal(0.0, 0.5))
    net.connect(conv, out, Dense(), weight=snn.Normal(0.0, 0.5))
    return net


NETWORKS = {"conv_pool_dense": _conv_pool_dense, "strided_two_inputs": _strided_two_inputs}


def _frames(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Graded (and some negative) event frames; the last sample is silent."""
    rng = np.random.default_rng(seed)
    size = (BATCH, FRAMES, *shape)
    frames = (rng.random(size) < 0.4) * rng.normal(0.8, 0.6, size)
    frames[-1] = 0.0
    return frames


def _assert_same(got: DeepResult, ref: DeepResult) -> None:
    assert got.n_steps == ref.n_steps and got.dt == ref.dt
    assert got.spikes.keys() == ref.spikes.keys()
    for label, spikes in ref.spikes.items():
        assert got.spikes[label].dtype == np.bool_
        assert np.array_equal(got.spikes[label], spikes), label
    assert got.readout_v.dtype == np.float64
    assert np.array_equal(got.readout_v, ref.readout_v)
    assert np.array_equal(got.logits, ref.logits)
    assert got.prediction == ref.prediction
    assert got.synaptic_events == ref.synaptic_events
    assert got.membrane_changes == ref.membrane_changes


@pytest.mark.parametrize("name", list(NETWORKS))
def test_batch_equals_the_reference_bit_for_bit(name: str) -> None:
    net = NETWORKS[name](3)
    frames = _frames(net.populations[0].shape)
    results = deep.run_batch(net, frames, backend="cuda")
    assert len(results) == BATCH
    refs = [deep.run(net, sample, backend="numpy") for sample in frames]
    for got, ref in zip(results, refs, strict=True):
        _assert_same(got, ref)
    # the comparison means something: every layer spikes, none saturates, samples differ
    for label in refs[0].spikes:
        counts = [int(r.spikes[label].sum()) for r in refs[:-1]]
        size = refs[0].spikes[label].size
        assert all(0 < c < 0.7 * size for c in counts), (label, counts, size)
        assert not refs[-1].spikes[label].any()  # the silent sample
    assert not np.array_equal(refs[0].readout_v, refs[1].readout_v)


def test_single_sample_run_and_the_loop_executors_agree() -> None:
    net = _strided_two_inputs(5)
    graph = deep.deep_graph(net)
    frames = _frames(graph.input.shape, seed=1)
    ref = deep.run(graph, frames[0], backend="numpy")
    _assert_same(deep.run(graph, frames[0], backend="cuda"), ref)
    # frames flattened to (T, n_input) too
    _assert_same(deep.run(net, frames[0].reshape(FRAMES, -1), backend="cuda"), ref)
    for backend in ("numpy", "numba"):
        for got, sample in zip(deep.run_batch(net, frames, backend=backend), frames, strict=True):
            _assert_same(got, deep.run(net, sample, backend="numpy"))


@pytest.mark.parametrize("n_steps", [2, FRAMES + 5])
def test_explicit_run_lengths(n_steps: int) -> None:
    """Shorter than the frames (later frames unused) and longer than the default (no input)."""
    net = _conv_pool_dense(7)
    frames = _frames(net.populations[0].shape, seed=2)
    results = run_cuda_batch(deep.deep_graph(net), frames, n_steps=n_steps)
    for got, sample in zip(results, frames, strict=True):
        assert got.n_steps == n_steps
        _assert_same(got, deep.run(net, sample, backend="numpy", n_steps=n_steps))


def test_csnn_shaped_network() -> None:
    """NeuroBench's CSNN layout (conv 5x5, spike max-pool, conv 5x5, pool, conv readout) at its
    smallest input (32x32) with two channels: about 2200 neurons per sample."""
    net = csnn_network(input_shape=(2, 32, 32), channels=2, seed=1)
    rng = np.random.default_rng(0)
    frames = (rng.random((2, 3, 2, 32, 32)) < 0.3).astype(np.float32)
    results = deep.run_batch(net, frames, backend="cuda")
    for got, sample in zip(results, frames, strict=True):
        ref = deep.run(net, sample, backend="numpy")
        assert all(s.any() for s in ref.spikes.values()), "every layer should spike"
        _assert_same(got, ref)


def test_bad_input_is_refused_with_what_would_be_right() -> None:
    net = _conv_pool_dense(0)
    frames = _frames((2, 6, 6))
    with pytest.raises(ValueError, match=r"expected \(B, T, 2, 6, 6\)"):
        deep.run_batch(net, frames[0], backend="cuda")  # one sample, no batch axis
    with pytest.raises(ValueError, match=r"expected \(B, T, 2, 6, 6\)"):
        deep.run_batch(net, np.zeros((2, 3, 2, 5, 6)), backend="numpy")
    with pytest.raises(ValueError, match=r"expected \(T, 2, 6, 6\)"):
        deep.run(net, frames, backend="cuda")  # a batch given to the one-sample run
    with pytest.raises(ValueError, match="empty batch"):
        deep.run_batch(net, np.zeros((0, 3, 2, 6, 6)), backend="cuda")
    bad = frames.copy()
    bad[1, 2, 0, 3, 3] = np.nan
    for backend in deep.DEEP_BACKENDS:
        with pytest.raises(ValueError, match=r"NaN or inf \(samples \[1\] of the batch\)"):
            deep.run_batch(net, bad, backend=backend)
    with pytest.raises(ValueError, match="NaN or inf"):
        deep.run(net, bad[1], backend="cuda")
    with pytest.raises(ValueError, match="real numbers"):
        deep.run_batch(net, frames.astype(np.complex128), backend="cuda")
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        deep.run_batch(net, frames, backend="cuda", n_steps=0)
    for call in (deep.run, deep.run_batch):
        with pytest.raises(ValueError, match="valid choices: numpy, numba, cuda"):
            call(net, frames, backend="gpu")


def test_unavailable_without_gpu_or_simulator_says_how_to_enable_it() -> None:
    code = textwrap.dedent(
        """
        import numpy as np
        from numba import cuda
        from snn import deep
        from snn.models.dvs import csnn_network

        if cuda.is_available():
            print("GPU")
        else:
            try:
                deep.run(csnn_network(), np.zeros((1, 2, 32, 32)), backend="cuda")
            except RuntimeError as err:
                print(err)
        """
    )
    stdout = cuda_sim.run_without_simulator(code, timeout=120)
    if stdout.strip() == "GPU":
        pytest.skip("a CUDA GPU is present: the executor is available without the simulator")
    assert "deep backend 'cuda' is not available" in stdout, stdout
    assert "NUMBA_ENABLE_CUDASIM=1" in stdout, stdout


# the launch's arguments are captured (host arrays stand in for device arrays) so that the kernel
# can be compiled for them, as run_cuda_batch would on a GPU
_CAPTURE_SCRIPT = (
    """
import re
from snn.deep import cuda_kernel as ck, deep_graph
from snn.models.dvs import csnn_network
"""
    + cuda_sim.FAKE_LAUNCH_SCRIPT
    + """
ck.unavailable_reason = lambda: None

kernel, ck._layer_kernel = ck._layer_kernel, _Capture()
try:
    ck.run_cuda_batch(deep_graph(csnn_network()), np.zeros((2, 3, 2, 32, 32)))
except AttributeError:
    pass  # host arrays have no copy_to_host
sig = tuple(numba.typeof(a) for a in launched["args"])
"""
)

_PTX_SCRIPT = (
    _CAPTURE_SCRIPT
    + """
ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=(9, 0))
print(len(re.findall(r"fma\\.rn\\.f64", ptx)), len(re.findall(r"mul\\.rn\\.f64", ptx)))
"""
)

# numba-cuda's typing and LLVM lowering, before NVVM: runs without the CUDA toolkit
_IR_SCRIPT = (
    _CAPTURE_SCRIPT
    + """
from numba.core import types
from numba.cuda.compiler import compile_cuda

ir = compile_cuda(kernel.py_func, types.void, sig, cc=(9, 0)).library.get_llvm_str()
print(len(re.findall(r"\\bfmul\\b", ir)), len(re.findall(r'call double @"?__nv_dmul_rn', ir)))
"""
)


def _run_script(script: str) -> list[int]:
    return [int(n) for n in cuda_sim.run_without_simulator(script).split()]


def test_kernel_ir_has_every_float64_product_unfusable() -> None:
    """The kernel's LLVM IR (what NVVM receives) has no plain ``fmul``: every product is
    ``__nv_dmul_rn``, which NVVM never contracts into an FMA. Needs no GPU and no NVVM."""
    n_fmul, n_dmul = _run_script(_IR_SCRIPT)
    assert n_fmul == 0, "plain float products in the deep kernel: NVVM may fuse them"
    assert n_dmul >= 1


def test_compiled_float64_kernel_has_no_fused_multiply_add() -> None:
    """Needs NVVM (CUDA toolkit, or the nvidia-nvvm wheel via CUDA_HOME), not a GPU."""
    cuda_sim.skip_unless_nvvm()
    n_fma, n_mul = _run_script(_PTX_SCRIPT)
    assert n_fma == 0, "fused multiply-adds in the float64 deep kernel"
    # beta v, and w y in the dense and the window gathers, for either input dtype
    assert n_mul >= 3
