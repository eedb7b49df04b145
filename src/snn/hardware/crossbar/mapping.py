r"""Weight mapping: a real matrix onto conductances, tiles, DACs and ADCs, and back.

A :class:`CrossbarLayer` realises :math:`y = x W` (``W`` of shape ``(n_in, n_out)``, inputs on the
word lines, outputs on the bit lines) through this signal chain, per input vector:

.. code-block:: text

    x --DAC--> V = v_read * Q_dac(x / x_fs)          (word-line voltages, V)
      per tile (tile_rows x tile_cols) and per mapping plane:
        I = solver(G_read, V_tile)                   (bit-line currents, A; ideal: V @ G)
        I_diff = I_pos - I_neg  or  I - I_ref        (analog subtraction)
        D = I_fs * Q_adc(I_diff / I_fs)               (ADC, one conversion per logical column)
      y += plane_weight * D * x_fs / v_read           (digital shift-add / partial sums)

Mappings (``s`` is siemens per weight unit, :math:`w_{max} = \max|W|`):

* :class:`DifferentialMapping`: :math:`G^\pm = g_{min} + s\max(\pm w, 0)`,
  :math:`s = (g_{max}-g_{min})/w_{max}`; :math:`I^+ - I^- = s\,V W`.
* :class:`OffsetMapping`: one array :math:`G = g_{mid} + s w`,
  :math:`s = (g_{max}-g_{min})/(2 w_{max})`, plus one reference column of :math:`g_{mid}` per
  tile (so a tile holds ``tile_cols - 1`` weight columns); :math:`I - I_{ref} = s\,V W`.
* :class:`BitSlicedMapping`: :math:`|w|` quantised to :math:`q \in [0, 2^{kb}-1]` over ``k``
  slices of ``b`` bits, digit :math:`d_j = \lfloor q / 2^{bj} \rfloor \bmod 2^b` on a differential
  pair of slice ``j``; recombined digitally as :math:`\sum_j 2^{bj} d_j`.

Quantisers (:class:`Quantiser`) are uniform and mid-tread (zero is a code), with ``bits`` bits:
signed ones have step :math:`\Delta = 1/(2^{bits-1}-1)` on [-1, 1], unsigned ones
:math:`\Delta = 1/(2^{bits}-1)` on [0, 1] (inputs are divided by the full scale first);
values beyond full scale clip. Inside the range the error is at most :math:`\Delta/2` of full scale.

Defaults and what they cost (pinned by ``tests/test_crossbar_mapping.py``): ideal devices on
0.1-10 uS, differential pairs, 8-bit signed DAC scaled to each input vector's max |x|, 8-bit signed
ADC whose full scale is its tile's worst-case column current
(:math:`v_{read}\max_j\sum_i |G^+_{ij}-G^-_{ij}|`, so it never clips), 256 x 256 tiles,
ideal wires. For a 256 x 128 matrix and a batch of 64 inputs
with i.i.d. standard normal entries (seed 0) this gives a **relative output error of about 10 %**
(measured 10.2 %, 9.8-10.3 % over seeds 0-4; :data:`DEFAULT_RELATIVE_ERROR`), dominated by the
ADC: the worst-case full scale is about 11x the largest current these inputs produce, wasting about
3.5 of its 8 bits (DAC alone: 0.7 %; with the ADC full scale set to the largest observed current:
1.1 %). Set ``adc=Quantiser(bits, full_scale=...)`` (amperes) from a calibration
run to win them back; errors from devices and wires come on top.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from snn.hardware.crossbar.devices import (
    DeviceModel,
    FloatArray,
    ProgrammedConductance,
    RandomLike,
    as_generator,
)

Solver = Callable[[FloatArray, FloatArray], FloatArray]
"""``solver(conductance (m, n) S, voltages (batch, m) V) -> output currents (batch, n) A``."""

DEFAULT_RELATIVE_ERROR = 0.10
"""Measured relative output error of a default :class:`CrossbarLayer` (see module docstring)."""


def ideal_solver(conductance: FloatArray, voltages: FloatArray) -> FloatArray:
    r"""Ideal wires: :math:`I_j = \sum_i V_i G_{ij}` (A)."""
    return voltages @ conductance


def circuit_solver(r_word: float, r_bit: float, cell: str = "0T1R") -> Solver:
    """A solver with word-line and bit-line segment resistances (ohm) through
    :class:`snn.hardware.crossbar.circuit.CrossbarCircuit` (exact nodal analysis).

    The circuit is rebuilt only when the conductance array object changes, so noiseless reads
    reuse its exact transfer matrix (one matrix product per read).
    """
    for name, value in (("r_word", r_word), ("r_bit", r_bit)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite resistance >= 0 ohm, got {value!r}")
    from snn.hardware.crossbar.circuit import CrossbarCircuit  # the solver helper's module

    cache: dict[str, object] = {}

    def solve(conductance: FloatArray, voltages: FloatArray) -> FloatArray:
        if cache.get("g") is not conductance:
            cache["g"] = conductance
            cache["circuit"] = CrossbarCircuit(conductance, r_word=r_word, r_bit=r_bit, cell=cell)
        circuit = cache["circuit"]
        out = circuit.output_current(voltages)  # type: ignore[attr-defined]
        return np.asarray(out, dtype=np.float64).reshape(voltages.shape[0], conductance.shape[1])

    return solve


@dataclass(frozen=True)
class Quantiser:
    r"""Uniform mid-tread quantiser for a DAC or an ADC.

    .. math:: Q(u) = \Delta\,\mathrm{round}\big(\mathrm{clip}(u, u_{lo}, 1) / \Delta\big)

    on the normalised value :math:`u = x / x_{fs}`, with :math:`u_{lo} = -1`,
    :math:`\Delta = 1/(2^{bits-1}-1)` if ``signed`` and :math:`u_{lo} = 0`,
    :math:`\Delta = 1/(2^{bits}-1)` otherwise. ``bits=None`` is an ideal converter (no rounding,
    no clipping).

    Parameters
    ----------
    bits
        Resolution (>= 2 if signed, >= 1 if unsigned), or ``None`` for ideal.
    full_scale
        :math:`x_{fs}` in the converter's input unit (DAC: the layer's input unit; ADC: amperes),
        or ``None`` for the layer's automatic choice (DAC: per-vector max |x|; ADC: worst case
        per tile column).
    signed
        Bipolar range [-fs, fs] or unipolar [0, fs].
    """

    bits: int | None = 8
    full_scale: float | None = None
    signed: bool = True

    def __post_init__(self) -> None:
        if self.bits is not None:
            if isinstance(self.bits, bool) or int(self.bits) != self.bits:
                raise ValueError(f"bits must be an integer or None (ideal), got {self.bits!r}")
            min_bits = 2 if self.signed else 1
            if self.bits < min_bits:
                raise ValueError(
                    f"bits must be >= {min_bits} for a {'signed' if self.signed else 'unsigned'}"
                    f" converter (or None for an ideal one), got {self.bits!r}"
                )
            if self.bits > 52:
                raise ValueError(f"bits must be <= 52 (float64 mantissa), got {self.bits!r}")
        if self.full_scale is not None and not (
            math.isfinite(self.full_scale) and self.full_scale > 0
        ):
            raise ValueError(f"full_scale must be > 0 or None (automatic), got {self.full_scale!r}")

    @property
    def lsb(self) -> float:
        """Step of the normalised quantiser (fraction of full scale); 0 if ideal."""
        if self.bits is None:
            return 0.0
        return 1.0 / (2 ** (self.bits - 1) - 1) if self.signed else 1.0 / (2**self.bits - 1)

    def quantise_normalised(self, u: ArrayLike) -> FloatArray:
        """Quantise values already divided by the full scale."""
        arr = np.asarray(u, dtype=np.float64)
        if self.bits is None:
            return arr
        arr = np.clip(arr, -1.0 if self.signed else 0.0, 1.0)
        return np.round(arr / self.lsb) * self.lsb

    def quantise(self, x: ArrayLike, full_scale: float | FloatArray | None = None) -> FloatArray:
        """Quantise ``x`` with ``full_scale`` (argument, else the field; one must be given)."""
        fs = self.full_scale if full_scale is None else full_scale
        if fs is None:
            raise ValueError("quantise needs a full scale: set Quantiser.full_scale or pass one")
        return self.quantise_normalised(np.asarray(x, dtype=np.float64) / fs) * fs


@dataclass(frozen=True)
class Plane:
    """One mapped copy of the matrix: target conductances and its digital recombination weight.

    ``negative`` is the second array of a differential pair, or ``None`` for offset mapping,
    whose ``reference`` (one conductance, S) is the reference column value. ``weight`` converts
    a difference current per volt (S) back to weight units.
    """

    positive: FloatArray
    negative: FloatArray | None
    reference: float | None
    weight: float


def _w_max(weights: FloatArray) -> float:
    w_max = float(np.max(np.abs(weights))) if weights.size else 0.0
    return w_max if w_max > 0 else 1.0


@dataclass(frozen=True)
class DifferentialMapping:
    """Differential pair :math:`G^+ - G^-` per weight (two arrays); see module docstring."""

    def encode(self, weights: FloatArray, device: DeviceModel) -> list[Plane]:
        """Target conductances (S) of each plane."""
        s = (device.g_max - device.g_min) / _w_max(weights)
        pos = device.g_min + s * np.maximum(weights, 0.0)
        neg = device.g_min + s * np.maximum(-weights, 0.0)
        return [Plane(pos, neg, None, 1.0 / s)]


@dataclass(frozen=True)
class OffsetMapping:
    """One array with :math:`G = g_{mid} + s w` and a reference column per tile."""

    def encode(self, weights: FloatArray, device: DeviceModel) -> list[Plane]:
        """Target conductances (S) of the single plane and its reference value."""
        g_mid = 0.5 * (device.g_min + device.g_max)
        s = (device.g_max - device.g_min) / (2.0 * _w_max(weights))
        return [Plane(g_mid + s * weights, None, g_mid, 1.0 / s)]


@dataclass(frozen=True)
class BitSlicedMapping:
    """``n_slices`` differential pairs of ``bits_per_slice`` bits each (sign-magnitude).

    Weights are first quantised to ``n_slices * bits_per_slice`` magnitude bits; a device with
    finite levels should have ``2**bits_per_slice`` of them (or be continuous).
    """

    n_slices: int = 2
    bits_per_slice: int = 4

    def __post_init__(self) -> None:
        for name, value in (("n_slices", self.n_slices), ("bits_per_slice", self.bits_per_slice)):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.n_slices * self.bits_per_slice > 52:
            raise ValueError("n_slices * bits_per_slice must be <= 52 (float64 mantissa)")

    @property
    def total_bits(self) -> int:
        """Magnitude bits of the quantised weight."""
        return self.n_slices * self.bits_per_slice

    def quantised_weights(self, weights: FloatArray) -> FloatArray:
        """The weight matrix as the slices represent it (what ideal devices reproduce)."""
        w_max = _w_max(weights)
        levels = 2**self.total_bits - 1
        return np.sign(weights) * np.round(np.abs(weights) / w_max * levels) * w_max / levels

    def encode(self, weights: FloatArray, device: DeviceModel) -> list[Plane]:
        """Target conductances (S) of each slice, least significant first."""
        w_max = _w_max(weights)
        levels = 2**self.total_bits - 1
        q = np.round(np.abs(weights) / w_max * levels).astype(np.int64)
        base = 2**self.bits_per_slice
        step = (device.g_max - device.g_min) / (base - 1)
        positive = weights > 0
        planes = []
        for j in range(self.n_slices):
            digit = (q // base**j) % base
            g_on = device.g_min + step * digit
            pos = np.where(positive, g_on, device.g_min)
            neg = np.where(positive, device.g_min, g_on)
            planes.append(Plane(pos, neg, None, float(base**j) * w_max / levels / step))
        return planes


Mapping = DifferentialMapping | OffsetMapping | BitSlicedMapping


@dataclass(frozen=True)
class PhysicalArray:
    """One programmed crossbar: where it sits in the matrix and what it holds.

    ``rows``/``cols`` index the weight matrix; ``role`` is ``"positive"``/``"negative"`` (a
    differential pair) or ``"offset"`` (last column is the reference column).
    """

    plane: int
    rows: slice
    cols: slice
    role: Literal["positive", "negative", "offset"]
    target: FloatArray
    state: ProgrammedConductance


@dataclass(frozen=True)
class _TileGroup:
    """The arrays that produce one plane's difference currents for one tile."""

    plane: int
    rows: slice
    cols: slice
    arrays: tuple[PhysicalArray, ...]
    adc_full_scale: float


