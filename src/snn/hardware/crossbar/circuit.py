r"""Exact nodal analysis of a passive m x n memristor crossbar with interconnect resistance.

Topology (badcrossbar's convention, the one of ``shared/conformance/crossbar_qucs``)
-------------------------------------------------------------------------------------
* Word lines are rows ``i = 0..m-1``, bit lines are columns ``j = 0..n-1``. The device of
  conductance :math:`G_{ij}` (S) joins word-line node :math:`(i, j)` (voltage :math:`U_{ij}`) to
  bit-line node :math:`(i, j)` (voltage :math:`W_{ij}`).
* The input voltage :math:`V_i` (V) drives the left end of word line ``i`` through one word-line
  segment; neighbouring word-line nodes are joined by segments of resistance ``r_word`` (ohm),
  conductance :math:`g_w = 1/r_\mathrm{word}`.
* Each bit line is grounded at its bottom end (below row ``m-1``) through one bit-line segment;
  neighbouring bit-line nodes are joined by segments of ``r_bit`` (ohm),
  :math:`g_b = 1/r_\mathrm{bit}`.
* A conductance of 0 is an open device; a segment resistance of 0 is an ideal wire.

Nodal equations (Kirchhoff's current law, currents in A leaving each node sum to zero), with
:math:`U_{i,-1} = V_i` (the source) and :math:`W_{m,j} = 0` (ground):

.. math::

    g_w (U_{ij} - U_{i,j-1}) + g_w (U_{ij} - U_{i,j+1})\,[j < n-1]
        + G_{ij} (U_{ij} - W_{ij}) = 0

    g_b (W_{ij} - W_{i+1,j}) + g_b (W_{ij} - W_{i-1,j})\,[i > 0]
        + G_{ij} (W_{ij} - U_{ij}) = 0

In block form :math:`\begin{pmatrix} P_w & -D \\ -D & P_b \end{pmatrix}
\begin{pmatrix} U \\ W \end{pmatrix} = \begin{pmatrix} g_w V e_0 \\ 0 \end{pmatrix}` with
:math:`D = \mathrm{diag}(G)`, :math:`P_w = A_w + D` tridiagonal along each word line and
:math:`P_b = A_b + D` tridiagonal along each bit line. The matrix is symmetric positive definite
whenever both segment resistances are positive and finite.

Solvers
-------
* ``"cg"``: the word-line voltages are eliminated exactly, :math:`U = P_w^{-1}(g_w V e_0 + D W)`,
  and the Schur complement :math:`S = P_b - D P_w^{-1} D` (SPD) is solved for :math:`W` by
  conjugate gradient preconditioned with :math:`P_b^{-1}`. Both tridiagonal operators are factored
  once (LAPACK ``dpttrf``) per conductance matrix and applied to a whole batch at once
  (``dpttrs``), so one iteration costs O(m n batch). The preconditioned operator
  :math:`I - P_b^{-1} D P_w^{-1} D` has eigenvalues in (0, 1], close to 1 when the wires conduct
  much better than the devices, hence few iterations.
* ``"direct"``: sparse LU (SuperLU, minimum-degree ordering on :math:`A + A^T`) of the full
  2 m n system, factored once. Exact to rounding; its fill-in makes it slow and memory-hungry
  beyond a few hundred rows (DESIGN.md: 51 s and 4 GB at 1024 x 1024).
* ``"nested"``: nested dissection (:class:`snn.hardware.crossbar.transfer.NestedDissection`):
  every internal node eliminated block by block, no iteration, exact to rounding; the factors of
  every level are kept (about 1.5 GB at 1024 x 1024), so a batch costs one backward pass.
* ``"auto"`` (default): direct up to 64 x 64 devices; beyond, nested for a solve of at least
  :data:`AUTO_NESTED_MIN_BATCH` (16) inputs sharing one row selection when its factors fit in
  the available memory (and for any batch once they exist), CG otherwise.
* Output currents alone (:meth:`CrossbarCircuit.output_current`) go through the exact transfer
  matrix :math:`G^\mathrm{eff}` (:math:`I = V G^\mathrm{eff}`), computed once per conductance
  matrix by nested dissection (:mod:`snn.hardware.crossbar.transfer`); every batch is then one
  matrix product.
* Ideal wires are solved exactly without iteration: ``r_word = 0`` fixes :math:`U_{ij} = V_i` and
  leaves :math:`P_b W = D U` (one tridiagonal solve); ``r_bit = 0`` fixes :math:`W = 0` and leaves
  :math:`P_w U = g_w V e_0`; both zero is the ideal product :math:`I = V G` (:func:`ideal_output`).

Cells
-----
``"0T1R"`` (passive): every device is always connected; a row driven at 0 V still sinks current
from the bit lines (whose nodes sit above ground because of IR drop), which is a sneak path.

``"1T1R"``: every device has an access transistor whose gate is driven by its row's select line.
A read selects exactly the rows whose input is non-zero; their transistors are on and taken as
ideal (0 ohm), so a fully selected read is identical to 0T1R. The transistors of unselected rows
(input exactly 0 V) are off, so their devices are open: those rows carry no current and offer no
sneak path. The output is then linear in the inputs only for a fixed selection pattern; the solver
groups a batch by pattern and factors each pattern once (cached).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal, cast

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import ArrayLike, NDArray
from scipy.linalg.lapack import dpttrf, dpttrs

from snn.hardware.crossbar.transfer import (
    NestedDissection,
    available_memory,
    estimated_peak_bytes,
    fits_in_memory,
    transfer_matrix,
)

__all__ = [
    "CELL_TYPES",
    "SOLVER_METHODS",
    "CrossbarCircuit",
    "CrossbarSolution",
    "ideal_output",
]

CELL_TYPES = ("0T1R", "1T1R")
SOLVER_METHODS = ("auto", "cg", "direct", "nested")
#: ``method="auto"`` uses the sparse direct solver up to this many devices (m n)...
DIRECT_MAX_DEVICES = 64 * 64
#: ...and beyond, nested dissection for a solve of at least this many inputs sharing one row
#: selection, when its factors fit in memory (and for any batch once they exist): measured
#: here, a first call (factorization included) breaks even with CG at 16 inputs from 96 x 96 to
#: 512 x 512, and is 1.7-4.3x faster at 64.
AUTO_NESTED_MIN_BATCH = 16
#: Default CG stopping tolerance on the relative residual ||S W - f|| / ||f|| of each input.
DEFAULT_CG_TOL = 1e-13
#: Number of distinct 1T1R row-selection patterns whose factorizations are kept.
_PATTERN_CACHE_SIZE = 8
#: Inputs per block: CG vectors of ~2^18 doubles (2 MB) stay in cache; larger blocks were slower.
_BLOCK_ELEMENTS = 1 << 18

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class CrossbarSolution:
    """Solved crossbar for a batch of input vectors (all arrays float64, SI units).

    Stored: the node voltages. Currents follow from them and Kirchhoff's current law (the
    cumulative sums below are exact consequences of KCL and better conditioned than differences
    of nearly equal node voltages):

    * ``device_current[b, i, j] = G[i, j] (U - W)[b, i, j]`` (A, word line to bit line);
    * ``word_line_current[b, i, j]``: current (A) in the word-line segment to the left of node
      (i, j), flowing right, ``= sum_{k >= j} device_current[b, i, k]``;
    * ``bit_line_current[b, i, j]``: current (A) in the bit-line segment below node (i, j),
      flowing down, ``= sum_{k <= i} device_current[b, k, j]``;
    * ``output_current[b, j] = bit_line_current[b, m-1, j]`` (A, leaving bit line j to ground).

    ``residual`` is the achieved relative residual of each input's nodal equations (0 for exact
    paths, the Schur-complement residual for CG, whose word-line equations hold to rounding);
    ``iterations`` is the CG iteration count of each input (0 when no iteration ran).
    """

    conductance: FloatArray  # (batch, m, n) S, as seen by each input (1T1R zeroes rows)
    word_node_voltage: FloatArray  # (batch, m, n) V
    bit_node_voltage: FloatArray  # (batch, m, n) V
    residual: FloatArray = field(repr=False)  # (batch,)
    iterations: NDArray[np.int64] = field(repr=False)  # (batch,)

    @functools.cached_property
    def device_current(self) -> FloatArray:
        """Current through each device from word line to bit line (A), shape (batch, m, n)."""
        return self.conductance * (self.word_node_voltage - self.bit_node_voltage)

    @functools.cached_property
    def word_line_current(self) -> FloatArray:
        """Current in the word-line segment left of each node, flowing right (A)."""
        return np.cumsum(self.device_current[:, :, ::-1], axis=2)[:, :, ::-1]

    @functools.cached_property
    def bit_line_current(self) -> FloatArray:
        """Current in the bit-line segment below each node, flowing down (A)."""
        return np.cumsum(self.device_current, axis=1)

    @functools.cached_property
    def output_current(self) -> FloatArray:
        """Current leaving each bit line to ground (A), shape (batch, n)."""
        return self.device_current.sum(axis=1)


def _as_voltages(voltages: ArrayLike, m: int) -> FloatArray:
    """Return ``voltages`` as a finite float64 (batch, m) array or raise ValueError."""
    v = np.asarray(voltages, dtype=np.float64)
    if v.ndim == 1:
        v = v[np.newaxis, :]
    if v.ndim != 2 or v.shape[1] != m:
        raise ValueError(
            f"voltages must have shape (m,) or (batch, m) with m = {m} word lines, "
            f"got shape {np.shape(voltages)}"
        )
    if not np.all(np.isfinite(v)):
        raise ValueError("voltages must be finite, got NaN or infinite values")
    return v


def _as_conductance(conductance: ArrayLike) -> FloatArray:
    """Return ``conductance`` as a validated float64 (m, n) array in S or raise ValueError."""
    g = np.array(conductance, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] == 0 or g.shape[1] == 0:
        raise ValueError(
            f"conductance must be a non-empty 2-D (m, n) array in S, got shape {g.shape}"
        )
    if np.any(np.isnan(g)):
        raise ValueError(f"conductance has {int(np.isnan(g).sum())} NaN entries")
    if np.any(g < 0):
        i, j = np.argwhere(g < 0)[0]
        raise ValueError(
            f"conductance must be >= 0 S (0 = open device), got {g[i, j]} at ({i}, {j})"
        )
    if np.any(np.isinf(g)):
        i, j = np.argwhere(np.isinf(g))[0]
        raise ValueError(
            f"device ({i}, {j}) has zero resistance (infinite conductance); a crossbar device "
            "must have a finite conductance"
        )
    g.setflags(write=False)
    return g


def _as_segment(value: float, name: str) -> float:
    r = float(value)
    if not np.isfinite(r) or r < 0:
        raise ValueError(f"{name} must be a finite resistance >= 0 ohm (0 = ideal wire), got {r}")
    return r


def ideal_output(conductance: ArrayLike, voltages: ArrayLike) -> FloatArray:
    r"""Output currents of ideal wires, :math:`I_j = \sum_i V_i G_{ij}` (A), shape (batch, n).

    ``conductance`` (m, n) in S, ``voltages`` (m,) or (batch, m) in V.
    """
    g = _as_conductance(conductance)
    v = _as_voltages(voltages, g.shape[0])
    return v @ g


class _Factors:
    """Factored tridiagonal operators P_w (row-major) and P_b (column-major) for one G."""

    def __init__(self, g: FloatArray, g_word: float, g_bit: float) -> None:
        m, n = g.shape
        self.g = g
        self.m, self.n = m, n
        self.g_word, self.g_bit = g_word, g_bit
        self.pw: tuple[FloatArray, FloatArray] | None = None
        self.pb: tuple[FloatArray, FloatArray] | None = None
        self.pb_diag: FloatArray | None = None  # (n, m) diagonal of P_b, column-major layout
        if np.isfinite(g_word):
            j = np.arange(n)
            d = (g_word * (1.0 + (j < n - 1)) + g).ravel()  # row-major: node (i, j) -> i n + j
            e = np.where((j < n - 1)[np.newaxis, :], -g_word, 0.0)
            e = np.broadcast_to(e, (m, n)).ravel()[:-1].copy()
            self.pw = self._factor(d, e, "word-line")
        if np.isfinite(g_bit):
            i = np.arange(m)
            d = (g_bit * (1.0 + (i > 0))[:, np.newaxis] + g).T.copy()  # (n, m) column-major
            e = np.where((i < m - 1)[np.newaxis, :], -g_bit, 0.0)
            e = np.broadcast_to(e, (n, m)).ravel()[:-1].copy()
            self.pb_diag = d
            self.pb = self._factor(d.ravel(), e, "bit-line")

    @staticmethod
    def _factor(d: FloatArray, e: FloatArray, name: str) -> tuple[FloatArray, FloatArray]:
        if d.size == 1:  # LAPACK's f2py wrapper rejects the empty off-diagonal of a 1 x 1 system
            return d.copy(), e
        df, ef, info = dpttrf(d, e)
        if info != 0:
            raise ValueError(f"{name} tridiagonal system is not positive definite (info={info})")
        return df, ef

    @staticmethod
    def _trisolve(factor: tuple[FloatArray, FloatArray], rhs: FloatArray) -> FloatArray:
        """Solve the factored tridiagonal system for rhs (k, L) -> (k, L) (rhs may be reused)."""
        k = rhs.shape[0]
        b = rhs.reshape(k, -1)
        if factor[0].size == 1:
            return b / factor[0][0]
        x, info = dpttrs(factor[0], factor[1], b.T, overwrite_b=True)
        if info != 0:
            raise RuntimeError(f"dpttrs failed (info={info})")
        return np.asarray(x.T)

    def solve_word(self, rhs: FloatArray) -> FloatArray:
        """P_w^{-1} rhs for rhs (k, m, n) -> (k, m, n)."""
        if self.pw is None:
            raise RuntimeError("no word-line factor (ideal word lines)")
        return self._trisolve(self.pw, rhs).reshape(rhs.shape[0], self.m, self.n)

    def solve_bit(self, rhs_t: FloatArray) -> FloatArray:
        """P_b^{-1} rhs for rhs in column-major layout (k, n, m) -> (k, n, m)."""
        if self.pb is None:
            raise RuntimeError("no bit-line factor (ideal bit lines)")
        return self._trisolve(self.pb, rhs_t).reshape(rhs_t.shape[0], self.n, self.m)

    def apply_bit(self, w_t: FloatArray) -> FloatArray:
        """P_b w for w in column-major layout (k, n, m)."""
        if self.pb_diag is None:
            raise RuntimeError("no bit-line operator (ideal bit lines)")
        out = self.pb_diag * w_t
        out[:, :, :-1] -= self.g_bit * w_t[:, :, 1:]
        out[:, :, 1:] -= self.g_bit * w_t[:, :, :-1]
        return out


class CrossbarCircuit:
    r"""A passive m x n crossbar with fixed device conductances, solved exactly for any inputs.

    Parameters
    ----------
    conductance:
        (m, n) device conductances in S; 0 is an open device. Negative, NaN and infinite
        (zero-resistance) values are rejected.
    r_word, r_bit:
        Resistance of one word-line / bit-line segment in ohm (>= 0; 0 = ideal wire). The input
        enters word line ``i`` through one segment; each bit line reaches ground through one.
    cell:
        ``"0T1R"`` (passive) or ``"1T1R"`` (rows with input exactly 0 V are deselected, their
        devices open); see the module docstring.
    method:
        ``"cg"`` (Schur-complement PCG, scales to 1024 x 1024), ``"direct"`` (sparse LU),
        ``"nested"`` (nested dissection, exact without iteration, memory-hungry) or
        ``"auto"`` (direct up to :data:`DIRECT_MAX_DEVICES` devices; beyond, nested for solves of
        at least :data:`AUTO_NESTED_MIN_BATCH` inputs with one row selection if its factors fit
        in memory, else CG).
    tol, max_iter:
        CG stopping rule: relative residual of each input at most ``tol``; raise
        :class:`RuntimeError` if not reached in ``max_iter`` iterations.

    Factorizations are made on first use and reused by every later :meth:`solve`.
    """

    def __init__(
        self,
        conductance: ArrayLike,
        r_word: float,
        r_bit: float,
        cell: str = "0T1R",
        *,
        method: Literal["auto", "cg", "direct", "nested"] = "auto",
        tol: float = DEFAULT_CG_TOL,
        max_iter: int = 500,
    ) -> None:
        self.conductance = _as_conductance(conductance)
        self.r_word = _as_segment(r_word, "r_word")
        self.r_bit = _as_segment(r_bit, "r_bit")
        if cell not in CELL_TYPES:
            raise ValueError(f"cell must be one of {CELL_TYPES}, got {cell!r}")
        if method not in SOLVER_METHODS:
            raise ValueError(f"method must be one of {SOLVER_METHODS}, got {method!r}")
        if not (np.isfinite(tol) and 0 < tol < 1):
            raise ValueError(f"tol must be in (0, 1), got {tol}")
        if int(max_iter) < 1:
            raise ValueError(f"max_iter must be >= 1, got {max_iter}")
        self.cell = cell
        self.method = method
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        self._g_word = np.inf if self.r_word == 0 else 1.0 / self.r_word
        self._g_bit = np.inf if self.r_bit == 0 else 1.0 / self.r_bit
        # factorizations by (method, row selection)
        self._cache: OrderedDict[tuple[str, bytes], _Factors | spla.SuperLU | NestedDissection] = (
            OrderedDict()
        )
        self._effective: FloatArray | None = None

    @classmethod
    def from_resistance(
        cls,
        resistance: ArrayLike,
        r_word: float,
        r_bit: float,
        cell: str = "0T1R",
        **kwargs: object,
    ) -> CrossbarCircuit:
        """Build from device resistances in ohm; ``inf`` or ``None`` is an open device."""
        r = np.array(resistance, dtype=np.float64)  # None -> nan
        if np.any(r <= 0):
            raise ValueError(
                f"device resistances must be > 0 ohm (inf or None = open), got min {np.nanmin(r)}"
            )
        with np.errstate(divide="ignore"):
            g = np.where(np.isnan(r) | np.isinf(r), 0.0, 1.0 / r)
        return cls(g, r_word, r_bit, cell, **kwargs)  # type: ignore[arg-type]

    @property
    def shape(self) -> tuple[int, int]:
        """(m word lines, n bit lines)."""
        m, n = self.conductance.shape
        return m, n

    @property
    def resolved_method(self) -> str:
        """Solver actually used: ``"ideal"``, ``"tridiagonal"`` (one ideal wire), ``"cg"``,
        ``"direct"`` or ``"nested"``."""
        if self.r_word == 0 and self.r_bit == 0:
            return "ideal"
        if self.r_word == 0 or self.r_bit == 0:
            return "tridiagonal"
        if self.method == "auto":
            m, n = self.shape
            return "direct" if m * n <= DIRECT_MAX_DEVICES else "cg"
        return self.method

    # ------------------------------------------------------------------ factorizations
    def _method_for(self, key: bytes, count: int) -> str:
        """The solver for ``count`` inputs with row selection ``key`` (see ``method="auto"``)."""
        method = self.resolved_method
        if self.method != "auto" or method != "cg":
            return method
        if ("nested", key) in self._cache or (
            count >= AUTO_NESTED_MIN_BATCH and fits_in_memory(self.shape, keep_factors=True)
        ):
            return "nested"
        return method

    def _factors(
        self, g: FloatArray, key: bytes, method: str
    ) -> _Factors | spla.SuperLU | NestedDissection:
        hit = self._cache.get((method, key))
        if hit is not None:
            self._cache.move_to_end((method, key))
            return hit
        made: _Factors | spla.SuperLU | NestedDissection
        if method == "direct":
            made = spla.splu(self._system_matrix(g), permc_spec="MMD_AT_PLUS_A")
        elif method == "nested":
            made = NestedDissection(g, self._g_word, self._g_bit, keep_factors=True)
        else:
            made = _Factors(g, self._g_word, self._g_bit)
        self._cache[(method, key)] = made
        if len(self._cache) > _PATTERN_CACHE_SIZE:
            self._cache.popitem(last=False)
        return made

    def factorize(self) -> None:
        """Factor the all-rows-connected system now (otherwise done on the first solve)."""
        if self.resolved_method != "ideal":
            m, _ = self.shape
            self._factors(self.conductance, np.ones(m, dtype=bool).tobytes(), self.resolved_method)

    def _system_matrix(self, g: FloatArray) -> sp.csc_matrix:
        """Sparse SPD nodal matrix (2 m n) in S: unknowns U (row-major) then W (row-major)."""
        m, n = g.shape
        gw, gb = self._g_word, self._g_bit
        idx = np.arange(m * n).reshape(m, n)
        diag_u = (gw * (1.0 + (np.arange(n) < n - 1))[np.newaxis, :] + g).ravel()
        diag_w = (gb * (1.0 + (np.arange(m) > 0))[:, np.newaxis] + g).ravel()
        rows = [idx[:, :-1].ravel(), (idx[:-1, :] + m * n).ravel(), idx.ravel()]
        cols = [idx[:, 1:].ravel(), (idx[1:, :] + m * n).ravel(), idx.ravel() + m * n]
        vals = [
            np.full(m * (n - 1), -gw),
            np.full((m - 1) * n, -gb),
            -g.ravel(),
        ]
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        v = np.concatenate(vals)
        full_r = np.concatenate([r, c, np.arange(2 * m * n)])
        full_c = np.concatenate([c, r, np.arange(2 * m * n)])
        full_v = np.concatenate([v, v, diag_u, diag_w])
        return sp.csc_matrix((full_v, (full_r, full_c)), shape=(2 * m * n, 2 * m * n))

    # ------------------------------------------------------------------ solving
    def solve(self, voltages: ArrayLike) -> CrossbarSolution:
        """Solve the nodal equations for inputs ``voltages`` (V), shape (m,) or (batch, m)."""
        m, n = self.shape
        v = _as_voltages(voltages, m)
        batch = v.shape[0]
        if self.cell == "1T1R":
            select = v != 0.0
        else:
            select = np.ones((batch, m), dtype=bool)
        residual = np.zeros(batch)
        iterations = np.zeros(batch, dtype=np.int64)
        patterns, inverse = np.unique(select, axis=0, return_inverse=True)
        g_seen: FloatArray
        if patterns.shape[0] == 1:
            g_only = self._pattern_conductance(patterns[0])
            g_seen = np.broadcast_to(g_only, (batch, m, n))
            key = patterns[0].tobytes()
            method = self._method_for(key, batch)
            if len(self._blocks(np.arange(batch), method)) == 1:  # one solve: its arrays
                u, w, res, its = self._solve_block(g_only, key, v, method)
                return CrossbarSolution(g_seen, u, w, res, its)
        else:
            g_seen = np.empty((batch, m, n))
        u = np.empty((batch, m, n))
        w = np.empty((batch, m, n))
        for p, pattern in enumerate(patterns):
            members = np.flatnonzero(inverse.ravel() == p)
            g = self._pattern_conductance(pattern)
            if patterns.shape[0] > 1:
                g_seen[members] = g
            key = pattern.tobytes()
            method = self._method_for(key, members.size)
            for block in self._blocks(members, method):
                ub, wb, res, its = self._solve_block(g, key, v[block], method)
                u[block], w[block], residual[block], iterations[block] = ub, wb, res, its
        return CrossbarSolution(g_seen, u, w, residual, iterations)

    def _pattern_conductance(self, pattern: NDArray[np.bool_]) -> FloatArray:
        if pattern.all():
            return self.conductance
        return self.conductance * pattern[:, np.newaxis]

    def _blocks(self, members: NDArray[np.intp], method: str) -> list[NDArray[np.intp]]:
        if method == "nested":  # chunks its backward passes itself
            return [members]
        m, n = self.shape
        step = max(1, _BLOCK_ELEMENTS // (m * n))
        return [members[s : s + step] for s in range(0, members.size, step)]

    def _solve_block(
        self, g: FloatArray, key: bytes, v: FloatArray, method: str
    ) -> tuple[FloatArray, FloatArray, FloatArray, NDArray[np.int64]]:
        k = v.shape[0]
        m, n = g.shape
        zeros_res = np.zeros(k)
        zeros_it = np.zeros(k, dtype=np.int64)
        if method == "ideal":
            u = np.broadcast_to(v[:, :, np.newaxis], (k, m, n)).copy()
            return u, np.zeros((k, m, n)), zeros_res, zeros_it
        fac = self._factors(g, key, method)
        if method == "direct":
            fac = cast(spla.SuperLU, fac)
            rhs = np.zeros((2 * m * n, k))
            rhs[np.arange(m) * n, :] = self._g_word * v.T
            x = fac.solve(rhs)
            u = x[: m * n].T.reshape(k, m, n)
            w = x[m * n :].T.reshape(k, m, n)
            return u, w, zeros_res, zeros_it
        if method == "nested":
            u, w = cast(NestedDissection, fac).node_voltages(v)
            return u, w, zeros_res, zeros_it
        fac = cast(_Factors, fac)
        if self.r_word == 0:
            u = np.broadcast_to(v[:, :, np.newaxis], (k, m, n)).copy()
            w_t = fac.solve_bit((g * u).transpose(0, 2, 1).copy())
            return u, w_t.transpose(0, 2, 1).copy(), zeros_res, zeros_it
        b_word = np.zeros((k, m, n))
        b_word[:, :, 0] = self._g_word * v
        if self.r_bit == 0:
            return fac.solve_word(b_word), np.zeros((k, m, n)), zeros_res, zeros_it
        return self._schur_cg(fac, g, b_word)

    def _schur_cg(
        self, fac: _Factors, g: FloatArray, b_word: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, NDArray[np.int64]]:
        r"""Block PCG on :math:`S W = D P_w^{-1} b`, :math:`S = P_b - D P_w^{-1} D`, precond
        :math:`P_b^{-1}`; every input has its own step lengths and stops on its own residual."""
        k = b_word.shape[0]
        g_t = np.ascontiguousarray(g.T)  # (n, m): G in the column-major (bit-line) layout

        def to_t(x: FloatArray) -> FloatArray:
            return x.transpose(0, 2, 1).copy()

        def schur(p_t: FloatArray) -> FloatArray:
            dp = to_t(g_t * p_t)  # D p in row-major layout
            return fac.apply_bit(p_t) - g_t * to_t(fac.solve_word(dp))

        f_t = g_t * to_t(fac.solve_word(b_word.copy()))
        f_norm = np.sqrt(np.einsum("kab,kab->k", f_t, f_t))
        scale = np.where(f_norm > 0, f_norm, 1.0)
        w_t = fac.solve_bit(f_t.copy())  # initial guess: P_b^{-1} f
        r_t = f_t - schur(w_t)
        res = np.sqrt(np.einsum("kab,kab->k", r_t, r_t)) / scale
        its = np.zeros(k, dtype=np.int64)
        active = res > self.tol
        z_t = fac.solve_bit(r_t.copy())
        p_t = z_t.copy()
        rz = np.einsum("kab,kab->k", r_t, z_t)
        it = 0
        while np.any(active):
            if it >= self.max_iter:
                raise RuntimeError(
                    f"CG did not reach tol={self.tol} in max_iter={self.max_iter} iterations "
                    f"(worst relative residual {res.max():.3e}); raise max_iter or use "
                    "method='direct'"
                )
            it += 1
            # slicing instead of fancy indexing while every input is active avoids copies
            idx: slice | NDArray[np.intp] = slice(None) if active.all() else np.flatnonzero(active)
            p_a = p_t[idx]
            q_t = schur(p_a)
            alpha = rz[idx] / np.einsum("kab,kab->k", p_a, q_t)
            w_t[idx] += alpha[:, None, None] * p_a
            r_new = r_t[idx] - alpha[:, None, None] * q_t
            r_t[idx] = r_new
            res[idx] = np.sqrt(np.einsum("kab,kab->k", r_new, r_new)) / scale[idx]
            its[idx] = it
            z_new = fac.solve_bit(r_new.copy())
            rz_new = np.einsum("kab,kab->k", r_new, z_new)
            beta = rz_new / np.where(rz[idx] != 0, rz[idx], 1.0)
            z_new += beta[:, None, None] * p_a
            p_t[idx] = z_new
            rz[idx] = rz_new
            active = res > self.tol
        # true residual of the final iterate (recurrence drift check)
        r_true = f_t - schur(w_t)
        res = np.sqrt(np.einsum("kab,kab->k", r_true, r_true)) / scale
        w = w_t.transpose(0, 2, 1).copy()
        u = fac.solve_word(b_word + g * w)
        return u, w, res, its

    def output_current(self, voltages: ArrayLike) -> FloatArray:
        """Output currents (A), shape (batch, n), exact: ``V @ G`` for ideal wires, else through
        the transfer matrix :meth:`effective_conductance` (computed on the first call, then one
        matrix product per batch). A 1T1R read that deselects rows is solved with :meth:`solve`
        (its output is linear only for a fixed selection), and so is every batch of an array
        whose transfer matrix would not fit in the available memory
        (:func:`~snn.hardware.crossbar.transfer.fits_in_memory`)."""
        m, _ = self.shape
        v = _as_voltages(voltages, m)
        if self.resolved_method == "ideal":
            return v @ self.conductance
        if not self._transfer_fits():  # too large for the transfer matrix: solve this batch
            return self.solve(v).output_current
        if self.cell == "0T1R" or np.all(v != 0.0):
            return v @ self._transfer()
        out = np.empty((v.shape[0], self.shape[1]))
        full = np.all(v != 0.0, axis=1)
        if full.any():
            out[full] = v[full] @ self._transfer()
        if not full.all():
            out[~full] = self.solve(v[~full]).output_current
        return out

    def effective_conductance(self) -> FloatArray:
        r"""The (m, n) matrix :math:`G^\mathrm{eff}` with exact outputs :math:`I = V G^\mathrm{eff}`
        (S), including IR drop.

        With resistive word and bit lines it is computed directly, without iteration, by nested
        dissection of the array (:mod:`snn.hardware.crossbar.transfer`: exact to rounding,
        :math:`O((mn)^{3/2})` flops, a few seconds at 1024 x 1024); with one ideal wire, from one
        tridiagonal solve per word line. Only for 0T1R (a 1T1R read deselects rows with 0 V
        input, so its output is not linear in the inputs); cached.
        """
        if self.cell != "0T1R":
            raise ValueError(
                "effective_conductance is defined for cell='0T1R' only: a 1T1R read deselects "
                "rows with 0 V input, so its output is not linear in the inputs"
            )
        if not self._transfer_fits():
            m, n = self.shape
            need = estimated_peak_bytes((m, n), keep_factors=False) / 2**30
            raise MemoryError(
                f"effective_conductance of a {m} x {n} array needs about {need:.1f} GiB, more "
                f"than the {(available_memory() or 0) / 2**30:.1f} GiB available; output_current "
                "and solve still work (they solve each batch instead)"
            )
        return self._transfer()

    def _transfer_fits(self) -> bool:
        """Whether the transfer matrix is cached, cheap, or fits in the available memory."""
        if self._effective is not None or self.r_word == 0 or self.r_bit == 0:
            return True
        m, _ = self.shape
        if ("nested", np.ones(m, dtype=bool).tobytes()) in self._cache:
            return True
        return fits_in_memory(self.shape, keep_factors=False)

    def _transfer(self) -> FloatArray:
        """Transfer matrix of the all-rows-connected array (cached, read-only)."""
        if self._effective is None:
            m, n = self.shape
            if self.resolved_method == "ideal":
                eff = self.conductance.copy()
            elif self.r_word > 0 and self.r_bit > 0:
                factored = self._cache.get(("nested", np.ones(m, dtype=bool).tobytes()))
                if isinstance(factored, NestedDissection):  # method="nested" already factored
                    eff = factored.transfer().copy()
                else:
                    eff = transfer_matrix(self.conductance, self._g_word, self._g_bit)
            else:
                eff = np.empty((m, n))
                key = np.ones(m, dtype=bool).tobytes()
                method = self.resolved_method
                for block in self._blocks(np.arange(m), method):
                    u, w, _, _ = self._solve_block(self.conductance, key, np.eye(m)[block], method)
                    eff[block] = np.einsum("kij,ij->kj", u - w, self.conductance)
            eff.setflags(write=False)
            self._effective = eff
        return self._effective
