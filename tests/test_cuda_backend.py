"""The CUDA backend against the NumPy reference, on Numba's CUDA simulator (no GPU needed).

``NUMBA_ENABLE_CUDASIM=1`` is set here while ``numba.cuda`` is first imported (which is when Numba
reads it), unless the environment already sets it (``NUMBA_ENABLE_CUDASIM=0 pytest ...`` runs
these tests on a GPU), and restored afterwards so that subprocesses of other tests do not inherit
it. ``numba.cuda`` stays the simulator for the rest of this process.
The simulator runs the kernel's Python source one operation at a time (about 1 ms per simulated
thread and launch), so the networks are tiny: a few dozen neurons for tens of steps.

Tolerances:

* ``delivery="gather"`` (the default), ``precision="float64"`` (the default) or ``"float32"``:
  spikes, state traces and plastic weights equal the NumPy reference run in the same precision
  bit for bit (``np.array_equal``);
* ``delivery="scatter"`` (float atomics, nondeterministic summation order): spikes equal, state
  to ``rtol = 1e-12``; plastic weights (which depend on spike steps only) bit for bit.

The absence of fused multiply-adds in the compiled kernels, float64 and float32 (what makes the
simulator's bit-parity carry over to a GPU), is checked on the kernels' LLVM IR (no plain
``fmul``: every product is a libdevice ``mul_rn`` call) and, when NVVM is installed, on PTX.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest

import cuda_sim
import snn
from parity import assert_identical
from snn import arith
from snn.backends import get_backend
from snn.compiled import compile_network
from snn.recording import Recording

cuda_sim.use_simulator()
pytest.importorskip("numba_cuda", reason="the cuda backend needs the 'numba-cuda' package")

from numba import cuda  # noqa: E402  (after the simulator switch)

from snn.backends import cuda_backend  # noqa: E402

cuda_sim.skip_module_unless_available()

DT = 0.1e-3
LIF = dict(
    tau_m=20e-3,
    cm=0.25e-9,
    v_rest=-65e-3,
    v_reset=-70e-3,
    v_thresh=-52e-3,
    tau_refrac=1e-3,
    tau_syn_E=3e-3,
    tau_syn_I=5e-3,
)


def _model(name: str, heterogeneous: bool) -> snn.neurons.NeuronModel:
    p: dict[str, Any] = dict(LIF)
    if heterogeneous:
        p["tau_m"] = snn.Uniform(10e-3, 30e-3)
        p["v_thresh"] = snn.Uniform(-54e-3, -50e-3)
        p["tau_refrac"] = snn.Uniform(0.2e-3, 1e-3)
    if name == "IF_curr_exp":
        return snn.IF_curr_exp(**p)
    if name == "IF_cond_exp":
        return snn.IF_cond_exp(e_rev_E=0.0, e_rev_I=-80e-3, **p)
    return snn.AdaptiveLIF(tau_w=30e-3, b=0.05e-9, tau_theta=20e-3, delta_theta=2e-3, **p)


PRECISIONS = ("float64", "float32")


def run_both(net: snn.Network, duration: float, **options: Any) -> tuple[Recording, Recording]:
    """The NumPy reference (in the same precision) and the cuda backend, with ``options``."""
    precision = options.get("precision", "float64")
    ref = net.run(duration, backend="numpy", precision=precision)
    out = net.run(duration, backend="cuda", **options)
    assert out.backend == "cuda"
    assert out.metadata["precision"] == precision
    return ref, out


def _differs_from_float64(net: snn.Network, duration: float, out: Recording, var: str) -> None:
    """A float32 run did compute in float32: its ``var`` trace is not the float64 reference's."""
    ref64 = net.run(duration, backend="numpy")
    assert not np.array_equal(out.trace("pop", var).values, ref64.trace("pop", var).values)


