"""Weight mapping, converters and tiling of snn.hardware.crossbar.mapping against exact products."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snn.hardware.crossbar.devices import ConductanceRange, DeviceModel, Drift
from snn.hardware.crossbar.mapping import (
    DEFAULT_RELATIVE_ERROR,
    BitSlicedMapping,
    CrossbarLayer,
    DifferentialMapping,
    OffsetMapping,
    Quantiser,
    circuit_solver,
    ideal_solver,
)

IDEAL = Quantiser(None)


def _data(n_in: int, n_out: int, batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_in, n_out)), rng.standard_normal((batch, n_in))


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("mapping", [DifferentialMapping(), OffsetMapping()])
def test_mappings_reproduce_weights_with_ideal_devices(
    mapping: DifferentialMapping | OffsetMapping,
) -> None:
    w, x = _data(40, 30, 8)
    layer = CrossbarLayer(w, mapping=mapping, dac=IDEAL, adc=IDEAL)
    assert _rel(layer.forward(x), x @ w) < 1e-12
    # the conductances themselves encode W exactly
    for arr in layer.physical_arrays:
        assert np.all(arr.target >= layer.device.g_min - 1e-18)
        assert np.all(arr.target <= layer.device.g_max + 1e-18)
    if isinstance(mapping, DifferentialMapping):
        pos, neg = layer.physical_arrays
        np.testing.assert_allclose(
            (pos.target - neg.target) * layer.planes[0].weight, w, rtol=0, atol=1e-12
        )
    else:
        (arr,) = layer.physical_arrays
        decoded = (arr.target[:, :-1] - arr.target[:, -1:]) * layer.planes[0].weight
        np.testing.assert_allclose(decoded, w, rtol=0, atol=1e-12)


def test_bit_slicing_recombination_exact() -> None:
    mapping = BitSlicedMapping(n_slices=3, bits_per_slice=2)
    levels = 2**6 - 1
    rng = np.random.default_rng(1)
    w = rng.integers(-levels, levels + 1, size=(20, 10)) * (0.5 / levels)
    w[0, 0] = 0.5  # sets w_max so the grid is exactly k * 0.5 / 63
    _, x = _data(20, 10, 5)
    device = DeviceModel(ConductanceRange(1e-6, 10e-6, n_levels=4))
    layer = CrossbarLayer(w, device=device, mapping=mapping, dac=IDEAL, adc=IDEAL)
    assert len(layer.physical_arrays) == 2 * 3
    assert _rel(layer.forward(x), x @ w) < 1e-12
    # arbitrary weights: reproduces the 6-bit quantised matrix, within half a weight LSB of W
    w2, _ = _data(20, 10, 1, seed=2)
    layer2 = CrossbarLayer(w2, mapping=mapping, dac=IDEAL, adc=IDEAL)
    wq = mapping.quantised_weights(w2)
    assert _rel(layer2.forward(x), x @ wq) < 1e-12
    assert np.max(np.abs(wq - w2)) <= 0.5 * np.max(np.abs(w2)) / levels + 1e-15


@pytest.mark.parametrize("mapping", [DifferentialMapping(), OffsetMapping(), BitSlicedMapping()])
def test_tiling_equals_full_product(
    mapping: DifferentialMapping | OffsetMapping | BitSlicedMapping,
) -> None:
    w, x = _data(150, 100, 6)
    if isinstance(mapping, BitSlicedMapping):
        w = mapping.quantised_weights(w)
    layer = CrossbarLayer(w, mapping=mapping, dac=IDEAL, adc=IDEAL, tile_rows=64, tile_cols=48)
    assert _rel(layer.forward(x), x @ w) < 1e-12
    col_tiles = -(-100 // layer.weight_cols_per_tile)
    assert len(layer.groups) == 3 * col_tiles * len(layer.planes)
    for arr in layer.physical_arrays:
        assert arr.state.g.shape[0] <= 64 and arr.state.g.shape[1] <= 48


@settings(max_examples=60, deadline=None)
@given(
    bits=st.integers(2, 12),
    signed=st.booleans(),
    fs=st.floats(1e-6, 1e3),
    seed=st.integers(0, 2**16),
)
def test_quantiser_error_within_half_lsb(bits: int, signed: bool, fs: float, seed: int) -> None:
    q = Quantiser(bits, full_scale=fs, signed=signed)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-fs if signed else 0.0, fs, 200)
    err = np.abs(q.quantise(x) - x)
    assert np.all(err <= 0.5 * q.lsb * fs * (1 + 1e-12))
    # outside the range it clips to full scale
    assert q.quantise(np.array([10 * fs]))[0] == pytest.approx(fs, rel=1e-12)


def test_quantiser_levels_exact() -> None:
    q = Quantiser(3, full_scale=1.0, signed=True)
    out = np.unique(q.quantise(np.linspace(-2, 2, 10001)))
    np.testing.assert_allclose(out, np.arange(-3, 4) / 3, atol=1e-15)
    u = Quantiser(2, full_scale=1.0, signed=False)
    np.testing.assert_allclose(np.unique(u.quantise(np.linspace(0, 1, 1001))), np.arange(4) / 3)
    assert q.quantise(np.array([0.0]))[0] == 0.0


@pytest.mark.parametrize("bits", [0, -3, 1, 2.5])
def test_adc_bad_bits_raise(bits: float) -> None:
    with pytest.raises(ValueError, match="bits"):
        Quantiser(bits)  # type: ignore[arg-type]


def test_adc_bad_full_scale_raises() -> None:
    with pytest.raises(ValueError, match="full_scale"):
        Quantiser(8, full_scale=0.0)


def test_dac_error_bound_with_ideal_adc() -> None:
    w, x = _data(64, 16, 10)
    layer = CrossbarLayer(w, dac=Quantiser(6), adc=IDEAL)
    x_fs = np.max(np.abs(x), axis=1, keepdims=True)
    bound = 0.5 * layer.dac.lsb * x_fs * np.abs(w).sum(axis=0)[None, :]
    assert np.all(np.abs(layer.forward(x) - x @ w) <= bound * (1 + 1e-9))


def test_adc_error_bound_with_ideal_dac() -> None:
    w, x = _data(64, 16, 10)
    layer = CrossbarLayer(w, dac=IDEAL, adc=Quantiser(8))
    (group,) = layer.groups
    # half an ADC LSB of current, converted back to weight units per input scale
    x_fs = np.max(np.abs(x), axis=1, keepdims=True)
    bound = 0.5 * layer.adc.lsb * group.adc_full_scale * layer.planes[0].weight * x_fs / 0.2
    assert np.all(np.abs(layer.forward(x) - x @ w) <= bound * (1 + 1e-9))


def test_default_error_is_the_documented_one() -> None:
    w, x = _data(256, 128, 64, seed=0)
    err = CrossbarLayer(w).relative_error(x)
    assert 0.095 < err < 0.105
    assert abs(err - DEFAULT_RELATIVE_ERROR) < 0.005


def test_seeded_reproducibility_with_noisy_devices() -> None:
    w, x = _data(32, 8, 4)
    a = CrossbarLayer(w, device=DeviceModel.pcm(), seed=3)
    b = CrossbarLayer(w, device=DeviceModel.pcm(), seed=3)
    c = CrossbarLayer(w, device=DeviceModel.pcm(), seed=4)
    np.testing.assert_array_equal(a.forward(x, 3600.0), b.forward(x, 3600.0))
    np.testing.assert_array_equal(a.forward(x, 60.0, rng=1), b.forward(x, 60.0, rng=1))
    assert not np.array_equal(a.forward(x, 60.0, rng=1), c.forward(x, 60.0, rng=1))
    assert not np.array_equal(a.physical_arrays[0].state.g, c.physical_arrays[0].state.g)
    # read noise is redrawn: two reads of the same layer differ
    assert not np.array_equal(a.forward(x, 60.0), a.forward(x, 60.0))


def test_global_drift_compensation_undoes_uniform_drift() -> None:
    w, x = _data(32, 8, 4)
    dev = DeviceModel(ConductanceRange(0.0, 10e-6), drift=Drift(nu_mean=0.06))
    plain = CrossbarLayer(w, device=dev, dac=IDEAL, adc=IDEAL)
    comp = CrossbarLayer(w, device=dev, dac=IDEAL, adc=IDEAL, drift_compensation=True)
    t = 3.15e7
    np.testing.assert_allclose(plain.forward(x, t), (x @ w) * (t / 20) ** -0.06, rtol=1e-12)
    np.testing.assert_allclose(comp.forward(x, t), x @ w, rtol=1e-12)
    assert comp.drift_scale(t) == pytest.approx((t / 20) ** 0.06, rel=1e-12)


def test_injected_solver_is_used() -> None:
    w, x = _data(8, 4, 2)
    calls = []

    def half(g: np.ndarray, v: np.ndarray) -> np.ndarray:
        calls.append(g.shape)
        return 0.5 * ideal_solver(g, v)

    layer = CrossbarLayer(w, solver=half, dac=IDEAL, adc=IDEAL)
    np.testing.assert_allclose(layer.forward(x), 0.5 * (x @ w), rtol=1e-12)
    assert calls == [(8, 4), (8, 4)]
    with pytest.raises(ValueError, match="either solver or r_word"):
        CrossbarLayer(w, solver=half, r_word=1.0)


def test_circuit_solver_with_wires() -> None:
    pytest.importorskip("snn.hardware.crossbar.circuit")
    w, x = _data(16, 8, 3)
    tiny = CrossbarLayer(w, dac=IDEAL, adc=IDEAL, r_word=1e-9, r_bit=1e-9)
    assert _rel(tiny.forward(x), x @ w) < 1e-6
    wires = CrossbarLayer(w, dac=IDEAL, adc=IDEAL, r_word=10.0, r_bit=10.0)
    assert wires.relative_error(x) > 1e-4
    with pytest.raises(ValueError, match="r_word"):
        circuit_solver(-1.0, 0.0)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: CrossbarLayer(np.ones(4)), "weights must be"),
        (lambda: CrossbarLayer(np.full((2, 2), np.nan)), "finite"),
        (lambda: CrossbarLayer(np.ones((2, 2)), tile_rows=0), "tile_rows"),
        (lambda: CrossbarLayer(np.ones((2, 2)), mapping=OffsetMapping(), tile_cols=1), "reference"),
        (lambda: CrossbarLayer(np.ones((2, 2)), v_read=0.0), "v_read"),
        (lambda: CrossbarLayer(np.ones((2, 2))).forward(np.ones((3, 5))), "n_in = 2"),
        (lambda: CrossbarLayer(np.ones((2, 2))).forward(np.array([1.0, np.nan])), "finite"),
        (
            lambda: CrossbarLayer(np.ones((2, 2)), dac=Quantiser(8, signed=False)).forward(
                np.array([-1.0, 1.0])
            ),
            "unsigned DAC",
        ),
        (lambda: BitSlicedMapping(n_slices=0), "n_slices"),
        (lambda: CrossbarLayer(np.ones((2, 2)), mapping="diff"), "mapping must be"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_raises(make: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()  # type: ignore[operator]
