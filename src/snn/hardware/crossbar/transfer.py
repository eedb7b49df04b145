r"""Exact transfer matrix of a resistive crossbar by nested dissection (Kron reduction).

The crossbar of :mod:`snn.hardware.crossbar.circuit` is linear and its only sources are the input
voltages, so its output currents are :math:`I = V G^\mathrm{eff}` with an exact (m, n)
*effective conductance* (transfer) matrix. Column by column it costs m full solves; here it is
computed directly, without iteration, by eliminating every internal node of the circuit.

Method
------
Every wire segment of conductance :math:`g` is split at its midpoint into two halves of
:math:`2g`; the midpoints of the segments that cross the boundary of a rectangular block of the
array are that block's *ports*: ``L`` (the word-line segments entering its rows from the left),
``R`` (leaving them to the right; absent at the array's right edge, where word lines end open),
``T`` (the bit-line segments above its columns; absent in the top row, where bit lines end open)
and ``B`` (below). A block is represented by the Kron reduction (Schur complement) of its nodal
conductance matrix onto its ports (Dörfler & Bullo, IEEE TCAS-I 60(1), 2013): a weighted
Laplacian, exact for any port voltages because internal nodes carry no injected current.

The array is cut recursively into blocks (nested dissection, George, SIAM J. Numer. Anal. 10(2),
1973): a leaf is one cell (word node, bit node, device, four half segments); two neighbouring
blocks merge by summing their port Laplacians on the shared midpoints and eliminating those. A
vertical cut crosses only word lines and a horizontal one only bit lines, so an s x s block has
at most 4 s ports and the whole reduction costs :math:`O((mn)^{3/2})` flops with
:math:`O(mn)` memory per level, dominated by dense Cholesky factorizations and symmetric rank-k
updates at the top levels (LAPACK/BLAS). The last block has ports ``L`` (driven through half a
segment by the sources) and ``B`` (grounded through half a segment), and

.. math::

    G^\mathrm{eff} = 4 g_w g_b \left[(K + \mathrm{diag}(2 g_w \mathbf 1_L, 2 g_b
    \mathbf 1_B))^{-1}\right]_{L, B}.

Accuracy
--------
A Kron reduction of a floating network has non-positive off-diagonal entries computed without
cancellation (:math:`K_{ki} K_{ii}^{-1} K_{ik} \ge 0` entrywise, :math:`K_{ii}` being an
M-matrix), and zero row sums. Each diagonal is therefore recomputed as minus the sum of its row's
off-diagonal entries after every elimination, the device of the GTH algorithm (Grassmann, Taksar
& Heyman, Oper. Res. 33(5), 1985), and small blocks are eliminated node by node with GTH pivots:
device conductances of 1e-7 S keep their relative accuracy next to 1 S wires. Measured: agreement
with sparse LU and with CG to 1e-12 relative at 256 x 256 to 1024 x 1024.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from numba import njit, prange
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

__all__ = ["transfer_matrix"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Merges eliminating at most this many shared ports run node by node (GTH pivots, Numba);
#: larger ones through LAPACK Cholesky and BLAS, where the flops are.
_GTH_MAX_INTERFACE = 64


@dataclass(frozen=True)
class _Blocks:
    """Blocks of the same shape and port layout at one level of the dissection.

    Ports in the order ``L`` (h), ``R`` (h, if ``has_right``), ``T`` (w, if ``has_top``), ``B``
    (w); ``row``/``col`` index the blocks in the level's grid of row and column intervals;
    ``k`` stacks their port Laplacians (count, ports, ports) in S.
    """

    h: int
    w: int
    has_right: bool
    has_top: bool
    row: IntArray
    col: IntArray
    k: FloatArray


@dataclass(frozen=True)
class _Layout:
    """Where the ports of two merging blocks go in the merged matrix (kept ports first, in the
    merged block's port order, then the shared ports that are eliminated)."""

    ix_a: IntArray
    ix_b: IntArray
    n_keep: int
    n_total: int


def _fix_diagonal(k: FloatArray) -> FloatArray:
    """Set each diagonal of a stack of Laplacians to minus its row's off-diagonal sum."""
    idx = np.arange(k.shape[-1])
    k[..., idx, idx] = 0.0
    k[..., idx, idx] = -k.sum(axis=-1)
    return k


def _leaves(g: FloatArray, g_word: float, g_bit: float) -> list[_Blocks]:
    r"""Port Laplacians of the single cells, in closed form.

    A cell's word node U meets its word ports through half segments (2 g_w each), its bit node W
    its bit ports (2 g_b each), and U-W is the device G. Eliminating U and W with
    :math:`s_U = n_w a + G`, :math:`s_W = n_b b + G` and the cancellation-free determinant
    :math:`s_U s_W - G^2 = n_w a n_b b + G (n_w a + n_b b)` couples word ports by
    :math:`-a^2 s_W / \det`, bit ports by :math:`-b^2 s_U/\det` and word to bit ports by
    :math:`-a b G/\det`.
    """
    m, n = g.shape
    a, b = 2.0 * g_word, 2.0 * g_bit
    groups: list[_Blocks] = []
    for has_top in (False, True):
        rows = np.arange(1, m) if has_top else np.zeros(1, dtype=np.intp)
        for has_right in (False, True):
            cols = np.arange(0, n - 1) if has_right else np.full(1, n - 1, dtype=np.intp)
            if rows.size == 0 or cols.size == 0:
                continue
            row, col = (x.ravel() for x in np.meshgrid(rows, cols, indexing="ij"))
            cond = g[row, col]
            n_word, n_bitp = 1 + has_right, 1 + has_top
            s_u, s_w = n_word * a + cond, n_bitp * b + cond
            det = n_word * a * n_bitp * b + cond * (n_word * a + n_bitp * b)
            ports = n_word + n_bitp
            k = np.empty((row.size, ports, ports))
            k[:, :n_word, :n_word] = (-a * a * s_w / det)[:, None, None]
            k[:, n_word:, n_word:] = (-b * b * s_u / det)[:, None, None]
            k[:, :n_word, n_word:] = (-a * b * cond / det)[:, None, None]
            k[:, n_word:, :n_word] = k[:, :n_word, n_word:].transpose(0, 2, 1)
            groups.append(_Blocks(1, 1, has_right, has_top, row, col, _fix_diagonal(k)))
    return groups


def _layout(a: _Blocks, b: _Blocks, horizontal: bool) -> tuple[_Layout, _Blocks]:
    """Port placement for merging ``a`` with its right (``horizontal``) or lower neighbour ``b``,
    and the merged blocks' shape (with empty positions and matrices)."""
    spans: list[tuple[str, int]] = []
    if horizontal:  # a left of b: shared = a.R = b.L (h word ports)
        h, w = a.h, a.w + b.w
        has_right, has_top = b.has_right, a.has_top
        spans = [("La", a.h)]
        spans += [("Rb", b.h)] if has_right else []
        spans += [("Ta", a.w), ("Tb", b.w)] if has_top else []
        spans += [("Ba", a.w), ("Bb", b.w), ("I", a.h)]
    else:  # a above b: shared = a.B = b.T (w bit ports)
        h, w = a.h + b.h, a.w
        has_right, has_top = a.has_right, a.has_top
        spans = [("La", a.h), ("Lb", b.h)]
        spans += [("Ra", a.h), ("Rb", b.h)] if has_right else []
        spans += [("Ta", a.w)] if has_top else []
        spans += [("Bb", b.w), ("I", a.w)]
    at: dict[str, IntArray] = {}
    offset = 0
    for name, size in spans:
        at[name] = np.arange(offset, offset + size)
        offset += size
    n_keep = offset - at["I"].size
    if horizontal:
        parts_a = [at["La"], at["I"]] + ([at["Ta"]] if a.has_top else []) + [at["Ba"]]
        parts_b = [at["I"]] + ([at["Rb"]] if b.has_right else [])
        parts_b += ([at["Tb"]] if b.has_top else []) + [at["Bb"]]
    else:
        parts_a = [at["La"]] + ([at["Ra"]] if a.has_right else [])
        parts_a += ([at["Ta"]] if a.has_top else []) + [at["I"]]
        parts_b = [at["Lb"]] + ([at["Rb"]] if b.has_right else []) + [at["I"], at["Bb"]]
    layout = _Layout(np.concatenate(parts_a), np.concatenate(parts_b), n_keep, offset)
    empty_i = np.empty(0, dtype=np.intp)
    shape = _Blocks(h, w, has_right, has_top, empty_i, empty_i, np.empty((0, n_keep, n_keep)))
    return layout, shape


@njit(cache=True, parallel=True, error_model="numpy")
def _merge_gth(
    k_a: FloatArray,
    k_b: FloatArray,
    ix_a: IntArray,
    ix_b: IntArray,
    n_keep: int,
    n_total: int,
    out: FloatArray,
) -> None:  # pragma: no cover - compiled
    """Assemble each pair of port Laplacians and eliminate the shared ports one by one.

    GTH pivots: the pivot of node q is the sum of its couplings to the nodes not yet eliminated
    (its row sum is zero), so no pivot is a difference of nearly equal numbers.
    """
    for blk in prange(k_a.shape[0]):
        kc = np.zeros((n_total, n_total))
        for i in range(ix_a.size):
            for j in range(ix_a.size):
                kc[ix_a[i], ix_a[j]] += k_a[blk, i, j]
        for i in range(ix_b.size):
            for j in range(ix_b.size):
                kc[ix_b[i], ix_b[j]] += k_b[blk, i, j]
        for q in range(n_total - 1, n_keep - 1, -1):
            pivot = 0.0
            for j in range(q):
                pivot -= kc[q, j]
            for i in range(q):
                f = kc[i, q] / pivot
                if f != 0.0:
                    for j in range(q):
                        kc[i, j] -= f * kc[q, j]
        for i in range(n_keep):
            total = 0.0
            for j in range(n_keep):
                if j != i:
                    out[blk, i, j] = kc[i, j]
                    total += kc[i, j]
            out[blk, i, i] = -total


def _spans(ix: IntArray) -> list[tuple[int, int, int]]:
    """Contiguous runs of a port map as (source start, target start, length)."""
    breaks = np.flatnonzero(np.diff(ix) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [ix.size]])
    return [(int(a), int(ix[a]), int(b - a)) for a, b in zip(starts, stops, strict=True)]


