"""The cuda backend's ``spinnaker`` semantics reproduce the NumPy reference's bit for bit.

Run on Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, set while ``numba.cuda`` is first
imported: run this file in its own process, as ``tests/test_cuda_backend.py``). The networks are
the random plastic ones of ``test_numba_spinnaker.py`` (``IF_curr_exp`` populations with
heterogeneous parameters, Poisson and spike-array sources, static and additive-STDP projections
onto both receptors, delays of 1-16 steps), imported from there; spikes, state traces and plastic
weights are compared with ``np.array_equal`` (no tolerance). The simulator interprets the kernel
at about 0.1 s per step of these ~120-neuron networks, so the default run checks one of them for
100 steps (enough to fill post-spike histories and wrap a 16-bit pre trace, checked) and the
other two for the full 300 steps under ``slow``.

The device functions are also compared one call at a time with the pure functions of
:mod:`snn.backends.spinnaker_semantics` on edge cases (negative lags, lag 0, lags beyond the
decay tables, wrapped traces, ``depress_at_zero_lag`` off), and the kernel's LLVM IR (compiled
without a GPU) is checked for plain ``fmul`` instructions, which NVVM could fuse into an FMA.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import cuda_sim
import snn
from parity import assert_identical
from snn.backends import get_backend
from snn.backends import spinnaker_semantics as spinn
from snn.backends.numpy_backend import NumpySimulator
from snn.compiled import compile_network

cuda_sim.use_simulator()
pytest.importorskip("numba_cuda", reason="the cuda backend needs the 'numba-cuda' package")

from numba import cuda  # noqa: E402  (after the simulator switch)

from snn.backends import cuda_backend, cuda_spinnaker  # noqa: E402

cuda_sim.skip_module_unless_available()

from test_numba_spinnaker import DT, _unsupported, random_network  # noqa: E402

#: numba-cuda's xoroshiro128+ code runs on NumPy uint64 scalars in the simulator (wrapping)
_UINT64_WRAP = "ignore:overflow encountered:RuntimeWarning"


@pytest.mark.parametrize(
    ("seed", "n_steps"),
    [
        (1, 100),
        pytest.param(0, 300, marks=pytest.mark.slow),
        pytest.param(2, 300, marks=pytest.mark.slow),
    ],
)
def test_random_plastic_networks_match_the_reference_bit_for_bit(seed: int, n_steps: int) -> None:
    """Chunked runs with a spike buffer too small for a chunk (the kernel stops, the host grows
    the buffer and relaunches) continue where they stopped and equal one reference run."""
    net = random_network(seed)
    duration = n_steps * DT
    ref = net.run(duration, backend="numpy")
    sim = cuda_backend.CudaSimulator(compile_network(net), net.seed)
    sim._chunk_steps = 23
    sim._capacity = 150  # about 15 steps of recorded spikes: forces stops and relaunches
    sim._d["rec"] = cuda.device_array(2 * sim._capacity, np.int64)
    for k in (1, 0, 16, 17, 60, 300):
        k = min(k, n_steps - sim.step)
        sim.run(k)
    assert sim.step == n_steps
    out = sim.recording(duration)
    assert out.backend == "cuda" and out.metadata["precision"] == "float64"
    assert sim._capacity > 150, "the buffer never filled: the relaunch path was not exercised"
    assert assert_identical(ref, out) > 10 * n_steps
    for k in range(3):
        assert ref.spikes[f"lif{k}"].count > n_steps // 10, f"lif{k} hardly spikes"
    assert ref.spikes["tonic"].count >= 3 * (n_steps // 60)
    # the plastic weights moved, and the rarer paths of the rules were taken
    for label, trace in ref.traces.items():
        if "weights" in trace:
            w = trace["weights"].values
            assert not np.array_equal(w[0], w[-1]), f"{label}: no weight changed"
    post_count = sim._d["post_count"].copy_to_host()
    assert (post_count == spinn.MAX_POST_SYNAPTIC_EVENTS).any(), "no history filled up"
    assert (sim._d["pre_trace"].copy_to_host() < 0).any(), "no 16-bit pre trace wrapped"


def test_the_backend_entry_point_runs_the_spinnaker_semantics() -> None:
    """``net.run(backend='cuda')`` (one call) equals the reference; the registry says so."""
    assert "spinnaker" in get_backend("cuda").semantics
    net = random_network(3)
    ref = net.run(0.03, backend="numpy")
    out = net.run(0.03, backend="cuda")
    assert out.metadata["delivery"] == "gather"
    assert assert_identical(ref, out) > 200


@pytest.mark.filterwarnings(_UINT64_WRAP)
def test_device_poisson_rng_is_reproducible_and_not_the_references_stream() -> None:
    """``poisson_rng='device'`` works as under the exact semantics: the same recording for the
    same seed whatever the block size and chunking, other Poisson spikes than the host's."""
    net = snn.Network(dt=DT, seed=0, semantics="spinnaker")
    drive = net.population(8, snn.SpikeSourcePoisson(rate=300.0), label="drive")
    lif = net.population(4, snn.IF_curr_exp(tau_refrac=2e-3), label="lif")
    stdp = snn.STDP(tau_plus=20e-3, tau_minus=30e-3, A_plus=0.3e-9, A_minus=0.35e-9, w_max=3e-9)
    proj = net.connect(drive, lif, snn.AllToAll(), weight=2e-9, delay=2e-3, plasticity=stdp)
    net.record(drive, "spikes")
    net.record(lif, "spikes", "v")
    net.record(proj, "weights", interval=5e-3)
    compiled = compile_network(net)
    n_steps = 20
    one = cuda_backend.CudaSimulator(compiled, 7, poisson_rng="device")
    one.run(n_steps)
    other = cuda_backend.CudaSimulator(compiled, 7, poisson_rng="device", threads_per_block=3)
    other._chunk_steps = 7
    other.run(n_steps)
    a, b = one.recording(n_steps * DT), other.recording(n_steps * DT)
    assert a.metadata["poisson_rng"] == "device"
    assert assert_identical(a, b) > 30
    assert a.spikes["lif"].count > 5
    host = NumpySimulator(compiled, 7)
    host.run(n_steps)
    assert not np.array_equal(host.recording(n_steps * DT).spikes["drive"].times,
                              a.spikes["drive"].times)  # fmt: skip