def _driven(model_name: str, heterogeneous: bool, seed: int = 11) -> snn.Network:
    """Poisson drive on both receptors (one source switching on late), recurrent synapses with
    a fixed delay, every state variable recorded, a view's spikes, a sparse trace."""
    net = snn.Network(dt=DT, seed=seed)
    conductance = model_name == "IF_cond_exp"
    w_exc, w_inh = (6e-9, 6e-9) if conductance else (0.5e-9, 0.4e-9)
    drive = net.population(16, snn.SpikeSourcePoisson(rate=400.0), label="drive")
    inhib = net.population(
        8, snn.SpikeSourcePoisson(rate=300.0, start=1e-3, duration=2e-3), label="inhib"
    )
    pop = net.population(
        12,
        _model(model_name, heterogeneous),
        label="pop",
        initial={"v": snn.Uniform(-60e-3, -53e-3)},
    )
    net.connect(
        drive,
        pop,
        snn.FixedProbability(0.5),
        weight=w_exc,
        delay=snn.Uniform(0.1e-3, 0.4e-3),
    )
    net.connect(inhib, pop, snn.FixedProbability(0.5), weight=w_inh, receptor="inhibitory")
    net.connect(pop, pop, snn.FixedProbability(0.3), weight=w_exc / 2, delay=0.2e-3)
    net.record(pop, "spikes", *pop.model.state_variables)
    net.record(drive[::3], "spikes", label="drive_view")
    net.record(pop[2:8], "v", interval=0.3e-3, label="v_sparse")
    return net


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # exp(710) = inf
def test_exp_matches_the_reference_arithmetic_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.uniform(-5, 1, 24),
            [0.0, -0.0, 1e-300, -745.2, -708.5, 709.7, 710.0, -800.0, np.inf, -np.inf],
        ]
    )

    @cuda.jit
    def apply(values: Any, out: Any) -> None:
        i: int = cuda.grid(1)  # type: ignore[call-arg]
        if i < values.size:
            out[i] = cuda_backend._exp_exact(values[i])

    out = np.zeros_like(x)
    apply[1, x.size](x, out)
    expected = arith.exp_arith(x)
    assert np.array_equal(out.view(np.int64), expected.view(np.int64))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # exp(89) = inf
def test_float32_exp_matches_the_reference_arithmetic_bit_for_bit() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate(
        [
            rng.uniform(-5, 1, 24),
            rng.uniform(-103, 88, 8),
            [0.0, -0.0, 1e-30, -103.9, -87.5, 88.7, 89.5, -110.0, np.inf, -np.inf, np.nan],
        ]
    ).astype(np.float32)

    @cuda.jit
    def apply(values: Any, out: Any) -> None:
        i: int = cuda.grid(1)  # type: ignore[call-arg]
        if i < values.size:
            out[i] = cuda_backend._exp_exact32(values[i])

    out = np.zeros_like(x)
    apply[1, x.size](x, out)
    expected = arith.exp_arith(x)
    assert expected.dtype == np.float32
    assert np.array_equal(out.view(np.int32), expected.view(np.int32))


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize(
    ("model_name", "heterogeneous"),
    [("IF_curr_exp", True), ("IF_cond_exp", True), ("AdaptiveLIF", False)],
)
def test_models_bit_identical(model_name: str, heterogeneous: bool, precision: str) -> None:
    net = _driven(model_name, heterogeneous)
    ref, out = run_both(net, 0.01, precision=precision)
    assert assert_identical(ref, out) > 20
    assert ref.spikes["pop"].count > 3, "the network must spike for parity to mean something"
    if precision == "float32":
        _differs_from_float64(net, 0.01, out, "v")


@pytest.mark.parametrize("precision", PRECISIONS)
def test_connectors_delays_receptors_and_spike_arrays_bit_identical(precision: str) -> None:
    net = snn.Network(dt=DT, seed=3)
    times = [np.arange(k, 6, 2) * 1e-3 + 0.1e-3 for k in range(4)]
    src = net.population(4, snn.SpikeSourceArray(times), label="src")
    shared = net.population(3, snn.SpikeSourceArray([0.5e-3, 0.6e-3, 3e-3]), label="shared")
    a = net.population(10, snn.IF_curr_exp(**LIF), label="a")
    b = net.population(8, _model("IF_cond_exp", True), label="b")
    net.connect(
        src, a, snn.AllToAll(), weight=snn.Uniform(0.5e-9, 1.5e-9), delay=snn.Uniform(0.1e-3, 1e-3)
    )
    net.connect(src[:3], a[:6:2], snn.OneToOne(), weight=0.3e-9, receptor="inhibitory")
    net.connect(shared, a[4:], snn.FixedProbability(0.6), weight=1.2e-9, delay=0.3e-3)
    net.connect(
        a,
        b,
        snn.FixedProbability(0.5),
        weight=snn.Uniform(4e-9, 12e-9),
        delay=snn.Uniform(0.1e-3, 0.8e-3),
    )
    net.connect(
        a[:5],
        b[[0, 3, 5]],
        snn.FromList([[0, 0], [0, 0], [3, 1], [4, 2], [2, 2]]),
        weight=5e-9,
        receptor="inhibitory",
        delay=[0.1e-3, 0.2e-3, 0.5e-3, 0.3e-3, 0.1e-3],
    )
    net.connect(b, a, snn.AllToAll(), weight=0.05e-9, receptor="inhibitory")
    net.connect(
        a,
        a,
        snn.FixedProbability(0.3, allow_self_connections=False),
        weight=0.2e-9,
        delay=snn.Uniform(0.1e-3, 0.9e-3),
    )
    net.record(a, "spikes", "v", "isyn_exc", "isyn_inh")
    net.record(b[2:], "spikes", "v", "gsyn_exc", "gsyn_inh", interval=0.4e-3)
    net.record(src, "spikes")
    net.record(shared, "spikes")
    ref, out = run_both(net, 0.006, precision=precision)
    assert assert_identical(ref, out) > 20
    assert ref.spikes["a"].count > 0 and ref.spikes["b[2:]"].count > 0


