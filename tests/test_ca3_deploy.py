"""The CA3 memory lowered through PyNN: mapped on a virtual SpiNNaker board, executed on NEST.

sPyNNaker (virtual SpiNN-5 board, HOME in a temporary folder as in ``tests/test_spinnaker.py``):
the memory of exp3 (16 cues x 6 content bits) maps on 10 application cores of one chip, one per
population (the input spike source included); the two populations that receive the plastic
projections run the pair-STDP additive binary. Measured mapping (sPyNNaker 1!7.4.1):

=====================  ======  ===============  ====================  ===================
memory (c x n)         cores   routing entries  SDRAM, 10 app cores   with system cores
=====================  ======  ===============  ====================  ===================
exp3, 16 x 6           10      9 (1 table)      82 KiB                59 cores, 22.9 MiB
100 x 100 (no DRC)     10      9 (1 table)      719 KiB               59 cores, 23.5 MiB
=====================  ======  ===============  ====================  ===================

The design rules stop at c = n = 75 (see the weight-range test below).

NEST (PyNN 0.13, NEST 3.10) integrates the same network with its own solvers and its own STDP:
with exp3's inputs it fires exactly as many spikes per population as the board did, but not at
the same ms everywhere (``benchmarks/ca3_memory.py`` counts the rows).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from snn.hardware import DRCError, check_network
from snn.hardware.pynn import connection_list
from snn.models.ca3 import POPULATIONS, RECORDERS, ca3_memory

HAVE_SPYNNAKER = importlib.util.find_spec("spynnaker") is not None
HAVE_NEST = importlib.util.find_spec("pyNN") is not None and importlib.util.find_spec("nest")
if HAVE_SPYNNAKER:
    # the temporary HOME / working directory and the Projection.get reader of the SpiNNaker tests
    from test_spinnaker import _pynn_connections, _sorted_rows, sandbox  # noqa: F401

needs_spynnaker = pytest.mark.skipif(
    not HAVE_SPYNNAKER, reason="sPyNNaker is not installed (pip install 'snn-stack[spinnaker]')"
)
needs_nest = pytest.mark.skipif(not HAVE_NEST, reason="PyNN and nest-simulator are not installed")

DATA = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "ca3_cam_spinnaker"
MS = 1e-3
PLASTIC_POST = {"CA3contCueRecall", "CA3cueContRecall"}


def experiment(name: str, shift_ms: int = 0) -> tuple[Any, dict[str, Any]]:
    """The CA3 network fed with an experiment's inputs (moved ``shift_ms`` later)."""
    path = DATA / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"conformance data not found at {DATA}")
    data = json.loads(path.read_text())
    spikes = data["input_spikes_ms"]
    trains = [[[(t + shift_ms) * MS for t in ts] for ts in spikes[k]] for k in ("cue", "content")]
    return ca3_memory(data["cue_size"], data["content_size"], *trains), data


@pytest.fixture(scope="module")
def mapped_exp3(sandbox, tmp_path_factory):
    from snn.hardware import deploy

    net, data = experiment("exp3_state_map")
    run_dir = tmp_path_factory.mktemp("ca3_run")
    result = deploy(
        net,
        "spinnaker",
        duration=data["sim_time_ms"] * MS,
        run_dir=run_dir,
        after_run=_pynn_connections,
    )
    return net, result


@needs_spynnaker
def test_ca3_maps_one_core_per_population(mapped_exp3):
    net, result = mapped_exp3
    m = result.mapping
    assert result.recording is None  # a virtual board simulates nothing
    assert result.drc.errors == [] and result.drc.warnings == []
    rows = {p.population: p for p in m.populations if p.role != "system"}
    assert set(rows) == {p.label for p in net.populations}
    assert m.application_cores == check_network(net).cores_estimate == 10
    assert m.application_chips == 1
    for label, _, _ in POPULATIONS:
        binary = (
            "IF_curr_exp_stdp_mad_pair_additive.aplx"
            if label in PLASTIC_POST
            else "IF_curr_exp.aplx"
        )
        assert rows[label].binaries == [binary], label
        assert rows[label].cores == 1 and rows[label].neurons == net.population_by_label(label).size
    assert rows["IL"].role == "spike source" and rows["IL"].neurons == 16 + 6
    assert rows["OL"].binaries == ["IF_curr_exp.aplx"]
    assert not any(p.role == "delay extension" for p in m.populations)  # delays <= 3 ms
    assert m.routing_entries > 0 and m.routing_tables >= 1
    assert all(c.sdram_bytes > 0 for c in m.cores)
    print(m.table())