class CrossbarLayer:
    r"""A weight matrix programmed onto tiled crossbars: ``forward(x) ~= x @ weights``.

    Parameters
    ----------
    weights
        ``(n_in, n_out)`` real matrix (finite).
    device
        :class:`~snn.hardware.crossbar.devices.DeviceModel` (default ideal, 0.1-10 uS).
    mapping
        :class:`DifferentialMapping` (default), :class:`OffsetMapping` or
        :class:`BitSlicedMapping`.
    dac, adc
        :class:`Quantiser` settings (default 8-bit signed, automatic full scale; see module
        docstring). ``bits=None`` makes a converter ideal.
    tile_rows, tile_cols
        Physical array size (default 256 x 256). Partial sums of row tiles are added digitally
        after each tile's ADC.
    v_read
        DAC full-scale read voltage in volts (default 0.2 V, a typical small-signal read voltage
        that avoids disturbing the devices; an assumption, not a measured chip value).
    r_word, r_bit, cell
        Wire segment resistances (ohm) and cell type for the default circuit solver; 0 and 0
        (default) use ideal wires.
    solver
        ``solver(G, V) -> I``; overrides ``r_word``/``r_bit`` (give one or the other).
    drift_compensation
        Global drift compensation (Joshi et al. 2020): outputs are scaled by
        :math:`\alpha(t) = \sum|y_{cal}(t_0)| / \sum|y_{cal}(t)|`, measured through the same chain
        with an all-ones calibration input.
    seed
        Seeds programming (and, unless ``forward`` gets its own ``rng``, the read noise).

    Programming happens in the constructor; every ``forward`` re-reads the devices (read noise
    redrawn, drift at time ``t``).
    """

    def __init__(
        self,
        weights: ArrayLike,
        device: DeviceModel | None = None,
        mapping: Mapping | None = None,
        dac: Quantiser | None = None,
        adc: Quantiser | None = None,
        tile_rows: int = 256,
        tile_cols: int = 256,
        v_read: float = 0.2,
        r_word: float = 0.0,
        r_bit: float = 0.0,
        cell: str = "0T1R",
        solver: Solver | None = None,
        drift_compensation: bool = False,
        seed: int = 0,
    ) -> None:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 2 or w.shape[0] == 0 or w.shape[1] == 0:
            raise ValueError(
                f"weights must be a non-empty (n_in, n_out) matrix, got shape {w.shape}"
            )
        if not np.all(np.isfinite(w)):
            raise ValueError("weights must be finite (no NaN or inf)")
        self.device = DeviceModel() if device is None else device
        self.mapping: Mapping = DifferentialMapping() if mapping is None else mapping
        if not isinstance(self.mapping, DifferentialMapping | OffsetMapping | BitSlicedMapping):
            raise ValueError(
                "mapping must be DifferentialMapping, OffsetMapping or BitSlicedMapping, got "
                f"{self.mapping!r}"
            )
        self.dac = Quantiser() if dac is None else dac
        self.adc = Quantiser() if adc is None else adc
        min_cols = 2 if isinstance(self.mapping, OffsetMapping) else 1
        for name, value, low in (("tile_rows", tile_rows, 1), ("tile_cols", tile_cols, min_cols)):
            if isinstance(value, bool) or int(value) != value or value < low:
                raise ValueError(
                    f"{name} must be an integer >= {low}"
                    + (" (offset mapping needs a reference column)" if low == 2 else "")
                    + f", got {value!r}"
                )
        if not (math.isfinite(v_read) and v_read > 0):
            raise ValueError(f"v_read must be > 0 V, got {v_read!r}")
        if solver is not None and (r_word != 0 or r_bit != 0):
            raise ValueError("give either solver or r_word/r_bit (which build the circuit solver)")
        if solver is None:
            solver = (
                ideal_solver if r_word == 0 and r_bit == 0 else circuit_solver(r_word, r_bit, cell)
            )
        self.weights = w
        self.tile_rows = int(tile_rows)
        self.tile_cols = int(tile_cols)
        self.v_read = float(v_read)
        self.r_word = float(r_word)
        self.r_bit = float(r_bit)
        self.cell = cell
        self.solver = solver
        self.seed = int(seed)
        program_seq, read_seq, cal_seq = np.random.SeedSequence(self.seed).spawn(3)
        self._read_rng = np.random.default_rng(read_seq)
        self._cal_seed = cal_seq
        self.planes = self.mapping.encode(w, self.device)
        self.groups = self._program(np.random.default_rng(program_seq))
        self.drift_compensation = bool(drift_compensation)
        self._cal_reference: float | None = None
        if self.drift_compensation:
            self._cal_reference = self._calibration_output(0.0)

    @property
    def n_in(self) -> int:
        """Inputs (word lines of the whole matrix)."""
        return int(self.weights.shape[0])

    @property
    def n_out(self) -> int:
        """Outputs."""
        return int(self.weights.shape[1])

    @property
    def physical_arrays(self) -> list[PhysicalArray]:
        """Every programmed crossbar of the layer."""
        return [a for g in self.groups for a in g.arrays]

    @property
    def weight_cols_per_tile(self) -> int:
        """Weight columns per tile (one fewer with offset mapping's reference column)."""
        return self.tile_cols - (1 if isinstance(self.mapping, OffsetMapping) else 0)

    def _program(self, rng: np.random.Generator) -> list[_TileGroup]:
        groups: list[_TileGroup] = []
        cols_per_tile = self.weight_cols_per_tile
        for p, plane in enumerate(self.planes):
            for r0 in range(0, self.n_in, self.tile_rows):
                rows = slice(r0, min(r0 + self.tile_rows, self.n_in))
                for c0 in range(0, self.n_out, cols_per_tile):
                    cols = slice(c0, min(c0 + cols_per_tile, self.n_out))
                    arrays: list[PhysicalArray] = []
                    if plane.negative is not None:
                        pos_t = plane.positive[rows, cols]
                        neg_t = plane.negative[rows, cols]
                        for role, target in (("positive", pos_t), ("negative", neg_t)):
                            state = self.device.program(target, rng)
                            arrays.append(PhysicalArray(p, rows, cols, role, target, state))  # type: ignore[arg-type]
                        worst = np.abs(pos_t - neg_t).sum(axis=0)
                    else:
                        ref = float(plane.reference if plane.reference is not None else 0.0)
                        block = plane.positive[rows, cols]
                        target = np.concatenate([block, np.full((block.shape[0], 1), ref)], axis=1)
                        state = self.device.program(target, rng)
                        arrays.append(PhysicalArray(p, rows, cols, "offset", target, state))
                        worst = np.abs(block - ref).sum(axis=0)
                    if self.adc.full_scale is not None:
                        fs = self.adc.full_scale
                    else:
                        fs = self.v_read * float(worst.max())
                        if fs <= 0:
                            fs = self.v_read * (self.device.g_max - self.device.g_min)
                    groups.append(_TileGroup(p, rows, cols, tuple(arrays), fs))
        return groups

    def _check_input(self, x: ArrayLike) -> FloatArray:
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.n_in:
            raise ValueError(
                f"x must have shape (n_in,) or (batch, n_in) with n_in = {self.n_in}, got "
                f"{np.shape(x)}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError("x must be finite (no NaN or inf)")
        if not self.dac.signed and np.any(arr < 0):
            raise ValueError("an unsigned DAC (signed=False) needs inputs >= 0")
        return arr

    def input_voltages(self, x: ArrayLike) -> tuple[FloatArray, FloatArray]:
        r"""DAC output: word-line voltages ``(batch, n_in)`` (V) and the input scale
        :math:`x_{fs}` per vector ``(batch, 1)``."""
        arr = self._check_input(x)
        if self.dac.full_scale is not None:
            x_fs = np.full((arr.shape[0], 1), self.dac.full_scale)
        else:
            x_fs = np.max(np.abs(arr), axis=1, keepdims=True)
            x_fs[x_fs == 0] = 1.0
        return self.v_read * self.dac.quantise_normalised(arr / x_fs), x_fs

    def _chain(self, x: FloatArray, t: float, rng: np.random.Generator) -> FloatArray:
        volts, x_fs = self.input_voltages(x)
        y = np.zeros((volts.shape[0], self.n_out))
        for group in self.groups:
            v_tile = volts[:, group.rows]
            currents = []
            for arr in group.arrays:
                g_read = self.device.read(arr.state, t, rng)
                currents.append(self.solver(g_read, v_tile))
            if len(currents) == 2:
                diff = currents[0] - currents[1]
            else:
                diff = currents[0][:, :-1] - currents[0][:, -1:]
            digital = self.adc.quantise(diff, group.adc_full_scale)
            y[:, group.cols] += self.planes[group.plane].weight * digital
        return y * x_fs / self.v_read

    def _calibration_output(self, t: float) -> float:
        rng = np.random.default_rng(self._cal_seed)
        return float(np.abs(self._chain(np.ones((1, self.n_in)), t, rng)).sum())

    def drift_scale(self, t: float) -> float:
        """Global drift compensation factor alpha(t) (1.0 when compensation is off)."""
        if not self.drift_compensation or self._cal_reference is None:
            return 1.0
        measured = self._calibration_output(t)
        return self._cal_reference / measured if measured > 0 else 1.0

    def forward(self, x: ArrayLike, t: float = 0.0, rng: RandomLike = None) -> FloatArray:
        """Crossbar output ``(batch, n_out)`` for inputs ``(batch, n_in)`` read ``t`` s after
        programming. ``rng`` seeds the read noise (default: the layer's own stream)."""
        arr = self._check_input(x)
        gen = self._read_rng if rng is None else as_generator(rng)
        return self._chain(arr, t, gen) * self.drift_scale(t)

    __call__ = forward

    def ideal_forward(self, x: ArrayLike) -> FloatArray:
        """Exact product ``x @ weights`` (float64)."""
        return self._check_input(x) @ self.weights

    def relative_error(self, x: ArrayLike, t: float = 0.0, rng: RandomLike = None) -> float:
        r""":math:`\|y - x W\|_F / \|x W\|_F` for one forward pass."""
        ideal = self.ideal_forward(x)
        norm = float(np.linalg.norm(ideal))
        if norm == 0:
            raise ValueError("the ideal output is all zeros; relative error is undefined")
        return float(np.linalg.norm(self.forward(x, t, rng) - ideal)) / norm


__all__ = [
    "DEFAULT_RELATIVE_ERROR",
    "BitSlicedMapping",
    "CrossbarLayer",
    "DifferentialMapping",
    "Mapping",
    "OffsetMapping",
    "PhysicalArray",
    "Plane",
    "Quantiser",
    "Solver",
    "circuit_solver",
    "ideal_solver",
]