def test_scatter_delivery_spikes_exact_state_to_rounding() -> None:
    ref, out = run_both(_driven("IF_cond_exp", True, seed=5), 0.006, delivery="scatter")
    assert out.metadata["delivery"] == "scatter"
    for label, sa in ref.spikes.items():
        assert np.array_equal(sa.times, out.spikes[label].times), label
        assert np.array_equal(sa.ids, out.spikes[label].ids), label
    assert ref.spikes["pop"].count > 3
    for label, traces in ref.traces.items():
        for var, ta in traces.items():
            np.testing.assert_allclose(out.traces[label][var].values, ta.values, rtol=1e-12)


def test_float32_constants_are_the_references_rounded() -> None:
    """Every float constant on the device is the reference's float32 one; Poisson ``p_spike``
    too (compared with float64 uniforms: a float64 ``p_spike`` would, rarely, flip a spike)."""
    compiled = compile_network(_driven("IF_cond_exp", True))
    sim = cuda_backend.CudaSimulator(compiled, 0, precision="float32")
    ref = get_backend("numpy").make_simulator(compiled, 0, precision="float32")
    column = sim._d["column"].copy_to_host()
    fconst, p_spike = sim._d["fconst"].copy_to_host(), sim._d["p_spike"].copy_to_host()
    for p in compiled.populations:
        cols = column[sim._pop_off[p.index] + np.arange(p.size)]
        consts = ref.consts[p.index]
        if p.is_poisson:
            assert np.array_equal(p_spike[cols], consts["p_spike"]), p.label
            assert not np.array_equal(p_spike[cols], p.consts["p_spike"]), "not rounded"
            continue
        kind = cuda_backend.MODEL_CODES[p.model.name]
        for row, key in enumerate(cuda_backend.FLOAT_CONSTS[kind]):
            assert consts[key].dtype == np.float32
            assert np.array_equal(fconst[row, cols], consts[key]), f"{p.label}.{key}"


def test_chunks_relaunches_and_repeated_runs_equal_one_reference_run() -> None:
    """Chunks that do not divide the sample interval, a spike buffer too small for a chunk
    (the kernel stops, the host grows the buffer and relaunches), run() in pieces."""
    net = _driven("AdaptiveLIF", True, seed=21)
    compiled = compile_network(net)
    n_steps = 60
    sim = cuda_backend.CudaSimulator(compiled, 4)
    sim._chunk_steps = 13
    sim._capacity = 30  # the recorded neurons need ~ n_recorded per step: forces stops
    sim._d["rec"] = cuda.device_array(2 * sim._capacity, np.int64)
    for k in (1, 0, 24, 35):
        sim.run(k)
    assert sim.step == n_steps
    assert sim._capacity > 30, "the buffer never filled: the relaunch path was not exercised"
    ref = get_backend("numpy").make_simulator(compiled, 4)
    ref.run(n_steps)
    assert assert_identical(ref.recording(n_steps * DT), sim.recording(n_steps * DT)) > 30