# ------------------------------------------------------------------------------------------------
# the device functions against the pure functions


def test_trace_update_equals_the_pure_function() -> None:
    """Negative (wrapped) traces shift arithmetically; lags outside the table decay to 0."""
    rng = np.random.default_rng(0)
    lut = spinn.exp_decay_lut(20e-3, 1e-3)
    traces = rng.integers(-32768, 32768, size=300)
    last = rng.integers(-5, 200, size=300)
    expected = spinn.add_spike_to_trace(150, last, traces, lut)

    @cuda.jit
    def apply(last: Any, traces: Any, lut: Any, out: Any) -> None:
        for i in range(out.size):
            out[i] = cuda_spinnaker._add_spike_to_trace(150, last[i], traces[i], lut, 0, lut.size)

    out = np.zeros(300, np.int64)
    apply[1, 1](last, traces, lut, out)
    assert np.array_equal(out, expected)
    assert (expected < 0).any() and (150 - last >= lut.size).any() and (150 - last < 0).any()


@pytest.mark.parametrize("zero_lag", [True, False])
def test_stdp_update_equals_the_pure_function(zero_lag: bool) -> None:
    """Post histories of random (some full) spike trains, pre spikes at random times (some
    before their delay has passed, some at lag 0 to a post spike, whose depression
    ``depress_at_zero_lag`` switches), wrapped pre traces."""
    rng = np.random.default_rng(1)
    stdp = snn.STDP(tau_plus=15e-3, tau_minus=25e-3, A_plus=0.3e-9, A_minus=0.35e-9)
    compiled = compile_network(_one_plastic_projection(stdp)).projections[0].stdp
    assert compiled is not None
    rule = dataclasses.replace(
        spinn.SpinnakerSTDP.lower(compiled, 1e-3), depress_at_zero_lag=zero_lag
    )
    other_rule = dataclasses.replace(rule, depress_at_zero_lag=not zero_lag)
    n_post, n_syn, time = 6, 400, 90
    history = spinn.PostHistory.empty(n_post)
    for m in range(time):
        fired = np.flatnonzero(rng.random(n_post) < (0.5 if m % 30 < 10 else 0.05))
        history = spinn.add_post_spikes(history, fired, m, rule.lut_minus)
    assert (history.n_events == spinn.MAX_POST_SYNAPTIC_EVENTS).any()
    post = rng.integers(0, n_post, n_syn)
    delays = rng.integers(1, 6, n_syn)
    t_last = np.where(rng.random(n_syn) < 0.2, 0, rng.integers(0, time, n_syn))
    last_trace = rng.integers(-32768, 32768, n_syn)
    weights = rng.uniform(rule.w_min, rule.w_max, n_syn)
    weights[:5] = rule.w_max  # potentiation clamps
    for now in (3, time):  # before and after the delays have passed
        expected = spinn.stdp_pre_spike_update(
            weights, post, delays, now, t_last % (now + 1), last_trace, history, rule
        )
        rule_f = np.array([[rule.A_plus, rule.A_minus, rule.w_min, rule.w_max]])
        lp, lm = rule.lut_plus.size, rule.lut_minus.size
        rule_i = np.array([[0, lp, lp, lm, int(zero_lag), 0, 0]], np.int64)
        lut = np.concatenate([rule.lut_plus, rule.lut_minus])

        out = np.zeros(n_syn)
        _apply_stdp_update[1, 1](
            weights, post, delays, now, t_last % (now + 1), last_trace,
            history.times.reshape(-1), history.traces.reshape(-1), history.n_events,
            rule_f, rule_i, lut, out,
        )  # fmt: skip
        assert np.array_equal(out.view(np.int64), expected.view(np.int64)), now
        assert (expected != weights).any(), "no weight changed"
        other = spinn.stdp_pre_spike_update(
            weights, post, delays, now, t_last % (now + 1), last_trace, history, other_rule
        )
        assert now < 5 or (other != expected).any(), "no depression at lag 0"


