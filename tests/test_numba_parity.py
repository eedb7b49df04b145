"""The Numba backend reproduces the NumPy reference bit for bit.

Every test builds a small network, runs it on both backends with the same seed and compares
spike times and ids, state traces and plastic weights with ``np.array_equal`` (no tolerance).
Each network is checked to be non-trivial (it spikes), so equality is not vacuous.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pytest

import snn
from parity import assert_identical
from snn.backends import get_backend
from snn.compiled import compile_network
from snn.models.vogels_abbott import vogels_abbott
from snn.network import run_generator
from snn.recording import Recording

pytest.importorskip("numba", reason="the numba backend needs the 'numba' package")

from snn.backends.numba_backend import NumbaSimulator

DT = 0.1e-3


#: both precisions of the numpy and numba backends (snn.backends.precision)
PRECISIONS = pytest.mark.parametrize("precision", ["float64", "float32"])


def run_both(
    net: snn.Network, duration: float, seed: int | None = None, precision: str = "float64"
) -> tuple[Recording, Recording]:
    ref = net.run(duration, backend="numpy", seed=seed, precision=precision)
    out = net.run(duration, backend="numba", seed=seed, precision=precision)
    assert out.backend == "numba"
    return ref, out


def _lif_params(heterogeneous: bool, rng_seed: int = 0) -> dict[str, Any]:
    params: dict[str, Any] = dict(
        tau_m=20e-3,
        cm=0.25e-9,
        v_rest=-65e-3,
        v_reset=-70e-3,
        v_thresh=-52e-3,
        tau_refrac=2e-3,
        tau_syn_E=5e-3,
        tau_syn_I=8e-3,
    )
    if heterogeneous:
        params["tau_m"] = snn.Uniform(10e-3, 30e-3)
        params["v_thresh"] = snn.Uniform(-54e-3, -50e-3)
        params["tau_refrac"] = snn.Uniform(0.5e-3, 3e-3)
    return params


def _model(name: str, heterogeneous: bool) -> snn.neurons.NeuronModel:
    p = _lif_params(heterogeneous)
    if name == "IF_curr_exp":
        return snn.IF_curr_exp(**p)
    if name == "IF_cond_exp":
        return snn.IF_cond_exp(e_rev_E=0.0, e_rev_I=-80e-3, **p)
    return snn.AdaptiveLIF(tau_w=50e-3, b=0.02e-9, tau_theta=30e-3, delta_theta=2e-3, **p)


def test_cond_exp_uses_the_shared_arithmetic_exp() -> None:
    """IF_cond_exp parity rests on both backends evaluating snn.arith's exp, not np.exp / libm.

    (np.exp is libm's exp on CPUs without AVX-512F and NumPy's own SIMD exp with it; the two
    round differently, so a reference built on np.exp could not be matched on every CPU.)
    The exact equality of the kernel's compiled and NumPy evaluations is tested in test_arith.
    """
    import inspect

    from snn.backends import numba_backend
    from snn.neurons import IF_cond_exp

    assert "exp_arith(" in inspect.getsource(IF_cond_exp.step)
    assert "np.exp(" not in inspect.getsource(IF_cond_exp.step)
    assert "_exp(" in inspect.getsource(numba_backend._if_cond_exp_block.py_func)
    assert "np.exp(" not in inspect.getsource(numba_backend._if_cond_exp_block.py_func)


def test_poisson_chunked_draws_equal_per_step_draws() -> None:
    a = run_generator(5, 3)
    b = run_generator(5, 3)
    per_step = np.stack([a.random(17) for _ in range(9)])
    assert np.array_equal(per_step, b.random((9, 17)))


@pytest.mark.parametrize("model_name", ["IF_curr_exp", "IF_cond_exp", "AdaptiveLIF"])
@pytest.mark.parametrize("heterogeneous", [False, True], ids=["uniform", "heterogeneous"])
@PRECISIONS
def test_models_both_receptors_poisson_drive(
    model_name: str, heterogeneous: bool, precision: str
) -> None:
    net = snn.Network(dt=DT, seed=11)
    conductance = model_name == "IF_cond_exp"
    w_exc, w_inh = (4e-9, 6e-9) if conductance else (0.25e-9, 0.3e-9)
    drive = net.population(60, snn.SpikeSourcePoisson(rate=80.0), label="drive")
    inhib = net.population(
        30, snn.SpikeSourcePoisson(rate=40.0, start=20e-3, duration=0.1), label="inhib"
    )
    pop = net.population(
        50,
        _model(model_name, heterogeneous),
        label="pop",
        initial={"v": snn.Uniform(-70e-3, -55e-3)},
    )
    net.connect(
        drive,
        pop,
        snn.FixedProbability(0.3),
        weight=w_exc,
        receptor="excitatory",
        delay=snn.Uniform(0.1e-3, 2e-3),
    )
    net.connect(inhib, pop, snn.FixedProbability(0.3), weight=w_inh, receptor="inhibitory")
    net.connect(
        pop, pop, snn.FixedProbability(0.1), weight=w_exc / 2, receptor="excitatory", delay=1e-3
    )
    variables = tuple(pop.model.state_variables)
    net.record(pop, "spikes", *variables)
    net.record(drive[::3], "spikes", label="drive_view")
    net.record(pop[10:20], "v", interval=0.5e-3, label="v_sparse")
    ref, out = run_both(net, 0.15, precision=precision)
    assert assert_identical(ref, out) > 20
    assert ref.spikes["pop"].count > 5


@PRECISIONS
def test_connectors_views_heterogeneous_delays_and_spike_arrays(precision: str) -> None:
    net = snn.Network(dt=DT, seed=3)
    times = [np.arange(k, 100, 7) * 1e-3 for k in range(12)]
    src = net.population(12, snn.SpikeSourceArray(times), label="src")
    shared = net.population(4, snn.SpikeSourceArray([5e-3, 5.1e-3, 40e-3]), label="shared")
    a = net.population(40, snn.IF_curr_exp(**_lif_params(False)), label="a")
    b = net.population(30, snn.IF_cond_exp(**_lif_params(True)), label="b")
    w = 0.6e-9
    net.connect(
        src, a, snn.AllToAll(), weight=snn.Uniform(0.1e-9, w), delay=snn.Uniform(0.1e-3, 4e-3)
    )
    net.connect(src[:6], a[:12:2], snn.OneToOne(), weight=w, receptor="inhibitory", delay=2e-3)
    net.connect(
        shared, a[5:25], snn.FixedInDegree(3, with_replacement=True), weight=w, delay=0.3e-3
    )
    net.connect(
        a,
        b,
        snn.FixedProbability(0.3),
        weight=snn.Uniform(1e-9, 8e-9),
        delay=snn.Uniform(0.1e-3, 5e-3),
    )
    net.connect(
        a[:10],
        b[[0, 3, 7, 9]],
        snn.FromList([[0, 0], [0, 0], [3, 1], [9, 3], [2, 2]]),
        weight=5e-9,
        receptor="inhibitory",
        delay=[1e-3, 2e-3, 0.5e-3, 3e-3, 1e-3],
    )
    net.connect(b, a, snn.AllToAll(), weight=0.05e-9, receptor="inhibitory")
    net.connect(
        a,
        a,
        snn.FixedProbability(0.2, allow_self_connections=False),
        weight=0.2e-9,
        delay=snn.Uniform(0.1e-3, 8e-3),
    )
    net.record(a, "spikes", "v", "isyn_exc", "isyn_inh")
    net.record(b[5:], "spikes", "v", "gsyn_exc", "gsyn_inh", interval=1e-3)
    net.record(src, "spikes")
    net.record(shared, "spikes")
    ref, out = run_both(net, 0.12, precision=precision)
    assert assert_identical(ref, out) > 50
    assert ref.spikes["b[5:]"].count > 0


@PRECISIONS
def test_zero_weights_uniform_and_mixed_delivery_paths(precision: str) -> None:
    """Static delivery has three paths: uniform delay and weight, uniform delay with differing
    weights (zeros skipped), and differing delays; zero weights add nothing in each."""
    net = snn.Network(dt=DT, seed=13)
    drive = net.population(40, snn.SpikeSourcePoisson(rate=150.0), label="drive")
    pop = net.population(30, snn.IF_cond_exp(**_lif_params(True)), label="pop")
    net.connect(drive, pop, snn.FixedProbability(0.3), weight=3e-9)  # uniform, delay 1 step
    net.connect(drive, pop, snn.FixedProbability(0.3), weight=0.0, receptor="inhibitory")
    mixed = np.where(np.arange(40 * 30).reshape(40, 30) % 3 == 0, 0.0, 4e-9)
    net.connect(drive, pop, snn.AllToAll(), weight=mixed, receptor="inhibitory", delay=0.3e-3)
    net.connect(
        pop, pop, snn.FixedProbability(0.2), weight=mixed[:30], delay=snn.Uniform(0.1e-3, 1e-3)
    )
    net.record(pop, "spikes", "v", "gsyn_exc", "gsyn_inh")
    ref, out = run_both(net, 0.1, precision=precision)
    assert assert_identical(ref, out) > 20
    assert ref.spikes["pop"].count > 0


@pytest.mark.parametrize("dependence", ["additive", "multiplicative"])
@PRECISIONS
def test_stdp(dependence: str, precision: str) -> None:
    net = snn.Network(dt=DT, seed=7)
    pre = net.population(40, snn.SpikeSourcePoisson(rate=30.0), label="pre")
    post = net.population(25, snn.IF_curr_exp(**_lif_params(False)), label="post")
    amp = (0.05e-9, 0.06e-9) if dependence == "additive" else (0.05, 0.06)
    rule = snn.STDP(
        dependence,
        tau_plus=15e-3,
        tau_minus=25e-3,
        A_plus=amp[0],
        A_minus=amp[1],
        w_min=0.0,
        w_max=1.0e-9,
    )
    ff = net.connect(
        pre,
        post,
        snn.FixedProbability(0.5),
        weight=snn.Uniform(0.2e-9, 0.9e-9),
        delay=snn.Uniform(0.1e-3, 3e-3),
        plasticity=rule,
        label="ff",
    )
    rec = net.connect(
        post,
        post,
        snn.FixedProbability(0.2),
        weight=0.3e-9,
        receptor="inhibitory",
        delay=snn.Uniform(0.5e-3, 2e-3),
        plasticity=rule,
        label="rec",
    )
    net.connect(pre[:25], post, snn.OneToOne(), weight=0.5e-9, delay=1e-3)  # static, same post
    net.record(post, "spikes", "v")
    net.record(ff, "weights", interval=2e-3)
    net.record(rec, "weights")
    ref, out = run_both(net, 0.3, precision=precision)
    assert assert_identical(ref, out) > 50
    w = ref.trace("ff", "weights").values
    assert not np.array_equal(w[0], w[-1]), "STDP changed no weight: the test is vacuous"
    assert ((w == 0.0) | (w == 1.0e-9)).any() or dependence == "multiplicative"


@PRECISIONS
def test_inhibitory_stdp(precision: str) -> None:
    """Vogels et al. 2011 iSTDP on recurrent inhibition of a driven E population."""
    net = snn.Network(dt=DT, seed=9)
    drive = net.population(60, snn.SpikeSourcePoisson(rate=60.0), label="drive")
    exc = net.population(40, snn.AdaptiveLIF(**_lif_params(True)), label="exc")
    inh = net.population(12, snn.IF_curr_exp(**_lif_params(False)), label="inh")
    net.connect(
        drive, exc, snn.FixedProbability(0.3), weight=0.3e-9, delay=snn.Uniform(0.1e-3, 1e-3)
    )
    net.connect(exc, inh, snn.FixedProbability(0.3), weight=0.3e-9)
    rule = snn.InhibitorySTDP(tau=20e-3, eta=0.02e-9, rho0=8.0, w_min=0.0, w_max=1.5e-9)
    ie = net.connect(
        inh,
        exc,
        snn.FixedProbability(0.5),
        weight=snn.Uniform(0.1e-9, 0.6e-9),
        receptor="inhibitory",
        delay=snn.Uniform(0.1e-3, 2e-3),
        plasticity=rule,
        label="ie",
    )
    net.record(exc, "spikes", "v")
    net.record(inh, "spikes")
    net.record(ie, "weights", interval=2e-3)
    ref, out = run_both(net, 0.3, precision=precision)
    assert assert_identical(ref, out) > 100
    w = ref.trace("ie", "weights").values
    assert (w[-1] > w[0]).any() and (w[-1] < w[0]).any(), "iSTDP moved no weight both ways"


@pytest.mark.parametrize("kind", ["cuba", "coba"])
@PRECISIONS
def test_vogels_abbott_small(kind: Literal["cuba", "coba"], precision: str) -> None:
    net = vogels_abbott(kind, n=400, seed=5)
    net.record(net.populations[0][:25], "v", label="exc_v")
    ref, out = run_both(net, 0.2, precision=precision)
    assert assert_identical(ref, out) > 20


def _chunk_network() -> snn.Network:
    net = snn.Network(dt=DT, seed=21)
    pre = net.population(30, snn.SpikeSourcePoisson(rate=2000.0), label="pre")
    post = net.population(20, snn.AdaptiveLIF(**_lif_params(True)), label="post")
    rule = snn.STDP("additive", A_plus=0.02e-9, A_minus=0.025e-9, w_min=0.0, w_max=0.5e-9)
    proj = net.connect(
        pre,
        post,
        snn.FixedProbability(0.3),
        weight=0.2e-9,
        plasticity=rule,
        delay=snn.Uniform(0.1e-3, 2e-3),
    )
    net.connect(post, post, snn.FixedProbability(0.3), weight=0.1e-9, receptor="inhibitory")
    net.record(pre, "spikes")
    net.record(post, "spikes", "v", "w", "theta", interval=0.3e-3)
    net.record(proj, "weights", interval=1.1e-3)
    return net


def test_run_in_chunks_equals_one_run() -> None:
    net = _chunk_network()
    compiled = compile_network(net)
    n_steps = 1500
    whole = NumbaSimulator(compiled, 4)
    whole.run(n_steps)
    pieces = NumbaSimulator(compiled, 4)
    pieces._chunk_steps = 7  # internal chunks that do not divide the sample intervals
    for k in (1, 0, 13, 400, 86, 1000):
        pieces.run(k)
    assert pieces.step == whole.step == n_steps
    a, b = whole.recording(n_steps * DT), pieces.recording(n_steps * DT)
    assert assert_identical(a, b) > 4096  # more than the initial spike buffer: it grew
    ref = get_backend("numpy").make_simulator(compiled, 4)
    ref.run(n_steps)
    assert_identical(ref.recording(n_steps * DT), a)


def test_run_seed_changes_poisson_spikes() -> None:
    net = _chunk_network()
    a = net.run(0.02, backend="numba", seed=1)
    b = net.run(0.02, backend="numba", seed=2)
    assert not np.array_equal(a.spikes["pre"].ids, b.spikes["pre"].ids)


def test_unknown_option_is_rejected() -> None:
    net = _chunk_network()
    with pytest.raises(
        ValueError, match=r"unknown option.*threads.*valid options: fastmath, precision"
    ):
        net.run(0.001, backend="numba", threads=2)
    with pytest.raises(ValueError, match="fastmath must be True or False"):
        net.run(0.001, backend="numba", fastmath="yes")


@pytest.mark.parametrize("kind", ["cuba", "coba"])
def test_fastmath_option_agrees_statistically(kind: Literal["cuba", "coba"]) -> None:
    """fastmath=True (FMA contraction) is not exact, but rates and traces must agree closely."""
    net = vogels_abbott(kind, n=4000, seed=3)
    net.record(net.populations[0][:20], "v", label="exc_v")
    exact = net.run(0.3, backend="numba")
    fast = net.run(0.3, backend="numba", fastmath=True)
    for label in ("exc", "inh"):
        n_exact, n_fast = exact.spikes[label].count, fast.spikes[label].count
        assert n_exact > 100
        assert abs(n_fast - n_exact) <= 0.03 * n_exact, (label, n_exact, n_fast)
    v_exact, v_fast = exact.trace("exc_v", "v").values, fast.trace("exc_v", "v").values
    # the first steps differ by rounding only (later, a flipped threshold crossing may diverge)
    np.testing.assert_allclose(v_fast[:50], v_exact[:50], rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_precision_option_is_checked(backend: str) -> None:
    net = _chunk_network()
    with pytest.raises(ValueError, match=r"precision must be one of float64, float32, got 'half'"):
        net.run(0.001, backend=backend, precision="half")
    with pytest.raises(ValueError, match=r"unknown option.*valid options: .*precision"):
        net.run(0.001, backend=backend, precisoin="float32")


@pytest.mark.parametrize("kind", ["cuba", "coba"])
def test_float32_runs_in_float32_and_agrees_statistically(kind: Literal["cuba", "coba"]) -> None:
    """precision="float32" rounds differently from float64 (the traces differ at once) but the
    network's statistics agree: rates within 3 %, first membrane samples within float32
    rounding."""
    net = vogels_abbott(kind, n=4000, seed=3)
    net.record(net.populations[0][:20], "v", label="exc_v")
    compiled = compile_network(net)
    sim = NumbaSimulator(compiled, 3, precision="float32")
    assert sim._st.state.dtype == np.float32 and sim._st.ring.dtype == np.float32
    n_steps = net.n_steps(0.3)
    sim.run(n_steps)
    single = sim.recording(n_steps * net.dt)
    double = net.run(0.3, backend="numba")
    for label in ("exc", "inh"):
        n64, n32 = double.spikes[label].count, single.spikes[label].count
        assert n64 > 100
        assert abs(n32 - n64) <= 0.03 * n64, (label, n64, n32)
    v64, v32 = double.trace("exc_v", "v").values, single.trace("exc_v", "v").values
    assert not np.array_equal(v32[:50], v64[:50]), "float32 gave float64's bits: not float32"
    np.testing.assert_allclose(v32[:50], v64[:50], rtol=2e-6, atol=0.0)


def test_negative_steps_are_rejected() -> None:
    sim = NumbaSimulator(compile_network(_chunk_network()), 0)
    with pytest.raises(ValueError, match="non-negative"):
        sim.run(-1)