def _plastic(rule_name: str, model_name: str, seed: int = 1) -> snn.Network:
    """STDP of one kind on a tiny network: a plastic feed-forward projection (heterogeneous
    weights and delays) whose arrivals share ring entries with a static one, a second plastic
    projection (recurrent, additive) onto the same neurons, weights recorded at two intervals."""
    net = snn.Network(dt=DT, seed=seed)
    pre = net.population(6, snn.SpikeSourcePoisson(rate=600.0), label="pre")
    post = net.population(
        4, _model(model_name, True), label="post", initial={"v": snn.Uniform(-60e-3, -53e-3)}
    )
    # weights in A, or in S for conductances (about 1/10 of the driving force in V)
    scale = 10.0 if model_name == "IF_cond_exp" else 1.0
    w_max = 5e-9 * scale
    rule: snn.STDP
    if rule_name == "vogels":
        # inhibitory plastic synapses; a strong static excitatory drive makes the neurons fire
        # near the target rate, so that weights move both ways
        rule = snn.InhibitorySTDP(tau=4e-3, eta=0.2e-9 * scale, rho0=800.0, w_max=w_max)
    elif rule_name == "multiplicative":
        rule = snn.STDP(
            "multiplicative", tau_plus=5e-3, tau_minus=6e-3, A_plus=0.05, A_minus=0.06, w_max=w_max
        )
    else:
        rule = snn.STDP(tau_plus=5e-3, tau_minus=6e-3, A_plus=0.1e-9, A_minus=0.12e-9, w_max=w_max)
    ff = net.connect(
        pre,
        post,
        snn.AllToAll(),
        weight=snn.Uniform(2e-9 * scale, 4e-9 * scale),
        delay=snn.Uniform(0.1e-3, 0.5e-3),
        receptor="inhibitory" if rule_name == "vogels" else "excitatory",
        plasticity=rule,
        label="ff",
    )
    drive = (10e-9 if rule_name == "vogels" else 0.5e-9) * scale
    net.connect(pre, post, snn.FixedProbability(0.5), weight=drive, delay=0.2e-3, label="static")
    rec = net.connect(
        post,
        post,
        snn.FixedProbability(0.6),
        weight=snn.Uniform(0.5e-9 * scale, 1.5e-9 * scale),
        delay=snn.Uniform(0.1e-3, 0.3e-3),
        plasticity=snn.STDP(
            tau_plus=4e-3, A_plus=0.2e-9 * scale, A_minus=0.2e-9 * scale, w_max=2e-9 * scale
        ),
        label="rec",
    )
    net.record(post, "spikes", *post.model.state_variables)
    net.record(pre[::2], "spikes", label="pre_view")
    net.record(ff, "weights", label="w_ff")
    net.record(rec, "weights", interval=0.3e-3, label="w_rec")
    return net


def _weights_moved(rec: Recording, label: str) -> None:
    """STDP did change weights, up and down (the parity is not vacuous)."""
    w = rec.trace(label, "weights").values
    change = w[-1] - w[0]
    assert (change > 0).any() and (change < 0).any(), f"{label}: {change}"


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize(
    ("rule_name", "model_name"),
    [("additive", "IF_curr_exp"), ("multiplicative", "IF_cond_exp"), ("vogels", "AdaptiveLIF")],
)
def test_stdp_bit_identical(rule_name: str, model_name: str, precision: str) -> None:
    ref, out = run_both(_plastic(rule_name, model_name), 0.008, precision=precision)
    assert assert_identical(ref, out) > 40
    assert ref.spikes["post"].count > 10
    _weights_moved(ref, "w_ff")
    _weights_moved(ref, "w_rec")


def test_stdp_state_persists_across_chunks_relaunches_and_runs() -> None:
    """Traces, weights and spike history stay on the device between launches; scatter delivery
    of the static synapses leaves plastic weights exact (they depend on spike steps only)."""
    compiled = compile_network(_plastic("multiplicative", "IF_curr_exp", seed=4))
    n_steps = 70
    sim = cuda_backend.CudaSimulator(compiled, 2)
    sim._chunk_steps = 11
    sim._capacity = 12
    sim._d["rec"] = cuda.device_array(2 * sim._capacity, np.int64)
    for k in (3, 0, 30, 37):
        sim.run(k)
    assert sim._capacity > 12, "the buffer never filled: the relaunch path was not exercised"
    ref_sim = get_backend("numpy").make_simulator(compiled, 2)
    ref_sim.run(n_steps)
    ref = ref_sim.recording(n_steps * DT)
    assert assert_identical(ref, sim.recording(n_steps * DT)) > 20
    _weights_moved(ref, "w_ff")

    scatter = cuda_backend.CudaSimulator(compiled, 2, delivery="scatter")
    scatter.run(n_steps)
    out = scatter.recording(n_steps * DT)
    for label, sa in ref.spikes.items():
        assert np.array_equal(sa.times, out.spikes[label].times), label
        assert np.array_equal(sa.ids, out.spikes[label].ids), label
    for label in ("w_ff", "w_rec"):
        assert np.array_equal(
            ref.trace(label, "weights").values, out.trace(label, "weights").values
        )
    np.testing.assert_allclose(
        out.trace("post", "v").values, ref.trace("post", "v").values, rtol=1e-12
    )