def _merge_dense(k_a: FloatArray, k_b: FloatArray, layout: _Layout) -> FloatArray:
    r"""Assemble and eliminate the shared ports with LAPACK and BLAS (large interfaces).

    :math:`K' = K_{kk} - Y^T Y` with :math:`Y = C^{-1} K_{ik}` and :math:`C C^T = K_{ii}`
    (Cholesky, triangular solve, symmetric rank-k update), one block per task: blocks run in
    parallel on single-threaded BLAS (multithreaded BLAS on matrices of a few hundred rows was
    20 times slower here), the last single block on all threads.
    """
    count = k_a.shape[0]
    total, keep = layout.n_total, layout.n_keep
    parts = [(k_a, _spans(layout.ix_a)), (k_b, _spans(layout.ix_b))]
    out = np.empty((count, keep, keep))
    diag = np.arange(keep)

    def reduce_block(blk: int) -> None:
        kc = np.zeros((total, total))
        for k_src, spans in parts:
            for src_i, dst_i, len_i in spans:
                for src_j, dst_j, len_j in spans:
                    kc[dst_i : dst_i + len_i, dst_j : dst_j + len_j] += k_src[
                        blk, src_i : src_i + len_i, src_j : src_j + len_j
                    ]
        chol = sla.cholesky(kc[keep:, keep:], lower=True, check_finite=False)
        y = sla.solve_triangular(chol, kc[keep:, :keep], lower=True, check_finite=False)
        reduced = kc[:keep, :keep]
        reduced -= y.T @ y  # numpy calls syrk for y.T @ y
        reduced += reduced.T
        reduced *= 0.5
        reduced[diag, diag] = 0.0
        reduced[diag, diag] = -reduced.sum(axis=1)
        out[blk] = reduced

    if count == 1:
        reduce_block(0)
    else:
        with _blas_controller().limit(limits=1, user_api="blas"):
            with ThreadPoolExecutor(max_workers=_workers()) as pool:
                list(pool.map(reduce_block, range(count)))
    return out


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """The loaded BLAS libraries, inspected once (a fresh inspection costs tens of ms)."""
    return ThreadpoolController()


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _merge(
    a: _Blocks,
    b: _Blocks,
    sel_a: IntArray,
    sel_b: IntArray,
    horizontal: bool,
    row: IntArray,
    col: IntArray,
) -> _Blocks:
    layout, shape = _layout(a, b, horizontal)
    k_a, k_b = a.k[sel_a], b.k[sel_b]
    if layout.n_total - layout.n_keep <= _GTH_MAX_INTERFACE:
        k = np.empty((k_a.shape[0], layout.n_keep, layout.n_keep))
        _merge_gth(k_a, k_b, layout.ix_a, layout.ix_b, layout.n_keep, layout.n_total, k)
    else:
        k = _merge_dense(k_a, k_b, layout)
    return _Blocks(shape.h, shape.w, shape.has_right, shape.has_top, row, col, k)