@cuda.jit
def _apply_stdp_update(
    weights: Any, post: Any, delays: Any, now: Any, t_last: Any, last_trace: Any,
    times: Any, traces: Any, count: Any, rule_f: Any, rule_i: Any, lut: Any, out: Any,
) -> None:  # fmt: skip
    for i in range(out.size):
        out[i] = cuda_spinnaker._stdp_pre_spike_update(
            weights[i], post[i], delays[i], now, t_last[i], last_trace[i],
            times, traces, count, rule_f, rule_i, lut, 0,
        )  # fmt: skip


def _one_plastic_projection(rule: snn.STDP) -> snn.Network:
    net = snn.Network(dt=1e-3, semantics="spinnaker")
    pre = net.population(1, snn.SpikeSourcePoisson(rate=10.0))
    net.connect(pre, net.population(1, snn.IF_curr_exp()), snn.AllToAll(), 1e-9, plasticity=rule)
    return net


# ------------------------------------------------------------------------------------------------
# what is refused


def _plastic(rule: snn.STDP | snn.InhibitorySTDP) -> Callable[[snn.Network], object]:
    def build(net: snn.Network) -> object:
        pre, post = net.population(1, snn.IF_curr_exp()), net.population(1, snn.IF_curr_exp())
        return net.connect(pre, post, snn.AllToAll(), weight=0.0, plasticity=rule)

    return build


@pytest.mark.parametrize(
    "build",
    [
        lambda net: net.population(1, snn.IF_cond_exp()),
        lambda net: net.population(1, snn.AdaptiveLIF()),
        _plastic(snn.STDP("multiplicative")),
        _plastic(snn.InhibitorySTDP()),
    ],
    ids=["IF_cond_exp", "AdaptiveLIF", "multiplicative STDP", "InhibitorySTDP"],
)
def test_unsupported_features_fail_at_construction_as_on_the_reference(
    build: Callable[[snn.Network], object],
) -> None:
    compiled = compile_network(_unsupported(build))
    with pytest.raises(ValueError) as ref_error:
        NumpySimulator(compiled, 0)
    with pytest.raises(ValueError) as cuda_error:
        cuda_backend.CudaSimulator(compiled, 0)
    assert str(cuda_error.value) == str(ref_error.value)
    assert "the 'spinnaker' semantics do not implement" in str(cuda_error.value)
    assert "semantics='exact'" in str(cuda_error.value)