def test_unsupported_features_fail_at_construction_naming_the_alternative() -> None:
    spin = snn.Network(dt=1e-3, semantics="spinnaker")
    spin.population(2, snn.IF_curr_exp(), label="p")
    with pytest.raises(ValueError, match=r"'spinnaker' semantics.*backend='numba'"):
        cuda_backend.CudaSimulator(compile_network(spin), 0)
    with pytest.raises(ValueError, match="does not implement the 'spinnaker' semantics"):
        spin.run(0.002, backend="cuda")

    deep = snn.Network(dt=1e-3)
    deep.population(3, snn.neurons.DeltaLIF(), label="layer")
    with pytest.raises(ValueError, match=r"deep network.*snn\.deep\.run"):
        cuda_backend.CudaSimulator(compile_network(deep), 0)


def test_options_are_validated() -> None:
    compiled = compile_network(_driven("IF_curr_exp", False))
    valid = r"valid options: precision, delivery, threads_per_block"
    with pytest.raises(ValueError, match=rf"unknown option\(s\) fastmath; {valid}"):
        cuda_backend.CudaSimulator(compiled, 0, fastmath=True)
    with pytest.raises(ValueError, match=rf"unknown option\(s\) dtype; {valid}"):
        cuda_backend.CudaSimulator(compiled, 0, dtype="float32")  # renamed to precision
    with pytest.raises(ValueError, match="precision must be one of float64, float32"):
        cuda_backend.CudaSimulator(compiled, 0, precision="float16")
    with pytest.raises(ValueError, match="precision must be one of float64, float32"):
        cuda_backend.CudaSimulator(compiled, 0, precision=np.float32)
    with pytest.raises(ValueError, match="delivery must be one of gather, scatter"):
        cuda_backend.CudaSimulator(compiled, 0, delivery="atomic")
    with pytest.raises(ValueError, match="threads_per_block"):
        cuda_backend.CudaSimulator(compiled, 0, threads_per_block=0)
    sim = cuda_backend.CudaSimulator(compiled, 0, precision="float32")
    assert sim.precision == "float32" and sim.dtype == np.float32
    assert sim._d["state"].dtype == np.float32 and sim._d["fconst"].dtype == np.float32
    with pytest.raises(ValueError, match="non-negative"):
        cuda_backend.CudaSimulator(compiled, 0).run(-1)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def test_unavailable_without_gpu_or_simulator_says_how_to_enable_it() -> None:
    code = textwrap.dedent(
        """
        from numba import cuda
        from snn.backends import available
        print("GPU" if cuda.is_available() else available()["cuda"])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    if out.stdout.strip() == "GPU":
        pytest.skip("a CUDA GPU is present: the backend is available without the simulator")
    assert "NUMBA_ENABLE_CUDASIM=1" in out.stdout, out.stdout


_PTX_PROBE = """
from numba import cuda, float64

def kernel(a):
    a[0] = 1.0

cuda.compile_ptx(kernel, (float64[::1],), cc=(9, 0))
"""

#: compiles the step kernels (gather, scatter, STDP) in both precisions for sm_90 without a GPU
#: and prints, per kernel, counts of instructions in its PTX (``ptx``) or LLVM IR (``ir``)
_KERNEL_SCRIPT = """
import json, re, sys
import numba, numpy as np
from numba import cuda
import numba.cuda.dispatcher as dispatcher
from snn.backends import cuda_backend as cb
from snn.compiled import compile_network
from snn.models.vogels_abbott import vogels_abbott
import snn

class _Device:  # cooperative-group device functions ask the current device for its cc
    compute_capability = (9, 0)

dispatcher.get_current_device = lambda: _Device()
cb.unavailable_reason = lambda: None
cuda.to_device = np.asarray
cuda.device_array = lambda n, dtype: np.zeros(n, dtype)
launched = {}

class _Capture:
    def __getitem__(self, config):
        return lambda *args: launched.setdefault("args", args)

def llvm_ir(pyfunc, sig):
    # numba-cuda's typing and lowering, without NVVM (a private function: skip if it moved)
    from numba.cuda import compiler
    lib, _ = compiler._compile_pyfunc_with_fixup(
        pyfunc, sig, device=False, cc=(9, 0), abi="numba"
    )
    return "\\n".join(lib.llvm_strs)

mode = sys.argv[1]
if mode == "ir":
    from numba.cuda import compiler
    if not hasattr(compiler, "_compile_pyfunc_with_fixup"):
        print("SKIP numba-cuda has no compiler._compile_pyfunc_with_fixup")
        sys.exit(0)
coba = vogels_abbott("coba", n=50, seed=1)
plastic = snn.Network(dt=1e-4, seed=1)
src = plastic.population(4, snn.SpikeSourcePoisson(rate=100.0), label="src")
post = plastic.population(3, snn.IF_curr_exp(), label="post")
for rule in (snn.STDP("multiplicative"), snn.InhibitorySTDP()):
    plastic.connect(src, post, snn.AllToAll(), weight=1e-10, plasticity=rule)
plastic.record(plastic.projections[0], "weights")
for precision in ("float64", "float32"):
    for name, net, delivery in (
        ("gather", coba, "gather"), ("scatter", coba, "scatter"), ("stdp", plastic, "gather")
    ):
        sim = cb.CudaSimulator(compile_network(net), 1, delivery=delivery, precision=precision)
        kernel, sim._kernel, sim._blocks = sim._kernel, _Capture(), 1
        try:
            sim._run_chunk(2)
        except Exception:
            pass  # the fake launch returns nothing to harvest
        sig = tuple(numba.typeof(a) for a in launched.pop("args"))
        if mode == "ptx":
            code, _ = cuda.compile_ptx(kernel.py_func, sig, cc=(9, 0))
            patterns = {
                "fma": r"\\bfma\\.",
                "mul_f32": r"\\bmul\\.rn\\.f32",
                "mul_f64": r"\\bmul\\.rn\\.f64",
            }
        else:
            code = llvm_ir(kernel.py_func, sig)
            patterns = {
                "fmul": r"= fmul ",
                "mul_f32": r"call float @\\"?__nv_fmul_rn",
                "mul_f64": r"call double @\\"?__nv_dmul_rn",
                "libm_exp": r"@\\"?__nv_exp",
                "f64_arith": r"= (fadd|fsub|fdiv) double|fpext float",
            }
        counts = {key: len(re.findall(pattern, code)) for key, pattern in patterns.items()}
        print(json.dumps({"kernel": name, "precision": precision, **counts}))
"""

_KERNELS = [(p, k) for p in PRECISIONS for k in ("gather", "scatter", "stdp")]


def _kernel_counts(mode: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-c", _KERNEL_SCRIPT, mode],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    if out.stdout.startswith("SKIP"):
        pytest.skip(out.stdout[5:].strip())
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["precision"], r["kernel"]) for r in rows] == _KERNELS, out.stdout
    return rows


def test_kernel_products_are_never_plain_multiplies() -> None:
    """On the LLVM IR that numba-cuda hands to NVVM (no toolkit needed): no plain ``fmul``
    (which NVVM's default ``-fma=1`` may contract with an addition), every product a libdevice
    ``mul_rn`` call of the run's precision, no libm ``exp``; in float32, no float64 arithmetic
    or promotion outside plasticity."""
    for row in _kernel_counts("ir"):
        where = f"{row['precision']} {row['kernel']} kernel"
        assert row["fmul"] == 0, f"{where}: plain multiplies (contractible into an FMA)"
        assert row["libm_exp"] == 0, f"{where}: calls libdevice exp (not the reference's)"
        single = row["precision"] == "float32"
        assert row["mul_f32" if single else "mul_f64"] > 10, f"{where}: {row}"
        if single and row["kernel"] != "stdp":  # only plasticity computes in float64
            assert row["mul_f64"] == 0, f"{where}: float64 products in the neuron update"
            assert row["f64_arith"] == 0, f"{where}: float64 arithmetic in the neuron update"


def test_compiled_kernels_have_no_fused_multiply_add() -> None:
    """Needs NVVM (CUDA toolkit, or the nvidia-nvvm wheel via CUDA_HOME), not a GPU."""
    probe = subprocess.run(
        [sys.executable, "-c", _PTX_PROBE],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if probe.returncode != 0:
        pytest.skip("NVVM/NVRTC (CUDA toolkit) not installed: cannot compile PTX here")
    for row in _kernel_counts("ptx"):
        where = f"{row['precision']} {row['kernel']} kernel"
        assert row["fma"] == 0, f"{where}: fused multiply-adds (fma.rn.f32/f64) in the PTX"
        key = "mul_f32" if row["precision"] == "float32" else "mul_f64"
        assert row[key] > 20, f"{where}: expected the products as mul.rn ({row})"
