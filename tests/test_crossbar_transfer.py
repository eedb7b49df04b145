"""Exact transfer matrix by nested dissection against sparse LU, CG, Qucs and ngspice."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snn.hardware.crossbar import CrossbarCircuit, transfer
from snn.hardware.crossbar.transfer import NestedDissection
from test_crossbar_circuit import QUCS_FILES, _ngspice_solve, _random_crossbar, needs_ngspice


def _rel_err(got: np.ndarray, expected: np.ndarray) -> float:
    scale = float(np.max(np.abs(expected)))
    diff = float(np.max(np.abs(got - expected)))
    return diff / scale if scale > 0 else diff


def _lu_transfer(g: np.ndarray, r_word: float, r_bit: float) -> np.ndarray:
    """Reference: one sparse-LU solve per word line with a unit input."""
    m = g.shape[0]
    sol = CrossbarCircuit(g, r_word, r_bit, method="direct").solve(np.eye(m))
    return sol.output_current


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 13),
    st.integers(1, 13),
    st.integers(0, 2**32 - 1),
    st.floats(0.01, 100.0),
    st.floats(0.01, 100.0),
)
def test_matches_sparse_lu(m: int, n: int, seed: int, r_word: float, r_bit: float) -> None:
    rng = np.random.default_rng(seed)
    g = _random_crossbar(rng, m, n)
    eff = CrossbarCircuit(g, r_word, r_bit).effective_conductance()
    ref = _lu_transfer(g, r_word, r_bit)
    assert eff.shape == (m, n)
    assert _rel_err(eff, ref) < 1e-11
    # sneak paths reach every output, even through open devices; nothing is negative
    assert np.all(eff >= 0)


@pytest.mark.parametrize(("m", "n"), [(1, 40), (40, 1), (37, 53), (64, 64)])
def test_odd_shapes_match_sparse_lu(m: int, n: int) -> None:
    rng = np.random.default_rng(m * 100 + n)
    g = _random_crossbar(rng, m, n)
    eff = CrossbarCircuit(g, 1.5, 0.7).effective_conductance()
    assert _rel_err(eff, _lu_transfer(g, 1.5, 0.7)) < 1e-11


@pytest.mark.parametrize(("lo", "hi"), [(0.1e-6, 10e-6), (1e-6, 100e-6)])
def test_256_matches_cg(lo: float, hi: float) -> None:
    # the benchmark's regime: 1 ohm segments, IR drop of tens of percent at 256 x 256
    rng = np.random.default_rng(256)
    g = rng.uniform(lo, hi, (256, 256))
    v = rng.uniform(0.0, 1.0, (3, 256))
    circuit = CrossbarCircuit(g, 1.0, 1.0, method="cg")
    ref = circuit.solve(v).output_current
    assert _rel_err(circuit.output_current(v), ref) < 1e-10
    assert _rel_err(v @ g, ref) > 0.05  # the IR drop is real, so agreement means something


def test_nested_node_voltages_256_match_cg() -> None:
    rng = np.random.default_rng(257)
    g = rng.uniform(1e-6, 100e-6, (256, 200))
    v = rng.uniform(0.0, 1.0, (3, 256))
    ref = CrossbarCircuit(g, 1.0, 0.5, method="cg").solve(v)
    nested = CrossbarCircuit(g, 1.0, 0.5, method="nested")
    sol = nested.solve(v)
    assert _rel_err(sol.word_node_voltage, ref.word_node_voltage) < 1e-10
    assert _rel_err(sol.bit_node_voltage, ref.bit_node_voltage) < 1e-10
    assert np.all(sol.iterations == 0)
    # the transfer matrix comes from the same factorization
    assert _rel_err(nested.output_current(v), ref.output_current) < 1e-10


def test_node_voltages_need_kept_factors() -> None:
    nd = NestedDissection(np.full((3, 4), 1e-5), 1.0, 1.0)
    assert nd.transfer().shape == (3, 4)
    with pytest.raises(RuntimeError, match="keep_factors=True"):
        nd.node_voltages(np.ones((1, 3)))


@pytest.mark.skipif(not QUCS_FILES, reason="Qucs fixtures not found in shared/conformance")
@pytest.mark.parametrize("path", QUCS_FILES, ids=[p.stem for p in QUCS_FILES])
def test_qucs_output_currents(path: Path) -> None:
    case = json.loads(path.read_text())
    circuit = CrossbarCircuit.from_resistance(
        case["device_resistance_ohm"], case["word_line_segment_ohm"], case["bit_line_segment_ohm"]
    )
    expected = np.asarray(case["expected"]["output_current_A"], dtype=float)
    got = circuit.output_current(case["applied_voltage_V"])[0]
    assert _rel_err(got, expected) <= 1e-9


@needs_ngspice
@pytest.mark.parametrize(("m", "n", "seed"), [(1, 1, 10), (5, 11, 11), (64, 64, 12)])
def test_ngspice(m: int, n: int, seed: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    g = _random_crossbar(rng, m, n)
    r_word, r_bit = rng.uniform(0.5, 5.0, 2)
    v = rng.uniform(-1.0, 1.0, m)
    i_ref, _, _ = _ngspice_solve(g, r_word, r_bit, v, tmp_path)
    assert _rel_err(CrossbarCircuit(g, r_word, r_bit).output_current(v)[0], i_ref) <= 1e-6


def test_vanishing_wires_give_the_ideal_product() -> None:
    rng = np.random.default_rng(3)
    g = rng.uniform(1e-6, 100e-6, (20, 30))
    eff = CrossbarCircuit(g, 1e-7, 1e-7).effective_conductance()
    # first-order IR drop: relative change ~ (segments) * r * (summed conductance) ~ 1e-8
    assert _rel_err(eff, g) < 1e-6
    assert not np.array_equal(eff, g)


def test_one_ideal_wire_uses_line_solves() -> None:
    rng = np.random.default_rng(4)
    g = rng.uniform(1e-6, 100e-6, (9, 7))
    for r_word, r_bit in ((0.0, 2.0), (2.0, 0.0)):
        circuit = CrossbarCircuit(g, r_word, r_bit)
        assert _rel_err(circuit.effective_conductance(), _lu_transfer(g, r_word, r_bit)) < 1e-12


def test_1t1r_output_current_per_selection() -> None:
    rng = np.random.default_rng(5)
    g = rng.uniform(1e-5, 1e-3, (8, 6))
    v = rng.uniform(0.1, 1.0, (4, 8))
    v[1, [2, 5]] = 0.0  # a partial selection: rows 2 and 5 deselected
    one_t = CrossbarCircuit(g, 2.0, 2.0, cell="1T1R")
    ref = one_t.solve(v).output_current
    assert _rel_err(one_t.output_current(v), ref) < 1e-12
    zero_t = CrossbarCircuit(g, 2.0, 2.0, cell="0T1R")
    # fully selected reads are the passive array's; the partial one differs (no sneak paths)
    full = [0, 2, 3]
    assert _rel_err(zero_t.output_current(v[full]), ref[full]) < 1e-12
    assert _rel_err(zero_t.output_current(v[1]), ref[1:2]) > 1e-6
    with pytest.raises(ValueError, match="cell='0T1R' only"):
        one_t.effective_conductance()


@pytest.mark.slow
def test_1024_matches_cg() -> None:
    rng = np.random.default_rng(1024)
    g = rng.uniform(1e-6, 100e-6, (1024, 1024))
    v = rng.uniform(0.0, 1.0, (2, 1024))
    circuit = CrossbarCircuit(g, 1.0, 1.0, method="cg")
    assert _rel_err(circuit.output_current(v), circuit.solve(v).output_current) < 1e-10


# ------------------------------------------------------------------------------------------------
# memory: estimate, guard and fallback


@pytest.mark.parametrize("keep_factors", [True, False])
@pytest.mark.parametrize("shape", [(128, 128), (32, 128), (1, 300)])
def test_memory_estimate_bounds_the_measured_peak(
    shape: tuple[int, int], keep_factors: bool
) -> None:
    """The estimate is an upper bound of what NumPy allocates (tracemalloc), within 3x."""
    g = np.random.default_rng(0).uniform(1e-7, 1e-5, shape)
    NestedDissection(np.full((8, 8), 1e-6), 1.0, 1.0, keep_factors=keep_factors)  # JIT, caches
    tracemalloc.start()
    try:
        nd = NestedDissection(g, 1.0, 1.0, keep_factors=keep_factors)
        nd.transfer()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    estimate = transfer.estimated_peak_bytes(shape, keep_factors)
    assert peak <= estimate <= 3 * peak, (peak, estimate)


def test_arrays_too_large_for_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """With too little memory: nested dissection refuses with a clear error before allocating,
    output_current falls back to solving the batch (same currents), effective_conductance names
    the need."""
    rng = np.random.default_rng(5)
    g = rng.uniform(1e-6, 1e-4, (24, 20))
    v = rng.uniform(0.0, 1.0, (3, 24))
    expected = CrossbarCircuit(g, 1.0, 1.0).output_current(v)
    assert transfer.available_memory() is not None and transfer.available_memory() > 0
    monkeypatch.setattr(transfer, "available_memory", lambda: 100_000)
    with pytest.raises(MemoryError, match=r"24 x 20 array needs about .* use method='cg'"):
        NestedDissection(g, 1.0, 1.0)
    circuit = CrossbarCircuit(g, 1.0, 1.0, method="cg", tol=1e-13)
    np.testing.assert_allclose(circuit.output_current(v), expected, rtol=1e-9)
    with pytest.raises(MemoryError, match="effective_conductance of a 24 x 20 array needs"):
        circuit.effective_conductance()
    with pytest.raises(MemoryError, match="use method='cg'"):
        CrossbarCircuit(g, 1.0, 1.0, method="nested").solve(v)


def test_auto_solves_large_batches_by_nested_dissection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond 64 x 64 ``method="auto"`` solves a batch of 16 or more inputs by nested dissection
    (exact: no iterations) and fewer by CG, reuses nested factors once they exist, and stays
    with CG when the factors would not fit in memory."""
    rng = np.random.default_rng(9)
    g = rng.uniform(1e-6, 1e-4, (80, 70))
    v = rng.uniform(0.0, 1.0, (20, 80))
    reference = CrossbarCircuit(g, 1.0, 1.0, method="direct").solve(v)
    small = CrossbarCircuit(g, 1.0, 1.0).solve(v[:4])
    assert (small.iterations > 0).all()
    circuit = CrossbarCircuit(g, 1.0, 1.0)
    assert circuit.resolved_method == "cg"
    big = circuit.solve(v)
    assert (big.iterations == 0).all()
    np.testing.assert_allclose(
        big.word_node_voltage, reference.word_node_voltage, rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(big.bit_node_voltage, reference.bit_node_voltage, rtol=0, atol=1e-12)
    one = circuit.solve(v[:1])  # the nested factors exist now: reused for one input
    assert one.iterations[0] == 0
    np.testing.assert_allclose(one.word_node_voltage[0], reference.word_node_voltage[0], atol=1e-12)
    monkeypatch.setattr(transfer, "available_memory", lambda: 100_000)
    tight = CrossbarCircuit(g, 1.0, 1.0).solve(v)
    assert (tight.iterations > 0).all()