@needs_spynnaker
def test_ca3_weights_survive_the_fixed_point_lowering(mapped_exp3):
    net, result = mapped_exp3
    quant = {q.projection: q for q in result.mapping.quantization}
    # every non-zero weight is a whole number of sPyNNaker's weight steps: nothing is lost
    assert set(quant) == {p.label for p in net.projections if p.size}
    assert all(q.zeroed == 0 and q.max_rel_error < 1e-12 for q in quant.values())
    got = result.after_run
    for proj in net.projections:
        if not proj.size:
            continue
        ours, theirs = (
            _sorted_rows(connection_list(proj, "spinnaker")),
            _sorted_rows(got[proj.label]),
        )
        assert theirs.shape == ours.shape, proj.label
        np.testing.assert_array_equal(theirs[:, :2], ours[:, :2], err_msg=proj.label)
        np.testing.assert_allclose(theirs[:, 2:], ours[:, 2:], rtol=1e-9, err_msg=proj.label)


@needs_spynnaker
def test_ca3_without_input_spikes_maps(sandbox, tmp_path):
    """sPyNNaker 1!7.4.1 fails on a SpikeSourceArray whose every train is empty (IndexError)."""
    from snn.hardware import deploy

    net = ca3_memory(4, 5)
    result = deploy(net, "spinnaker", duration=0.02, run_dir=tmp_path / "run")
    assert result.mapping.application_cores == 10


def test_largest_memory_that_passes_the_spinnaker_weight_rules():
    """The lateral inhibition onto CA3cueContRecall (two projections of 6 n nA from c - 1 cues
    each) sums to 12 n (c - 1) nA in the worst case of one step, which must stay below 2**16 nA
    (ring-buffer shift <= 16): c = n = 74 passes, 75 does not. sPyNNaker 1!7.4.1 itself maps
    c = n = 100 with shift 17 (a 4 nA weight step), unchecked."""
    assert check_network(ca3_memory(74, 74)).errors == []
    report = check_network(ca3_memory(75, 75), raise_errors=False)
    assert {(v.rule, v.subject) for v in report.errors} == {
        ("weight_range", "cue_inhibits_other_cues"),
        ("weight_range", "cue_content_lateral_inhibition"),
    }
    assert "summed input of one step onto 'CA3cueContRecall'" in report.errors[0].message


# ---------------------------------------------------------------------------------------------
# NEST
# ---------------------------------------------------------------------------------------------
def test_nest_rejects_input_spikes_in_the_first_two_steps():
    net, _ = experiment("exp3_state_map")  # cue 0 spikes at 0, 1 and 2 ms
    report = check_network(net, "nest", raise_errors=False)
    assert [(v.rule, v.severity) for v in report.violations] == [
        ("spike_time_range", "error"),
        ("spike_time_range", "warning"),
    ]
    assert "t = 0.001 s, which NEST rejects" in report.errors[0].message
    assert "t = 0 s, which NEST drops" in report.warnings[0].message
    with pytest.raises(DRCError, match=r"spike_time_range.*start the input at 2 dt"):
        check_network(net, "nest")
    shifted, _ = experiment("exp3_state_map", shift_ms=2)
    assert check_network(shifted, "nest").violations == []
    assert check_network(net, "spinnaker").violations == []  # sPyNNaker emits at 0


@needs_nest
def test_nest_fires_as_many_spikes_as_the_board_on_exp3():
    """An independent check of the lowering: weights, signs, delays and STDP amplitudes."""
    from snn.hardware import deploy

    net, data = experiment("exp3_state_map", shift_ms=2)
    rec = deploy(net, "nest", duration=(data["sim_time_ms"] + 2) * MS).recording
    assert rec is not None
    for label in RECORDERS:
        board = sum(len(ids) for ids in data["recorded_on_spinnaker"][label].values())
        assert rec.spikes[label].count == board, label
