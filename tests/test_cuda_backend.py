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
  to ``rtol = 1e-12``; plastic weights (which depend on spike steps only) bit for bit;
* ``poisson_rng="device"`` (per-neuron xoroshiro128+ generators, not the reference's stream):
  bit for bit against itself (same seed, other chunking and block size); against the theory of
  Bernoulli(``p_spike``) steps by statistical bounds stated in each test (counts within 4
  standard deviations, chi-square tests at p > 1e-4, correlations within 5 standard errors),
  and downstream rates within 4 standard deviations of the reference's (host-RNG) ensemble.

The absence of fused multiply-adds in the compiled kernels, float64 and float32 (what makes the
simulator's bit-parity carry over to a GPU), is checked on the kernels' LLVM IR (no plain
``fmul``: every product is a libdevice ``mul_rn`` call) and, when NVVM is installed, on PTX.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

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


@pytest.mark.parametrize(("precision", "rtol"), [("float64", 1e-12), ("float32", 1e-5)])
def test_scatter_delivery_spikes_exact_state_to_rounding(precision: str, rtol: float) -> None:
    # atomic additions sum in any order: the state differs from the reference by rounding only
    ref, out = run_both(
        _driven("IF_cond_exp", True, seed=5), 0.006, delivery="scatter", precision=precision
    )
    assert out.metadata["delivery"] == "scatter"
    for label, sa in ref.spikes.items():
        assert np.array_equal(sa.times, out.spikes[label].times), label
        assert np.array_equal(sa.ids, out.spikes[label].ids), label
    assert ref.spikes["pop"].count > 3
    for label, traces in ref.traces.items():
        for var, ta in traces.items():
            np.testing.assert_allclose(
                out.traces[label][var].values, ta.values, rtol=rtol, atol=rtol * 1e-9
            )


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


# ------------------------------------------------------------------------------------------------
# poisson_rng="device": per-neuron xoroshiro128+ generators on the device

#: numba-cuda's xoroshiro128+ code runs on NumPy uint64 scalars in the simulator (wrapping)
_UINT64_WRAP = "ignore:overflow encountered:RuntimeWarning"


@pytest.mark.filterwarnings(_UINT64_WRAP)
def test_device_rng_is_reproducible_and_depends_on_the_seed() -> None:
    """The same seed gives the same recording bit for bit, also with another chunking and
    block size (each neuron owns its generator); another seed other source spikes; neither is
    the reference's stream."""
    compiled = compile_network(_driven("IF_curr_exp", True))
    n_steps = 50

    def run(seed: int, chunk: int | None = None, threads: int | None = None) -> Recording:
        options = {} if threads is None else {"threads_per_block": threads}
        sim = cuda_backend.CudaSimulator(compiled, seed, poisson_rng="device", **options)
        if chunk is not None:
            sim._chunk_steps = chunk
        sim.run(n_steps)
        return sim.recording(n_steps * DT)

    first = run(7)
    assert first.metadata["poisson_rng"] == "device"
    assert first.spikes["drive_view"].count > 10 and first.spikes["pop"].count > 3
    assert assert_identical(first, run(7, chunk=9, threads=3)) > 20
    other = run(8)
    ref_sim = get_backend("numpy").make_simulator(compiled, 7)
    ref_sim.run(n_steps)
    ref = ref_sim.recording(n_steps * DT)

    def source_spikes(rec: Recording) -> NDArray[np.float64]:
        sa = rec.spikes["drive_view"]
        return np.column_stack((sa.times, sa.ids))

    assert not np.array_equal(source_spikes(first), source_spikes(other)), "seed ignored"
    assert not np.array_equal(source_spikes(first), source_spikes(ref)), "the host stream?"


#: the statistics network: two Poisson populations (one on only in a window) and LIF neurons
#: driven by the first; 2000 steps, the seed of the device run
STAT_STEPS, STAT_SEED = 2000, 5
WINDOW = (500, 1500)  # steps of the "window" population's [start, stop)


def _poisson_network() -> snn.Network:
    net = snn.Network(dt=DT, seed=1)
    fast = net.population(10, snn.SpikeSourcePoisson(rate=500.0), label="fast")
    net.population(
        5,
        snn.SpikeSourcePoisson(
            rate=300.0, start=WINDOW[0] * DT, duration=(WINDOW[1] - WINDOW[0]) * DT
        ),
        label="window",
    )
    lif = net.population(6, snn.IF_curr_exp(**LIF), label="lif")
    net.connect(fast, lif, snn.FixedProbability(0.6), weight=30e-12, delay=0.2e-3)
    for label in ("fast", "window", "lif"):
        net.record(net.population_by_label(label), "spikes")
    return net


@pytest.fixture(scope="module")
def device_run() -> tuple[snn.Network, Recording]:
    """One device-RNG run of :func:`_poisson_network` (one thread: the simulator's fastest)."""
    net = _poisson_network()
    out = net.run(
        STAT_STEPS * DT, backend="cuda", seed=STAT_SEED, poisson_rng="device", threads_per_block=1
    )
    assert out.metadata["poisson_rng"] == "device"
    return net, out


def _raster(rec: Recording, label: str, size: int) -> NDArray[np.bool_]:
    """``(steps, neurons)`` spike raster of a population's recording."""
    sp = rec.spikes[label]
    raster = np.zeros((STAT_STEPS, size), dtype=bool)
    raster[np.rint(sp.times / DT).astype(np.int64), sp.ids] = True
    return raster


def _p_spike(net: snn.Network, label: str) -> float:
    compiled = compile_network(net)
    (pop,) = (p for p in compiled.populations if p.label == label)
    return float(np.unique(pop.consts["p_spike"])[0])


#: the Poisson populations of the statistics network: label, size, [first, last) active step
_SOURCES = (("fast", 10, (0, STAT_STEPS)), ("window", 5, WINDOW))


@pytest.mark.filterwarnings(_UINT64_WRAP)
def test_device_rng_spike_counts_match_the_rate(
    device_run: tuple[snn.Network, Recording],
) -> None:
    """Every step in its window a Poisson neuron spikes with probability ``p = p_spike``, so a
    neuron's count over ``T`` active steps is Binomial(T, p). Bounds: each population's total,
    and the total of both, within 4 standard deviations of the mean; per neuron, the sum of the
    squared standardized counts (chi-square with one degree of freedom per neuron) neither too
    large nor too small (two-sided p > 1e-4); no spike outside the window."""
    net, out = device_run
    total = mean_total = var_total = 0.0
    for label, size, (lo, hi) in _SOURCES:
        p = _p_spike(net, label)
        raster = _raster(out, label, size)
        assert not raster[:lo].any() and not raster[hi:].any(), f"{label}: outside its window"
        counts = raster.sum(axis=0)
        mean, var = (hi - lo) * p, (hi - lo) * p * (1 - p)
        z = (counts.sum() - size * mean) / math.sqrt(size * var)
        assert abs(z) < 4, f"{label}: {counts.sum()} spikes, expected {size * mean:.0f} (z={z:.2f})"
        chi2 = float(((counts - mean) ** 2 / var).sum())
        assert min(stats.chi2.sf(chi2, size), stats.chi2.cdf(chi2, size)) > 1e-4, (label, counts)
        total += counts.sum()
        mean_total += size * mean
        var_total += size * var
    assert abs(total - mean_total) < 4 * math.sqrt(var_total), (total, mean_total)


@pytest.mark.filterwarnings(_UINT64_WRAP)
def test_device_rng_inter_spike_intervals_are_geometric(
    device_run: tuple[snn.Network, Recording],
) -> None:
    """Intervals between a neuron's consecutive spikes are Geometric(p) on 1, 2, ... steps
    (mean ``1/p``, standard deviation ``sqrt(1 - p)/p``, CV ``sqrt(1 - p)``). Bounds, per
    population, over the pooled intervals (n of them): the mean within 4 standard errors; the
    CV within ``4/sqrt(n)`` (the sample CV of near-exponential intervals has a standard
    deviation of about ``1/sqrt(n)``); a chi-square goodness of fit over interval bins
    (probabilities from ``P(ISI >= k) = (1 - p)^(k - 1)``) at p > 1e-4. The finite run biases
    the observed intervals by about ``ISI / T`` (<= 1 % of the mean here): far inside these."""
    net, out = device_run
    edges = np.array([1, 2, 4, 7, 11, 16, 22, 30, 42, 60, 90])  # bins [edge, next edge), last open
    for label, size, _ in _SOURCES:
        p = _p_spike(net, label)
        raster = _raster(out, label, size)
        isi = np.concatenate([np.diff(np.flatnonzero(raster[:, i])) for i in range(size)])
        n = isi.size
        assert n > 100, f"{label}: too few intervals ({n})"
        z = (isi.mean() - 1 / p) / (math.sqrt(1 - p) / p / math.sqrt(n))
        assert abs(z) < 4, f"{label}: mean interval {isi.mean():.2f}, expected {1 / p:.2f}"
        cv = isi.std(ddof=1) / isi.mean()
        assert abs(cv - math.sqrt(1 - p)) < 4 / math.sqrt(n), f"{label}: CV {cv:.3f}"
        survival = (1 - p) ** (edges - 1.0)  # P(ISI >= edge)
        expected = n * -np.diff(np.append(survival, 0.0))
        observed = np.bincount(np.searchsorted(edges, isi, side="right") - 1, minlength=edges.size)
        keep = expected >= 5  # bins too small for the test are merged into the tail
        observed = np.append(observed[keep], observed[~keep].sum())
        expected = np.append(expected[keep], expected[~keep].sum())
        chi2 = float(((observed - expected) ** 2 / np.maximum(expected, 1e-12)).sum())
        assert stats.chi2.sf(chi2, observed.size - 1) > 1e-4, (label, observed, expected)


@pytest.mark.filterwarnings(_UINT64_WRAP)
def test_device_rng_neurons_have_independent_streams(
    device_run: tuple[snn.Network, Recording],
) -> None:
    """Distinct Poisson neurons, within a population and across populations (which are seeded
    separately), have distinct spike trains, and the Pearson correlation of every pair's
    rasters over the ``T`` steps where both are active stays within 5 standard errors
    (``1/sqrt(T)`` for independent trains). A population seeded like another would share its
    uniforms: correlation ~0.8 at these rates."""
    _, out = device_run
    rasters = [_raster(out, label, size) for label, size, _ in _SOURCES]
    both = np.hstack(rasters)
    trains = {both[:, i].tobytes() for i in range(both.shape[1])}
    assert len(trains) == both.shape[1], "two neurons have identical spike trains"
    for steps in (slice(0, STAT_STEPS), slice(*WINDOW)):
        block = rasters[0][steps] if steps.start == 0 else both[steps]
        r = np.corrcoef(block.T.astype(np.float64))
        off = r[~np.eye(r.shape[0], dtype=bool)]
        bound = 5 / math.sqrt(block.shape[0])
        assert np.abs(off).max() < bound, f"max |r| {np.abs(off).max():.3f} >= {bound:.3f}"


@pytest.mark.filterwarnings(_UINT64_WRAP)
def test_device_rng_drives_downstream_neurons_at_the_host_rate(
    device_run: tuple[snn.Network, Recording],
) -> None:
    """LIF neurons driven by device-RNG sources fire as with the reference's (host) draws:
    their total spike count is within 4 standard deviations (``sd sqrt(1 + 1/R)``, a
    prediction interval) of the mean over R = 20 reference runs with other seeds. The host
    option is the reference bit for bit (the parity tests above), so this ensemble is the
    host RNG's."""
    net, out = device_run
    counts = np.array(
        [net.run(STAT_STEPS * DT, seed=seed).spikes["lif"].count for seed in range(100, 120)]
    )
    mean, sd = counts.mean(), counts.std(ddof=1)
    assert mean > 20, "the LIF neurons must fire for the comparison to mean something"
    device = out.spikes["lif"].count
    assert abs(device - mean) < 4 * sd * math.sqrt(1 + 1 / counts.size), (device, counts)


def test_unsupported_features_fail_at_construction_naming_the_alternative() -> None:
    """(What the ``spinnaker`` semantics refuse here: ``test_cuda_spinnaker.py``.)"""
    deep = snn.Network(dt=1e-3)
    deep.population(3, snn.neurons.DeltaLIF(), label="layer")
    with pytest.raises(ValueError, match=r"deep network.*snn\.deep\.run"):
        cuda_backend.CudaSimulator(compile_network(deep), 0)


def test_options_are_validated() -> None:
    compiled = compile_network(_driven("IF_curr_exp", False))
    valid = r"valid options: precision, delivery, poisson_rng, threads_per_block"
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
    for bad in ("cuRAND", "Device", None, True):
        with pytest.raises(
            ValueError, match=rf"poisson_rng must be one of host, device, got {bad!r}"
        ):
            cuda_backend.CudaSimulator(compiled, 0, poisson_rng=bad)
    with pytest.raises(ValueError, match="poisson_rng must be one of host, device"):
        _driven("IF_curr_exp", False).run(0.001, backend="cuda", poisson_rng="numpy")
    sim = cuda_backend.CudaSimulator(compiled, 0, precision="float32")
    assert sim.precision == "float32" and sim.dtype == np.float32
    assert sim._d["state"].dtype == np.float32 and sim._d["fconst"].dtype == np.float32
    with pytest.raises(ValueError, match="non-negative"):
        cuda_backend.CudaSimulator(compiled, 0).run(-1)


def test_unavailable_without_gpu_or_simulator_says_how_to_enable_it() -> None:
    code = textwrap.dedent(
        """
        from numba import cuda
        from snn.backends import available
        print("GPU" if cuda.is_available() else available()["cuda"])
        """
    )
    stdout = cuda_sim.run_without_simulator(code, timeout=120)
    if stdout.strip() == "GPU":
        pytest.skip("a CUDA GPU is present: the backend is available without the simulator")
    assert "NUMBA_ENABLE_CUDASIM=1" in stdout, stdout


#: compiles the step kernels (gather, scatter, STDP, device RNG) in both precisions for sm_90
#: without a GPU
#: and prints, per kernel, counts of instructions in its PTX (``ptx``) or LLVM IR (``ir``)
_KERNEL_SCRIPT = (
    cuda_sim.KERNEL_SCRIPT_PRELUDE
    + """
from snn.models.vogels_abbott import vogels_abbott

coba = vogels_abbott("coba", n=50, seed=1)
plastic = snn.Network(dt=1e-4, seed=1)
src = plastic.population(4, snn.SpikeSourcePoisson(rate=100.0), label="src")
post = plastic.population(3, snn.IF_curr_exp(), label="post")
for rule in (snn.STDP("multiplicative"), snn.InhibitorySTDP()):
    plastic.connect(src, post, snn.AllToAll(), weight=1e-10, plasticity=rule)
plastic.record(plastic.projections[0], "weights")
poisson = snn.Network(dt=1e-4, seed=1)
drive = poisson.population(4, snn.SpikeSourcePoisson(rate=100.0), label="drive")
cond = poisson.population(3, snn.IF_cond_exp(), label="cond")
poisson.connect(drive, cond, snn.AllToAll(), weight=1e-9)
for precision in ("float64", "float32"):
    for name, net, delivery, rng in (
        ("gather", coba, "gather", "host"),
        ("scatter", coba, "scatter", "host"),
        ("stdp", plastic, "gather", "host"),
        ("device_rng", poisson, "gather", "device"),
    ):
        pyfunc, sig = captured_kernel(cb.CudaSimulator(
            compile_network(net), 1, delivery=delivery, precision=precision, poisson_rng=rng
        ))
        if mode == "ptx":
            code, _ = cuda.compile_ptx(pyfunc, sig, cc=(9, 0))
            patterns = {
                "fma": r"\\bfma\\.",
                "mul_f32": r"\\bmul\\.rn\\.f32",
                "mul_f64": r"\\bmul\\.rn\\.f64",
            }
        else:
            code = ours(llvm_ir(pyfunc, sig))
            patterns = {
                "fmul": r"= fmul ",
                "mul_f32": r"call float @\\"?__nv_fmul_rn",
                "mul_f64": r"call double @\\"?__nv_dmul_rn",
                "libm_exp": r"@\\"?__nv_exp",
                "f64_arith": r"= (fadd|fsub|fdiv) double|fpext float",
                "xoroshiro": r"xoroshiro128p_uniform_float64",
            }
        counts = {key: len(re.findall(pattern, code)) for key, pattern in patterns.items()}
        print(json.dumps({"kernel": name, "precision": precision, **counts}))
"""
)

_KERNELS = [(p, k) for p in PRECISIONS for k in ("gather", "scatter", "stdp", "device_rng")]


def _kernel_counts(mode: str) -> list[dict[str, Any]]:
    rows = cuda_sim.kernel_counts(_KERNEL_SCRIPT, mode)
    assert [(r["precision"], r["kernel"]) for r in rows] == _KERNELS, rows
    return rows


def test_kernel_products_are_never_plain_multiplies() -> None:
    """On the LLVM IR that numba-cuda hands to NVVM (no toolkit needed): no plain ``fmul``
    (which NVVM's default ``-fma=1`` may contract with an addition), every product a libdevice
    ``mul_rn`` call of the run's precision, no libm ``exp``; in float32, no float64 arithmetic
    or promotion outside plasticity. The device-RNG kernel calls numba-cuda's xoroshiro128+
    uniform (whose own arithmetic is not counted), the others do not."""
    for row in _kernel_counts("ir"):
        where = f"{row['precision']} {row['kernel']} kernel"
        assert (row["xoroshiro"] > 0) == (row["kernel"] == "device_rng"), f"{where}: {row}"
        assert row["fmul"] == 0, f"{where}: plain multiplies (contractible into an FMA)"
        assert row["libm_exp"] == 0, f"{where}: calls libdevice exp (not the reference's)"
        single = row["precision"] == "float32"
        assert row["mul_f32" if single else "mul_f64"] > 10, f"{where}: {row}"
        if single and row["kernel"] != "stdp":  # only plasticity computes in float64
            assert row["mul_f64"] == 0, f"{where}: float64 products in the neuron update"
            assert row["f64_arith"] == 0, f"{where}: float64 arithmetic in the neuron update"


def test_compiled_kernels_have_no_fused_multiply_add() -> None:
    """Needs NVVM (CUDA toolkit, or the nvidia-nvvm wheel via CUDA_HOME), not a GPU."""
    cuda_sim.skip_unless_nvvm()
    for row in _kernel_counts("ptx"):
        where = f"{row['precision']} {row['kernel']} kernel"
        assert row["fma"] == 0, f"{where}: fused multiply-adds (fma.rn.f32/f64) in the PTX"
        key = "mul_f32" if row["precision"] == "float32" else "mul_f64"
        assert row[key] > 20, f"{where}: expected the products as mul.rn ({row})"