def test_options_without_meaning_here_are_refused() -> None:
    net = snn.Network(dt=DT, seed=0, semantics="spinnaker")
    net.population(2, snn.IF_curr_exp())
    compiled = compile_network(net)
    with pytest.raises(
        ValueError, match=r"precision='float32' is not available with the 'spinnaker' semantics"
    ):
        cuda_backend.CudaSimulator(compiled, 0, precision="float32")
    with pytest.raises(
        ValueError, match=r"delivery='scatter' is not available with the 'spinnaker' semantics"
    ):
        cuda_backend.CudaSimulator(compiled, 0, delivery="scatter")


# ------------------------------------------------------------------------------------------------
# the compiled kernel (no GPU needed)

#: compiles the spinnaker kernel (host and device Poisson uniforms) for sm_90 without a GPU and
#: prints, per kernel, counts of instructions in its PTX (``ptx``) or LLVM IR (``ir``)
_KERNEL_SCRIPT = (
    cuda_sim.KERNEL_SCRIPT_PRELUDE
    + """
net = snn.Network(dt=1e-3, seed=1, semantics="spinnaker")
src = net.population(4, snn.SpikeSourcePoisson(rate=100.0), label="src")
arr = net.population(2, snn.SpikeSourceArray([[1e-3], [2e-3]]), label="arr")
post = net.population(3, snn.IF_curr_exp(), label="post")
net.connect(src, post, snn.AllToAll(), weight=1e-10, plasticity=snn.STDP())
net.connect(arr, post, snn.AllToAll(), weight=1e-10, receptor="inhibitory")
net.record(post, "spikes", "v")
net.record(net.projections[0], "weights")
for rng in ("host", "device"):
    pyfunc, sig = captured_kernel(cb.CudaSimulator(compile_network(net), 1, poisson_rng=rng))
    if mode == "ptx":
        code, _ = cuda.compile_ptx(pyfunc, sig, cc=(9, 0))
        patterns = {"fma": r"\\bfma\\.", "mul_f64": r"\\bmul\\.rn\\.f64"}
    else:
        code = ours(llvm_ir(pyfunc, sig))
        patterns = {
            "fmul": r"= fmul ",
            "fma": r"@llvm\\.(fma|fmuladd)\\.",
            "mul_f64": r"call double @\\"?__nv_dmul_rn",
            "xoroshiro": r"xoroshiro128p_uniform_float64",
        }
    counts = {key: len(re.findall(pattern, code)) for key, pattern in patterns.items()}
    print(json.dumps({"poisson_rng": rng, **counts}))
"""
)


def _kernel_counts(mode: str) -> list[dict[str, Any]]:
    rows = cuda_sim.kernel_counts(_KERNEL_SCRIPT, mode)
    assert [r["poisson_rng"] for r in rows] == ["host", "device"], rows
    return rows


def test_kernel_products_are_never_plain_multiplies() -> None:
    """On the LLVM IR numba-cuda hands to NVVM (which types and lowers the kernel for a GPU:
    the simulator does neither): no plain ``fmul`` that NVVM's default ``-fma=1`` could
    contract with an addition, every product a ``__nv_dmul_rn`` call."""
    for row in _kernel_counts("ir"):
        assert row["fmul"] == 0 and row["fma"] == 0, row
        assert row["mul_f64"] > 0, row
        assert (row["xoroshiro"] > 0) == (row["poisson_rng"] == "device"), row


def test_compiled_kernel_has_no_fused_multiply_add() -> None:
    """Needs NVVM (CUDA toolkit, or the nvidia-nvvm wheel via CUDA_HOME), not a GPU."""
    cuda_sim.skip_unless_nvvm()
    for row in _kernel_counts("ptx"):
        assert row["fma"] == 0, f"fused multiply-adds in the PTX: {row}"
        assert row["mul_f64"] > 0, row
