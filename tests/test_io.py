"""HDF5 storage: round trips of networks and recordings, atomic writes and clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snn
import snn.io
from snn.connectors import StructuredConnector
from snn.io import FORMAT_VERSION, load, load_network, load_recording, read_header, save
from snn.network import Population, PopulationView, Projection
from snn.recording import Recording, SpikeTrains, Trace

DT = 0.1e-3


# ---------------------------------------------------------------------------------------------
# a network that uses every registered neuron model and connector, views, STDP and recorders
# ---------------------------------------------------------------------------------------------
def full_network(seed: int = 7) -> snn.Network:
    net = snn.Network(dt=DT, seed=seed)
    poisson = net.population(
        30, snn.SpikeSourcePoisson(rate=snn.Uniform(40.0, 120.0)), label="poisson"
    )
    trains = net.population(
        3, snn.SpikeSourceArray([[1e-3, 4e-3, 9e-3], [2e-3], []]), label="trains"
    )
    shared = net.population(4, snn.SpikeSourceArray([0.5e-3, 3e-3]), label="shared")
    exc = net.population(
        (2, 5, 4),
        snn.IF_curr_exp(tau_m=snn.Normal(20e-3, 2e-3, low=5e-3), v_thresh=-52e-3, i_offset=0.1e-9),
        label="exc",
        initial={"v": snn.Uniform(-65e-3, -55e-3)},
    )
    cond = net.population(12, snn.IF_cond_exp(tau_refrac=2e-3), label="cond")
    adapt = net.population(
        10,
        snn.AdaptiveLIF(b=0.02e-9, delta_theta=1e-3),
        label="adapt",
        initial={"w": np.linspace(0, 1e-10, 10)},
    )
    net.connect(
        poisson,
        exc,
        snn.FixedProbability(0.3),
        weight=snn.Uniform(0.5e-9, 1.5e-9),
        delay=snn.Uniform(0.1e-3, 2e-3),
        label="drive",
    )
    net.connect(
        trains,
        exc[:3],
        snn.FromList([[0, 0], [1, 2], [2, 1], [0, 2]]),
        weight=[2e-9, 2.5e-9, 3e-9, 1e-9],
        delay=0.3e-3,
        label="list",
    )
    net.connect(shared, cond[4:8], snn.OneToOne(), weight=20e-9, label="one")
    net.connect(
        exc, exc, snn.AllToAll(allow_self_connections=False), weight=0.05e-9, label="recurrent"
    )
    net.connect(
        exc[::2],
        adapt,
        snn.FixedInDegree(4),
        weight=0.4e-9,
        plasticity=snn.STDP(w_max=1e-9, A_plus=2e-11, A_minus=2e-11),
        label="stdp_add",
    )
    net.connect(
        poisson[5:25],
        cond,
        snn.FixedProbability(0.5, allow_self_connections=False),
        weight=snn.Uniform(5e-9, 10e-9),
        receptor="exc",
        plasticity=snn.STDP("multiplicative", w_max=20e-9, A_plus=0.05, A_minus=0.05),
        label="stdp_mult",
    )
    net.connect(
        adapt,
        cond,
        snn.AllToAll(),
        weight=2e-9,
        receptor="inhibitory",
        plasticity=snn.InhibitorySTDP(eta=1e-10, rho0=4.0, w_max=5e-9),
        label="inh",
    )
    net.record(exc, "spikes", "v")
    net.record(exc[[1, 5, 7]], "isyn_exc", interval=0.5e-3, label="exc_view")
    net.record(cond, "spikes", "gsyn_exc", "v")
    net.record(adapt, "spikes", "w", "theta")
    net.record(poisson, "spikes")
    net.record(trains, "spikes")
    net.record(net.projections[4], "weights", interval=1e-3)
    net.record(net.projections[5], "weights")
    return net


def assert_targets_equal(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    if isinstance(a, Projection):
        assert a.index == b.index
        return
    assert a.parent.index == b.parent.index
    assert a.label == b.label
    np.testing.assert_array_equal(a.indices, b.indices)


def assert_networks_equal(a: snn.Network, b: snn.Network) -> None:
    assert (a.dt, a.seed, a.semantics) == (b.dt, b.seed, b.semantics)
    assert len(a.populations) == len(b.populations)
    for pa, pb in zip(a.populations, b.populations, strict=True):
        assert (pa.index, pa.label, pa.shape, pa.size) == (pb.index, pb.label, pb.shape, pb.size)
        assert type(pa.model) is type(pb.model)
        assert pa.params.keys() == pb.params.keys()
        for name in pa.params:
            np.testing.assert_array_equal(pa.params[name], pb.params[name], err_msg=name)
        if not isinstance(pb.model, snn.SpikeSourceArray):
            realised = pb.model.realize(pb.size, None)
            for name in pa.params:
                np.testing.assert_array_equal(realised[name], pa.params[name], err_msg=name)
        else:
            assert pa.model == pb.model
        assert pa.initial.keys() == pb.initial.keys()
        for name in pa.initial:
            np.testing.assert_array_equal(pa.initial[name], pb.initial[name], err_msg=name)
        assert pa._rng.bit_generator.state == pb._rng.bit_generator.state
    assert len(a.projections) == len(b.projections)
    for qa, qb in zip(a.projections, b.projections, strict=True):
        assert (qa.index, qa.label, qa.receptor) == (qb.index, qb.label, qb.receptor)
        assert_targets_equal(qa.pre, qb.pre)
        assert_targets_equal(qa.post, qb.post)
        assert qa.connector == qb.connector
        assert qa.plasticity == qb.plasticity
        for name in ("pre_idx", "post_idx", "weights", "delays"):
            x, y = getattr(qa, name), getattr(qb, name)
            assert x.dtype == y.dtype, name
            np.testing.assert_array_equal(x, y, err_msg=name)
    assert len(a.recorders) == len(b.recorders)
    for ra, rb in zip(a.recorders, b.recorders, strict=True):
        assert (ra.label, ra.variables, ra.interval_steps) == (
            rb.label,
            rb.variables,
            rb.interval_steps,
        )
        assert_targets_equal(ra.target, rb.target)


def assert_recordings_equal(a: Recording, b: Recording) -> None:
    assert (a.dt, a.duration, a.backend, a.seed) == (b.dt, b.duration, b.backend, b.seed)
    assert a.metadata == b.metadata
    assert list(a.spikes) == list(b.spikes)
    for label, sa in a.spikes.items():
        sb = b.spikes[label]
        assert sa.population == sb.population
        for name in ("neurons", "times", "ids"):
            np.testing.assert_array_equal(getattr(sa, name), getattr(sb, name), err_msg=name)
    assert list(a.traces) == list(b.traces)
    for label, per_var in a.traces.items():
        assert list(per_var) == list(b.traces[label])
        for var, ta in per_var.items():
            tb = b.traces[label][var]
            assert (ta.variable, ta.unit) == (tb.variable, tb.unit)
            for name in ("times", "values", "index"):
                np.testing.assert_array_equal(getattr(ta, name), getattr(tb, name))


@pytest.fixture(scope="module")
def network() -> snn.Network:
    return full_network()


@pytest.fixture(scope="module")
def network_file(network: snn.Network, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("io") / "net.h5"
    save(network, path)
    return path


@pytest.fixture
def copy_of(network_file: Path, tmp_path: Path) -> Path:
    """A writable copy of the saved full network, for tests that damage it."""
    path = tmp_path / "copy.h5"
    path.write_bytes(network_file.read_bytes())
    return path


# ---------------------------------------------------------------------------------------------
# network round trips
# ---------------------------------------------------------------------------------------------
def _deep_network() -> snn.Network:
    net = snn.Network(dt=1e-3, seed=4)
    x = net.input((2, 12, 12), label="events")
    h = net.population((3, 4, 4), snn.DeltaLIF(reset="zero", learn=("tau_m",)), label="conv")
    net.connect(x, h, snn.Conv2d(3, 5, stride=2), weight=snn.Normal(0.0, 0.3))
    p = net.population((3, 2, 2), snn.DeltaLIF(v_thresh=0.5, learn=()), label="pool")
    net.connect(h, p, snn.Pool2d(2), weight=1.0)
    out = net.population(4, snn.LeakyIntegrator(tau_m=5e-3), label="readout")
    net.connect(p, out, snn.Dense(), weight=snn.Uniform(-1.0, 1.0))
    return net


def test_full_networks_use_every_registered_model_and_connector(network: snn.Network) -> None:
    deep = _deep_network()
    models = {type(p.model) for net in (network, deep) for p in net.populations}
    assert {snn.NEURON_MODELS.get(n) for n in snn.NEURON_MODELS.names()} <= models
    connectors = {type(p.connector) for net in (network, deep) for p in net.projections}
    assert {snn.CONNECTORS.get(n) for n in snn.CONNECTORS.names()} <= connectors
    dependences = {p.plasticity.weight_dependence for p in network.projections if p.plasticity}
    assert dependences == {"additive", "multiplicative", "vogels"}
    rules = {type(p.plasticity) for p in network.projections if p.plasticity}
    assert {snn.PLASTICITY_RULES.get(n) for n in snn.PLASTICITY_RULES.names()} == rules


def test_network_round_trip(network: snn.Network, network_file: Path) -> None:
    loaded = load(network_file)
    assert isinstance(loaded, snn.Network)
    assert_networks_equal(network, loaded)
    assert read_header(network_file) == {
        "format": "snn-stack",
        "format_version": FORMAT_VERSION,
        "kind": "network",
        "snn_version": snn.__version__,
    }


def test_deep_network_round_trip(tmp_path: Path) -> None:
    from snn import deep

    net = _deep_network()
    save(net, tmp_path / "deep.h5")
    loaded = load_network(tmp_path / "deep.h5")
    assert_networks_equal(net, loaded)
    assert loaded.population_by_label("conv").model.options == {"reset": "zero", "learn": ["tau_m"]}
    for a, b in zip(net.projections, loaded.projections, strict=True):
        assert np.array_equal(a.kernel(), b.kernel())
        assert np.array_equal(a.kernel_index, b.kernel_index)
    frames = np.random.default_rng(0).integers(0, 3, (6, 2, 12, 12)).astype(float)
    assert np.array_equal(deep.run(net, frames).readout_v, deep.run(loaded, frames).readout_v)


def test_scalar_parameters_come_back_as_scalars(network_file: Path) -> None:
    loaded = load_network(network_file)
    exc = loaded.population_by_label("exc")
    assert exc.model.v_thresh == -52e-3  # one value for all neurons: a scalar model parameter
    assert isinstance(exc.model.tau_m, np.ndarray)  # drawn per neuron: kept per neuron


def test_loaded_network_gives_the_same_spikes(network: snn.Network, network_file: Path) -> None:
    loaded = load_network(network_file)
    for seed in (None, 11):
        original = network.run(0.03, backend="numpy", seed=seed)
        again = loaded.run(0.03, backend="numpy", seed=seed)
        assert sum(sp.count for sp in original.spikes.values()) > 50
        assert_recordings_equal(original, again)


def test_generator_state_is_restored(network: snn.Network, network_file: Path) -> None:
    """Draws made after loading continue the stored stream, as they would on the original."""
    a = full_network()
    b = load_network(network_file)
    a.population_by_label("cond").initialize(v=snn.Uniform(-70e-3, -60e-3))
    b.population_by_label("cond").initialize(v=snn.Uniform(-70e-3, -60e-3))
    np.testing.assert_array_equal(
        a.population_by_label("cond").initial["v"], b.population_by_label("cond").initial["v"]
    )


def test_large_arrays_are_compressed(tmp_path: Path) -> None:
    net = snn.Network(dt=DT, seed=1)
    a = net.population(100, snn.LIF(), label="a")
    net.connect(a, a, snn.AllToAll(), weight=1e-12)
    save(net, tmp_path / "big.h5")
    with h5py.File(tmp_path / "big.h5") as f:
        assert f["projections/0/weights"].compression == "gzip"
        assert f["populations/0/params/tau_m"].compression is None
    assert_networks_equal(net, load_network(tmp_path / "big.h5"))


def test_huge_seed_and_odd_labels_round_trip(tmp_path: Path) -> None:
    net = snn.Network(dt=DT, seed=2**70 + 3)
    a = net.population(3, snn.LIF(), label="a/b.c [é]")
    net.connect(a, a, snn.OneToOne(), weight=1e-12, label="x/y")
    net.record(a[1:], "spikes", label="/")
    save(net, tmp_path / "n.h5")
    assert_networks_equal(net, load_network(tmp_path / "n.h5"))


def test_empty_network_round_trips(tmp_path: Path) -> None:
    net = snn.Network(dt=1e-3, seed=0)
    save(net, tmp_path / "empty.h5")
    assert_networks_equal(net, load_network(tmp_path / "empty.h5"))


def test_semantics_round_trips(tmp_path: Path) -> None:
    net = snn.Network(dt=1e-3, seed=0, semantics="spinnaker")
    save(net, tmp_path / "spinnaker.h5")
    assert load_network(tmp_path / "spinnaker.h5").semantics == "spinnaker"


# ---------------------------------------------------------------------------------------------
# recording round trips
# ---------------------------------------------------------------------------------------------
def test_recording_round_trip(network: snn.Network, tmp_path: Path) -> None:
    rec = network.run(0.02, backend="numpy")
    rec.metadata.update(note="round trip", sizes=[1, 2, 3], nested={"a": None, "b": 1.5})
    save(rec, tmp_path / "rec.h5")
    again = load_recording(tmp_path / "rec.h5")
    assert_recordings_equal(rec, again)
    assert again.rates() == rec.rates()
    assert again.trace("stdp_add", "weights").values.shape == (20, network.projections[4].size)


def test_recording_metadata_must_be_json(tmp_path: Path) -> None:
    rec = Recording(dt=DT, duration=0.0, backend="numpy", seed=1, metadata={"bad": object()})
    with pytest.raises(ValueError, match="metadata cannot be stored as JSON"):
        save(rec, tmp_path / "rec.h5")
    assert list(tmp_path.iterdir()) == []


def test_kind_is_checked(network_file: Path, tmp_path: Path) -> None:
    rec = Recording(dt=DT, duration=0.0, backend="numpy", seed=1)
    save(rec, tmp_path / "rec.h5")
    with pytest.raises(ValueError, match="holds a recording, not a network"):
        load_network(tmp_path / "rec.h5")
    with pytest.raises(ValueError, match="holds a network, not a recording"):
        load_recording(network_file)


# ---------------------------------------------------------------------------------------------
# property tests: random small networks and recordings
# ---------------------------------------------------------------------------------------------
_SOURCES = ("SpikeSourcePoisson", "SpikeSourceArray")
labels = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=8
)


def _model(name: str, size: int, draw: Any) -> snn.neurons.NeuronModel:
    if name == "SpikeSourceArray":
        times = draw(st.lists(st.integers(0, 50), max_size=4, unique=True))
        return snn.SpikeSourceArray([t * DT for t in times])
    if name == "SpikeSourcePoisson":
        return snn.SpikeSourcePoisson(rate=draw(st.floats(0, 200)))
    cls = snn.NEURON_MODELS.get(name)
    per_neuron = draw(st.booleans())
    tau = np.linspace(10e-3, 30e-3, size) if per_neuron else 20e-3
    return cls(tau_m=tau, v_thresh=draw(st.floats(-55e-3, -45e-3)))


def _view(target: Population, draw: Any) -> Population | PopulationView:
    if target.size > 1 and draw(st.booleans()):
        keep = draw(st.lists(st.integers(0, target.size - 1), min_size=1, unique=True))
        return target[keep]
    return target


#: the clock-driven models and connectors (deep networks have their own round trip above)
CLOCK_MODELS = [n for n in snn.NEURON_MODELS.names() if not snn.NEURON_MODELS.get(n).deep_only]
CLOCK_CONNECTORS = [
    n for n in snn.CONNECTORS.names() if not issubclass(snn.CONNECTORS.get(n), StructuredConnector)
]


@st.composite
def small_networks(draw: Any) -> snn.Network:
    net = snn.Network(dt=DT, seed=draw(st.integers(0, 2**63 - 1)))
    n_pops = draw(st.integers(1, 4))
    for i in range(n_pops):
        name = draw(st.sampled_from(CLOCK_MODELS))
        size = draw(st.integers(1, 5))
        net.population(size, _model(name, size, draw), label=f"p{i}:{draw(labels)}")
    targets = [p for p in net.populations if not p.model.is_source]
    for i in range(draw(st.integers(0, 4)) if targets else 0):
        pre = _view(draw(st.sampled_from(net.populations)), draw)
        post = _view(draw(st.sampled_from(targets)), draw)
        kind = draw(st.sampled_from(CLOCK_CONNECTORS))
        if kind == "one_to_one":
            m = min(pre.size, post.size)
            pre, post, connector = pre[:m], post[:m], snn.OneToOne()
        elif kind == "all_to_all":
            connector = snn.AllToAll(draw(st.booleans()))
        elif kind == "fixed_probability":
            connector = snn.FixedProbability(draw(st.floats(0, 1)), draw(st.booleans()))
        elif kind == "fixed_in_degree":
            connector = snn.FixedInDegree(draw(st.integers(0, 3)), with_replacement=True)
        else:
            pairs = draw(
                st.lists(
                    st.tuples(st.integers(0, pre.size - 1), st.integers(0, post.size - 1)),
                    max_size=6,
                )
            )
            connector = snn.FromList(np.array(pairs, dtype=np.int64).reshape(-1, 2))
        plastic = draw(st.booleans())
        rule = snn.STDP(draw(st.sampled_from(["additive", "multiplicative"])), w_max=2e-9)
        net.connect(
            pre,
            post,
            connector,
            weight=snn.Uniform(0.0, 1e-9),
            delay=draw(st.integers(1, 4)) * DT,
            receptor=draw(st.sampled_from(["exc", "inh"])),
            plasticity=rule if plastic else None,
            label=f"q{i}",
        )
    for i in range(draw(st.integers(0, 3))):
        pop = draw(st.sampled_from(net.populations))
        variables = ["spikes", *pop.model.state_variables][: draw(st.integers(1, 3))]
        net.record(
            _view(pop, draw), *variables, interval=draw(st.integers(1, 3)) * DT, label=f"r{i}"
        )
    plastic_projs = [p for p in net.projections if p.plasticity is not None]
    if plastic_projs and draw(st.booleans()):
        net.record(draw(st.sampled_from(plastic_projs)), "weights", label="w")
    return net


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(net=small_networks())
def test_property_network_round_trip(net: snn.Network, tmp_path: Path) -> None:
    save(net, tmp_path / "net.h5")
    assert_networks_equal(net, load_network(tmp_path / "net.h5"))


floats = st.floats(allow_nan=True, allow_infinity=True)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def recordings(draw: Any) -> Recording:
    rec = Recording(
        dt=draw(st.floats(1e-6, 1e-2)),
        duration=draw(st.floats(0, 10)),
        backend=draw(labels),
        seed=draw(st.integers(0, 2**64)),
        metadata=draw(st.dictionaries(st.text(max_size=5), json_values, max_size=3)),
    )
    for label in draw(st.lists(labels, max_size=3, unique=True)):
        neurons = np.array(draw(st.lists(st.integers(0, 50), min_size=1, unique=True)))
        k = draw(st.integers(0, 6))
        ids = np.array([draw(st.sampled_from(list(neurons))) for _ in range(k)], dtype=np.int64)
        times = np.array(draw(st.lists(st.floats(0, 1), min_size=k, max_size=k)))
        rec.spikes[label] = SpikeTrains(draw(labels), neurons.astype(np.int64), times, ids)
    for label in draw(st.lists(labels, max_size=2, unique=True)):
        traces = {}
        for var in draw(st.lists(labels, min_size=1, max_size=2, unique=True)):
            n_t, n_i = draw(st.integers(0, 4)), draw(st.integers(0, 3))
            values = np.array(draw(st.lists(floats, min_size=n_t * n_i, max_size=n_t * n_i)))
            traces[var] = Trace(
                var,
                draw(st.sampled_from(["V", "A", "", "S"])),
                np.arange(n_t) * 1e-3,
                values.reshape(n_t, n_i),
                np.arange(n_i, dtype=np.int64),
            )
        rec.traces[label] = traces
    return rec


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rec=recordings())
def test_property_recording_round_trip(rec: Recording, tmp_path: Path) -> None:
    save(rec, tmp_path / "rec.h5")
    assert_recordings_equal(rec, load_recording(tmp_path / "rec.h5"))


# ---------------------------------------------------------------------------------------------
# atomic writes
# ---------------------------------------------------------------------------------------------
def test_failed_write_leaves_existing_file_untouched(
    network: snn.Network, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model.h5"
    save(snn.Network(dt=1e-3, seed=5), target)
    before = target.read_bytes()
    real_writer = snn.io._write_network

    def fail_midway(f: Any, net: snn.Network) -> None:
        real_writer(f, net)  # everything written ...
        raise RuntimeError("disk full")  # ... then the write fails before the file is complete

    monkeypatch.setattr(snn.io, "_write_network", fail_midway)
    with pytest.raises(RuntimeError, match="disk full"):
        save(network, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5"]


def test_write_goes_through_a_temporary_in_the_same_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    moves: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def record(src: Any, dst: Any) -> None:
        moves.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(snn.io.os, "replace", record)
    save(snn.Network(dt=1e-3, seed=5), tmp_path / "n.h5")
    [(src, dst)] = moves
    assert src.parent == dst.parent == tmp_path and src != dst
    assert not src.exists()


def test_save_rejects_bad_targets_and_objects(tmp_path: Path) -> None:
    net = snn.Network(dt=1e-3, seed=5)
    with pytest.raises(ValueError, match="does not exist"):
        save(net, tmp_path / "missing" / "n.h5")
    with pytest.raises(ValueError, match="is a directory"):
        save(net, tmp_path)
    with pytest.raises(
        ValueError, match=r"can store a snn\.Network or a snn\.recording\.Recording"
    ):
        save({"not": "a network"}, tmp_path / "n.h5")  # type: ignore[arg-type]
    bad = snn.Network(dt=1e-3, seed=5)
    bad.population(2, snn.LIF(), label="nul\x00label")
    with pytest.raises(ValueError, match="NUL character"):
        save(bad, tmp_path / "n.h5")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# bad files: each a ValueError that names the problem
# ---------------------------------------------------------------------------------------------
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        load(tmp_path / "nope.h5")


@pytest.mark.parametrize("content", [b"", b"hello, not hdf5", b"\x89HDF\r\n"])
def test_not_hdf5(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.h5"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not an HDF5 file"):
        load(path)


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.97])
def test_truncated_file(network_file: Path, tmp_path: Path, fraction: float) -> None:
    data = network_file.read_bytes()
    path = tmp_path / "truncated.h5"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ValueError, match=r"(truncated or corrupt)|(not an HDF5 file)"):
        load(path)


def _edit(path: Path, change: Any) -> None:
    with h5py.File(path, "r+") as f:
        change(f)


def test_wrong_format_attribute(copy_of: Path) -> None:
    _edit(copy_of, lambda f: f.attrs.__setitem__("format", "nir"))
    with pytest.raises(ValueError, match="not an snn-stack file: format is 'nir'"):
        load(copy_of)
    _edit(copy_of, lambda f: f.attrs.__delitem__("format"))
    with pytest.raises(ValueError, match="no 'format' attribute"):
        load(copy_of)


def test_foreign_hdf5_file(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["data"] = np.arange(3)
    with pytest.raises(ValueError, match="not an snn-stack file"):
        load(tmp_path / "other.h5")


def test_newer_format_version(copy_of: Path) -> None:
    _edit(copy_of, lambda f: f.attrs.__setitem__("format_version", FORMAT_VERSION + 1))
    with pytest.raises(ValueError, match=r"format_version 2 is newer .* upgrade snn-stack"):
        load(copy_of)


def test_unknown_kind(copy_of: Path) -> None:
    _edit(copy_of, lambda f: f.attrs.__setitem__("kind", "dataset"))
    with pytest.raises(ValueError, match="unknown kind 'dataset'; valid choices: network"):
        load(copy_of)


def test_unknown_model_lists_valid_names(copy_of: Path) -> None:
    _edit(copy_of, lambda f: f["populations/3"].attrs.__setitem__("model", "HodgkinHuxley"))
    valid = ", ".join(snn.NEURON_MODELS.names())
    with pytest.raises(
        ValueError, match=f"unknown neuron model 'HodgkinHuxley'; valid choices: {valid}"
    ):
        load(copy_of)


def test_unknown_connector_lists_valid_names(copy_of: Path) -> None:
    _edit(copy_of, lambda f: f["projections/0"].attrs.__setitem__("connector", "small_world"))
    with pytest.raises(
        ValueError, match="unknown connector 'small_world'; valid choices: all_to_all"
    ):
        load(copy_of)


def _replace(f: Any, name: str, data: Any) -> None:
    del f[name]
    f[name] = data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.__delitem__("projections/3/weights"), "missing dataset 'weights'"),
        (lambda f: f.__delitem__("recorders"), "missing group 'recorders'"),
        (lambda f: f["populations/0"].attrs.__delitem__("label"), "missing attribute 'label'"),
        (lambda f: _replace(f, "projections/3/weights", np.zeros(3)), "inconsistent lengths"),
        (
            lambda f: _replace(f, "populations/3/params/tau_m", np.ones(5)),
            r"tau_m has shape \(5,\), expected \(40,\)",
        ),
        (
            lambda f: _replace(f, "populations/3/initial/v", np.ones((40, 2))),
            "expected 1 dimension",
        ),
        (lambda f: f["projections/1/weights"].__setitem__(0, np.nan), "weights contain NaN"),
        (
            lambda f: _replace(f, "projections/1/delays", np.zeros(4, dtype=np.int64)),
            "delays must be >= 1",
        ),
        (lambda f: _replace(f, "projections/1/pre_idx", np.array([0, 1, 2, 7])), "out of range"),
        (lambda f: f["projections/0"].attrs.__setitem__("post", 9), "index 9 is out of range"),
        (
            lambda f: f["projections/0"].attrs.__setitem__("receptor", "gaba"),
            "unknown receptor 'gaba'; valid choices: excitatory, inhibitory",
        ),
        (
            lambda f: f["recorders/0"].attrs.__setitem__("variables", json.dumps(["u"])),
            "no recordable variable 'u'; valid names: spikes, v",
        ),
        (
            lambda f: f["projections/4/plasticity"].attrs.__setitem__("parameters", '{"tau": 1.0}'),
            "unknown parameter",
        ),
        (
            lambda f: f["populations/0/params"].__setitem__("colour", np.ones(30)),
            "unknown parameter.*colour",
        ),
        (lambda f: f["populations/3/params/tau_m"].__setitem__(0, -1.0), "tau_m must be > 0"),
        (lambda f: f["populations/1"].attrs.__setitem__("shape", [4]), "3 spike trains"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_damaged_contents(copy_of: Path, change: Any, message: str) -> None:
    _edit(copy_of, change)
    with pytest.raises(ValueError, match=message):
        load(copy_of)


def test_fields_missing_from_older_files_take_defaults(copy_of: Path, network: snn.Network) -> None:
    """Fields listed in FIELD_DEFAULTS, model parameters and initial values may be absent."""

    def strip(f: Any) -> None:
        del f["populations/3/params/i_offset"]
        del f["populations/4/initial"]
        del f["populations/3"].attrs["rng_state"]
        del f["recorders/0"].attrs["interval_steps"]
        del f["projections/4/plasticity"].attrs["weight_dependence"]
        del f.attrs["snn_version"]
        del f.attrs["semantics"]

    _edit(copy_of, strip)
    loaded = load_network(copy_of)
    assert loaded.semantics == "exact"
    exc = loaded.population_by_label("exc")
    np.testing.assert_array_equal(exc.params["i_offset"], np.zeros(exc.size))
    cond = loaded.population_by_label("cond")
    np.testing.assert_array_equal(cond.initial["v"], cond.params["v_rest"])
    assert loaded.recorders[0].interval_steps == 1
    plasticity = loaded.projections[4].plasticity
    assert plasticity is not None and plasticity.weight_dependence == "additive"
    assert read_header(copy_of)["snn_version"] == "unknown"
