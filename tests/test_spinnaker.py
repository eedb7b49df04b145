"""Deployment to SpiNNaker through sPyNNaker: design rules, lowering, virtual-board mapping.

Runs sPyNNaker on a virtual SpiNN-5 board (mapping, placement, routing and data generation; no
simulation) with HOME pointed at a temporary folder. Tests that need a physical board are marked
``spinnaker_board`` and run only when ``SNN_SPINNAKER_HOST`` names one.
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import numpy as np
import pytest

if importlib.util.find_spec("spynnaker") is None:
    pytest.skip(
        "sPyNNaker is not installed (pip install 'snn-stack[spinnaker]')", allow_module_level=True
    )

import snn
from snn.cli import main
from snn.connectors import CONNECTORS, StructuredConnector
from snn.hardware import DRCError, check_network, deploy
from snn.hardware.drc import ring_buffer_steps
from snn.hardware.pynn import connection_list, stdp_amplitudes
from snn.models import vogels_abbott
from snn.neurons import NEURON_MODELS

MS = 1e-3


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    """A temporary HOME and working directory for every sPyNNaker run of this module."""
    home = tmp_path_factory.mktemp("home")
    cwd = tmp_path_factory.mktemp("cwd")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.delenv("XDG_CONFIG_HOME", raising=False)
        mp.chdir(cwd)
        yield home, cwd


def every_feature_network() -> snn.Network:
    """Every neuron model, connector kind and STDP flavour, views, delays of 1..16 steps."""
    net = snn.Network(dt=1e-3, seed=3)
    trains = [np.array([5.0, 20.0]) * MS + i * MS for i in range(20)]
    array = net.population(20, snn.SpikeSourceArray(trains), label="array")
    poisson = net.population(30, snn.SpikeSourcePoisson(rate=20.0), label="poisson")
    exc = net.population(
        300, snn.IF_curr_exp(tau_m=20e-3), label="exc", initial={"v": snn.Uniform(-65e-3, -55e-3)}
    )
    cond = net.population(60, snn.IF_cond_exp(), label="cond")
    adapt = net.population(40, snn.AdaptiveLIF(b=0.02e-9, tau_w=150e-3), label="adapt")
    net.connect(array, exc[:20], snn.OneToOne(), weight=0.5e-9, delay=2 * MS, label="o2o_view")
    net.connect(poisson, cond, snn.AllToAll(), weight=2e-9, label="all")
    net.connect(
        exc,
        exc,
        snn.FixedProbability(0.05, allow_self_connections=False),
        weight=snn.Uniform(0.05e-9, 0.2e-9),
        delay=snn.Uniform(1 * MS, 16 * MS),
        label="recurrent",
    )
    net.connect(
        exc[100:200],
        cond[10:50],
        snn.FixedInDegree(5),
        weight=1e-9,
        delay=16 * MS,
        receptor="inhibitory",
        label="in_degree_views",
    )
    net.connect(
        exc,
        adapt,
        snn.FixedProbability(0.1),
        weight=0.3e-9,
        plasticity=snn.STDP(A_plus=0.01e-9, A_minus=0.012e-9, w_max=1e-9),
        label="stdp_add",
    )
    net.connect(
        cond,
        exc,
        snn.FromList([[0, 1], [2, 3], [5, 5]]),
        weight=[0.2e-9, 0.4e-9, 0.6e-9],
        delay=[1 * MS, 5 * MS, 16 * MS],
        receptor="inhibitory",
        plasticity=snn.STDP("multiplicative", A_plus=0.01, A_minus=0.012, w_max=1e-9),
        label="stdp_mult_list",
    )
    net.record(exc[:50], "spikes", "v")
    net.record(cond, "spikes", "gsyn_exc")
    return net


def _pynn_connections(lowered) -> dict[str, np.ndarray]:
    out = {}
    for label, proj in lowered.projections.items():
        rows = proj.get(["weight", "delay"], format="list", with_address=True)
        out[label] = np.asarray([tuple(map(float, r)) for r in rows], dtype=np.float64)
    return out


def _sorted_rows(rows: np.ndarray) -> np.ndarray:
    return rows[np.lexsort((rows[:, 3], rows[:, 2], rows[:, 1], rows[:, 0]))]


@pytest.fixture(scope="module")
def mapped(sandbox, tmp_path_factory):
    home, _ = sandbox
    before_home = _files(home)
    run_dir = tmp_path_factory.mktemp("run")
    net = every_feature_network()
    result = deploy(net, "spinnaker", duration=0.05, run_dir=run_dir, after_run=_pynn_connections)
    return net, result, run_dir, before_home


# ---------------------------------------------------------------------------------------------
# design rules (no board)
# ---------------------------------------------------------------------------------------------
EXPECTED_MODEL_RULES = {("nest", "AdaptiveLIF"): "unsupported_neuron_model"}
# deep-network layers (DeltaLIF, LeakyIntegrator, FrameInput) have no PyNN lowering yet
for _name in NEURON_MODELS.names():
    if NEURON_MODELS.get(_name).deep_only:
        for _target in ("spinnaker", "nest"):
            EXPECTED_MODEL_RULES[(_target, _name)] = "unsupported_neuron_model"


@pytest.mark.parametrize("target", ["spinnaker", "nest"])
@pytest.mark.parametrize("model_name", NEURON_MODELS.names())
def test_every_neuron_model_lowers_or_fails_with_its_rule(model_name, target):
    net = snn.Network(dt=1e-3, seed=1)
    cls = NEURON_MODELS.get(model_name)
    model = cls([0.01]) if model_name == "SpikeSourceArray" else cls()
    net.population(10, model, label="pop")
    expected = EXPECTED_MODEL_RULES.get((target, model_name))
    report = check_network(net, target, raise_errors=False)
    assert [v.rule for v in report.errors] == ([expected] if expected else [])
    if expected:
        with pytest.raises(DRCError, match=expected):
            check_network(net, target)


def test_adaptive_threshold_has_no_spinnaker_equivalent():
    net = snn.Network(dt=1e-3, seed=1)
    net.population(10, snn.AdaptiveLIF(delta_theta=2e-3), label="a")
    with pytest.raises(DRCError, match=r"\[unsupported_neuron_model\].*delta_theta=0") as info:
        check_network(net, "spinnaker")
    assert info.value.rules == ["unsupported_neuron_model"]


@pytest.mark.parametrize(
    "name",
    [n for n in CONNECTORS.names() if not issubclass(CONNECTORS.get(n), StructuredConnector)],
)
def test_every_connector_passes_the_rules(name):
    net = snn.Network(dt=1e-3, seed=1)
    a = net.population(20, snn.IF_curr_exp(), label="a")
    b = net.population(20, snn.IF_curr_exp(), label="b")
    connector = {
        "one_to_one": snn.OneToOne(),
        "all_to_all": snn.AllToAll(),
        "fixed_probability": snn.FixedProbability(0.2),
        "fixed_in_degree": snn.FixedInDegree(3),
        "from_list": snn.FromList([[0, 1], [4, 2]]),
    }[name]
    net.connect(a, b, connector, weight=0.1e-9)
    for target in ("spinnaker", "nest"):
        assert check_network(net, target).errors == []


def test_timestep_must_be_whole_microseconds():
    net = snn.Network(dt=1.5e-6, seed=1)
    net.population(5, snn.IF_curr_exp(), label="a")
    with pytest.raises(DRCError, match="unsupported_timestep"):
        check_network(net)


def test_neurons_per_core_limit():
    net = snn.Network(dt=1e-3, seed=1)
    net.population(5, snn.IF_curr_exp(), label="a")
    with pytest.raises(DRCError, match=r"neurons_per_core.*<= 256"):
        check_network(net, neurons_per_core=300)


def test_population_too_large_for_one_board():
    net = snn.Network(dt=1e-3, seed=1)
    net.population(200_000, snn.IF_curr_exp(), label="big")
    with pytest.raises(DRCError, match=r"board_size.*782 application cores.*768"):
        check_network(net)
    assert check_network(net, n_boards=2).cores_estimate == 782


def test_delay_rules_name_extension_cores_and_the_cap():
    net = snn.Network(dt=1e-3, seed=1)
    pre = net.population(300, snn.IF_curr_exp(), label="pre")
    post = net.population(300, snn.IF_curr_exp(), label="post")
    ring = ring_buffer_steps(300, 256)
    assert ring == 32 and ring >= 16  # 14 ring bits - 8 atom bits - 1 receptor bit
    net.connect(pre, post, snn.FixedProbability(0.05), weight=0.1e-9, delay=40 * MS)
    report = check_network(net)
    assert [(d.pre, d.cores, d.ring_steps) for d in report.delay_extensions] == [("pre", 2, 32)]
    assert any(
        v.rule == "delay_extension" and "2 delay-extension" in v.message for v in report.warnings
    )
    net.connect(pre, post, snn.OneToOne(), weight=0.1e-9, delay=(9 * ring + 1) * MS)
    with pytest.raises(DRCError, match=r"delay_range.*289 steps"):
        check_network(net)


def test_weight_rules_report_quantization_and_lost_weights():
    net = snn.Network(dt=1e-3, seed=1)
    a = net.population(10, snn.IF_curr_exp(), label="a")
    b = net.population(10, snn.IF_curr_exp(), label="b")
    net.connect(a, b, snn.OneToOne(), weight=100e-9, label="huge")  # 100 nA -> shift 7
    net.connect(a, b, snn.OneToOne(), weight=1e-12, label="tiny")  # 0.001 nA < step/2
    report = check_network(net, raise_errors=False)
    by_label = {q.projection: q for q in report.quantization}
    assert by_label["huge"].shift == 7 and by_label["tiny"].zeroed == 10
    assert [v.rule for v in report.errors] == ["weight_precision"]
    assert "tiny" in report.errors[0].message
    net2 = snn.Network(dt=1e-3, seed=1)
    c = net2.population(2, snn.IF_curr_exp(), label="c")
    net2.connect(c, c, snn.OneToOne(), weight=50e-6)  # 50000 nA
    with pytest.raises(DRCError, match="weight_range"):
        check_network(net2)


def test_stdp_amplitude_conversions():
    add = snn.STDP(A_plus=0.01e-9, A_minus=0.02e-9, w_max=2e-9)
    # sPyNNaker: additive amplitudes are weights (nA); NEST: relative to w_max
    assert stdp_amplitudes(add, "spinnaker", 1e9) == pytest.approx((0.01, 0.02))
    assert stdp_amplitudes(add, "nest", 1e9) == pytest.approx((0.005, 0.01))
    mult = snn.STDP("multiplicative", A_plus=0.1, A_minus=0.2, w_max=2e-9)
    for target in ("spinnaker", "nest"):
        assert stdp_amplitudes(mult, target, 1e9) == (0.1, 0.2)
    net = snn.Network(dt=1e-3, seed=1)
    a = net.population(5, snn.IF_curr_exp(), label="a")
    net.connect(a, a, snn.OneToOne(), weight=1e-9, plasticity=snn.STDP(w_min=0.5e-9, w_max=2e-9))
    with pytest.raises(DRCError, match="w_min=0"):
        check_network(net, "nest")
    assert check_network(net, "spinnaker").errors == []
    b = net.population(5, snn.IF_curr_exp(), label="b")
    net.connect(a, b, snn.OneToOne(), weight=1e-9, plasticity=snn.STDP(w_max=2e-9))
    net.connect(a, b, snn.AllToAll(), weight=1e-9, plasticity=snn.STDP(w_max=3e-9), label="other")
    with pytest.raises(DRCError, match="one plasticity rule per post population"):
        check_network(net, "spinnaker")


# ---------------------------------------------------------------------------------------------
# virtual board
# ---------------------------------------------------------------------------------------------
def test_lowered_connections_match_ours_through_projection_get(mapped):
    net, result, _, _ = mapped
    got = result.after_run
    assert set(got) == {p.label for p in net.projections}
    # Projection.get returns the weights sPyNNaker generated: ours in 16-bit fixed point
    scales = {q.projection: q.scale for q in result.mapping.quantization}
    for proj in net.projections:
        ours = connection_list(proj, "spinnaker")
        exact = ours[:, 2].copy()
        ours[:, 2] = np.rint(ours[:, 2] * scales[proj.label]) / scales[proj.label]
        assert np.all(np.abs(ours[:, 2] - exact) <= 0.5 / scales[proj.label] * (1 + 1e-9))
        ours, theirs = _sorted_rows(ours), _sorted_rows(got[proj.label])
        assert theirs.shape == ours.shape, proj.label
        np.testing.assert_array_equal(theirs[:, :2], ours[:, :2], err_msg=proj.label)
        np.testing.assert_allclose(theirs[:, 2:], ours[:, 2:], rtol=1e-9, err_msg=proj.label)
    assert max(int(p.delays.max()) for p in net.projections) == 16
    assert set(result.connector_modes.values()) == {"from_list"}


def test_every_feature_network_maps_on_the_virtual_board(mapped):
    net, result, _, _ = mapped
    m = result.mapping
    assert result.recording is None and not result.spikes_returned
    assert "no spikes" in result.report()
    rows = {(p.population, p.role): p for p in m.populations}
    # 1 ms steps: neurons and synapses share a core; 300 neurons at 256 per core -> 2 cores
    assert rows[("exc", "neurons")].cores == 2
    assert rows[("exc", "neurons")].neurons_per_core == 256
    assert rows[("adapt", "neurons")].binaries == [
        "IF_curr_exp_ca2_adaptive_stdp_mad_pair_additive.aplx"
    ]
    assert ("array", "spike source") in rows and ("poisson", "spike source") in rows
    assert not any(p.role == "delay extension" for p in m.populations)  # delays <= 16 steps
    assert m.application_cores == check_network(net).cores_estimate == 6
    assert m.routing_entries > 0 and m.routing_tables > 0
    assert all(c.sdram_bytes > 0 for c in m.cores)
    assert {q.projection for q in m.quantization} == {p.label for p in net.projections}
    text = m.table()
    for label in ("exc", "cond", "adapt", "routing:", "SDRAM"):
        assert label in text
    assert m.to_dict()["routing"]["entries"] == m.routing_entries
    assert '"application_cores"' in result.to_json()


def test_spinnaker_writes_only_into_the_run_folder(mapped, sandbox):
    _, result, run_dir, before_home = mapped
    home, cwd = sandbox
    assert _files(cwd) == set()
    new_in_home = _files(home) - before_home
    assert not any("spynnaker" in f.lower() or "spinn" in f.lower() for f in new_in_home)
    assert all(f.startswith((".cache/matplotlib", ".config/matplotlib")) for f in new_in_home)
    assert (run_dir / "spynnaker.cfg").is_file()
    assert (run_dir / "config" / ".spynnaker.cfg").is_file()
    assert (run_dir / "reports").is_dir()
    assert os.environ.get("XDG_CONFIG_HOME") is None
    assert Path.cwd() == cwd
    assert any("insists on a user configuration" in m for m in result.messages)


def test_delay_extension_cores_match_the_design_rule(sandbox, tmp_path):
    net = snn.Network(dt=1e-3, seed=2)
    pre = net.population(300, snn.IF_curr_exp(), label="pre")
    post = net.population(100, snn.IF_curr_exp(), label="post")
    ring = ring_buffer_steps(100, 256)  # 100 neurons: 7 atom bits -> 64 steps
    net.connect(pre, post, snn.FixedProbability(0.05), weight=0.1e-9, delay=(ring + 10) * MS)
    predicted = check_network(net).delay_extensions
    assert [(d.pre, d.cores) for d in predicted] == [("pre", 2)]
    result = deploy(net, "spinnaker", duration=0.02, run_dir=tmp_path / "run")
    rows = {(p.population, p.role): p for p in result.mapping.populations}
    assert rows[("pre", "delay extension")].cores == 2
    assert rows[("pre", "delay extension")].binaries == ["delay_extension.aplx"]


def test_design_rule_shift_estimate_matches_spynnaker(sandbox, tmp_path):
    net = vogels_abbott("cuba", n=500, dt=1e-3, seed=1, record_spikes=False)
    estimate = {q.projection: q.shift for q in check_network(net).quantization}
    result = deploy(
        net, "spinnaker", duration=0.02, run_dir=tmp_path / "run", connectivity="native"
    )
    actual = {q.projection: q.shift for q in result.mapping.quantization}
    assert estimate == actual
    assert all(q.max_rel_error < 0.01 and q.zeroed == 0 for q in result.mapping.quantization)
    # uniform weights and delays: PyNN's connectors, generated by sPyNNaker itself
    assert set(result.connector_modes.values()) == {"native (statistical)"}


def test_deploy_rejects_two_machines_and_unknown_targets():
    net = snn.Network(dt=1e-3, seed=1)
    net.population(5, snn.IF_curr_exp(), label="a")
    with pytest.raises(ValueError, match="exactly one SpiNNaker machine"):
        deploy(net, "spinnaker", virtual=True, machine="10.0.0.1")
    with pytest.raises(ValueError, match="valid choices: spinnaker, nest"):
        deploy(net, "loihi")


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def test_cli_deploy_virtual_prints_the_mapping(sandbox, tmp_path, capsys):
    model = tmp_path / "va.h5"
    snn.save(vogels_abbott("cuba", n=200, dt=1e-3, seed=1), model)
    report = tmp_path / "report.json"
    code = main(
        [
            "deploy",
            str(model),
            "--target",
            "spinnaker",
            "--virtual",
            "--duration",
            "0.02",
            "--run-dir",
            str(tmp_path / "run"),
            "--report",
            str(report),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "mapping on virtual SpiNN-5 board" in out and "no spikes" in out
    assert report.is_file() and '"routing"' in report.read_text()


def test_cli_deploy_errors_are_one_line(sandbox, tmp_path, capsys):
    model = tmp_path / "va.h5"
    snn.save(vogels_abbott("cuba", n=50, dt=1e-3, seed=1), model)
    code = main(["deploy", str(model), "--out", str(tmp_path / "r.h5")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("snn: error: a virtual board returns no spikes")
    assert err.count("\n") == 1
    code = main(["deploy", str(model), "--machine", "a", "--spalloc", "http://b"])
    assert code == 2 and "only one of" in capsys.readouterr().err


def test_demo_step_skips_cleanly_without_spynnaker(monkeypatch, tmp_path):
    from snn import cli

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "spynnaker" else real(name, *a),
    )
    ctx = cli.DemoContext(tmp_path, 0.01, "numpy", 50, 1, False)
    assert cli._demo_spinnaker(ctx).startswith("skipped: sPyNNaker is not installed")
    assert "spinnaker" in [s.name for s in cli.DEMO_STEPS]


# ---------------------------------------------------------------------------------------------
# a real board
# ---------------------------------------------------------------------------------------------
@pytest.mark.spinnaker_board
@pytest.mark.skipif(
    not os.environ.get("SNN_SPINNAKER_HOST"), reason="set SNN_SPINNAKER_HOST to a SpiNN-5 board"
)
def test_real_board_returns_spikes_in_our_recording_format(tmp_path):
    net = snn.Network(dt=1e-3, seed=1)
    src = net.population(10, snn.SpikeSourceArray([np.arange(0.01, 0.1, 0.01)]), label="src")
    exc = net.population(10, snn.IF_curr_exp(), label="exc")
    net.connect(src, exc, snn.OneToOne(), weight=5e-9)
    net.record(exc, "spikes", "v")
    result = deploy(net, machine=os.environ["SNN_SPINNAKER_HOST"], duration=0.1, run_dir=tmp_path)
    rec = result.recording
    assert rec is not None and rec.backend == "spinnaker"
    assert rec.spikes["exc"].count > 0
    assert rec.trace("exc", "v").values.shape[1] == 10
    assert math.isclose(rec.duration, 0.1)