def _level(groups: list[_Blocks], n_rows: int, n_cols: int, horizontal: bool) -> list[_Blocks]:
    """Merge neighbouring pairs of blocks along columns (``horizontal``) or rows; an odd last
    row or column of blocks is carried up unchanged."""
    owner = np.empty((n_rows, n_cols), dtype=np.intp)
    position = np.empty((n_rows, n_cols), dtype=np.intp)
    for index, grp in enumerate(groups):
        owner[grp.row, grp.col] = index
        position[grp.row, grp.col] = np.arange(grp.row.size)
    count = n_cols if horizontal else n_rows
    pairs = np.arange(count // 2)
    if horizontal:
        row, pair = (x.ravel() for x in np.meshgrid(np.arange(n_rows), pairs, indexing="ij"))
        at_a, at_b = (row, 2 * pair), (row, 2 * pair + 1)
        new_row, new_col = row, pair
    else:
        pair, col = (x.ravel() for x in np.meshgrid(pairs, np.arange(n_cols), indexing="ij"))
        at_a, at_b = (2 * pair, col), (2 * pair + 1, col)
        new_row, new_col = pair, col
    key = owner[at_a] * len(groups) + owner[at_b]
    merged: list[_Blocks] = []
    for value in np.unique(key):
        sel = key == value
        a, b = groups[value // len(groups)], groups[value % len(groups)]
        merged.append(
            _merge(
                a,
                b,
                position[at_a][sel],
                position[at_b][sel],
                horizontal,
                new_row[sel],
                new_col[sel],
            )
        )
    if count % 2:  # the odd last interval moves up a level as it is
        for grp in groups:
            last = (grp.col if horizontal else grp.row) == count - 1
            if last.any():
                moved = np.full(int(last.sum()), count // 2)
                row_ = grp.row[last] if horizontal else moved
                col_ = moved if horizontal else grp.col[last]
                merged.append(
                    _Blocks(grp.h, grp.w, grp.has_right, grp.has_top, row_, col_, grp.k[last])
                )
    return merged


def _coarsen(bounds: IntArray) -> IntArray:
    """Interval boundaries after merging neighbouring pairs (an odd last interval is kept)."""
    return np.concatenate([bounds[:-1:2], bounds[-1:]])


def transfer_matrix(conductance: FloatArray, g_word: float, g_bit: float) -> FloatArray:
    r"""Effective conductance :math:`G^\mathrm{eff}` (m, n) in S, :math:`I = V G^\mathrm{eff}`.

    ``conductance`` is a validated (m, n) array of device conductances in S (>= 0, finite);
    ``g_word``, ``g_bit`` are the finite, positive segment conductances in S. Exact to rounding
    (see the module docstring for the method and its accuracy).
    """
    g = np.ascontiguousarray(conductance, dtype=np.float64)
    m, n = g.shape
    groups = _leaves(g, g_word, g_bit)
    row_bounds, col_bounds = np.arange(m + 1), np.arange(n + 1)
    while row_bounds.size > 2 or col_bounds.size > 2:
        n_rows, n_cols = row_bounds.size - 1, col_bounds.size - 1
        height, width = np.diff(row_bounds).max(), np.diff(col_bounds).max()
        horizontal = n_cols > 1 and (n_rows == 1 or width <= height)
        groups = _level(groups, n_rows, n_cols, horizontal)
        if horizontal:
            col_bounds = _coarsen(col_bounds)
        else:
            row_bounds = _coarsen(row_bounds)
    (whole,) = groups
    k = whole.k[0]
    k[np.arange(m), np.arange(m)] += 2.0 * g_word  # source half segments
    k[m + np.arange(n), m + np.arange(n)] += 2.0 * g_bit  # ground half segments
    factor = sla.cho_factor(k, lower=True, check_finite=False)
    unit = np.zeros((m + n, n))
    unit[m + np.arange(n), np.arange(n)] = 1.0
    x = sla.cho_solve(factor, unit, check_finite=False)
    return np.ascontiguousarray(4.0 * g_word * g_bit * x[:m])
