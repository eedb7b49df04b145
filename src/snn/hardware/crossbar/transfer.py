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

__all__ = [
    "NestedDissection",
    "available_memory",
    "estimated_peak_bytes",
    "fits_in_memory",
    "transfer_matrix",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Merges eliminating at most this many shared ports run node by node (GTH pivots, Numba);
#: larger ones through LAPACK Cholesky and BLAS, where the flops are.
_GTH_MAX_INTERFACE = 64
#: Lowest levels composed into one map per cell (4: blocks of up to 4 x 4 cells).
_COLLAPSED_LEVELS = 4
#: Backward passes over at most this many blocks of a group use BLAS for the shared ports.
_BLAS_MAX_BLOCKS = 64
#: Inputs per backward pass of :meth:`NestedDissection.node_voltages` times m n (64 inputs at
#: 1024 x 1024): the port voltages of the collapsed level take about (m n) x chunk doubles, and
#: every pass reads all kept operators once.
_NODE_CHUNK_ELEMENTS = 1 << 26


def estimated_peak_bytes(shape: tuple[int, int], keep_factors: bool) -> int:
    """Upper estimate of the memory :class:`NestedDissection` allocates for an (m, n) array.

    Fitted to the peaks NumPy reported to ``tracemalloc`` here (square and 1:4 arrays, 64 to
    1024 per side): with ``keep_factors`` 1.9-2.15 kB per cell, growing ~30 bytes per doubling
    of the cells (2.1 GB at 1024 x 1024), without ~500 bytes per cell (0.5 GB at 1024 x 1024);
    plus the dense top-level matrix, its factor and the transfer solve, ``16 (m + n) (m + 2n)``
    bytes, which dominates for long thin arrays.
    """
    m, n = shape
    cells = m * n
    per_cell = 2000 + 30 * np.log2(max(cells, 2)) if keep_factors else 600
    return int(per_cell * cells + 16 * (m + n) * (m + 2 * n))


def available_memory() -> int | None:
    """Bytes the kernel says can be allocated without swapping (``MemAvailable`` in
    ``/proc/meminfo``; free physical pages elsewhere), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def fits_in_memory(shape: tuple[int, int], keep_factors: bool) -> bool:
    """Whether :func:`estimated_peak_bytes` is within :func:`available_memory` (True if unknown)."""
    free = available_memory()
    return free is None or estimated_peak_bytes(shape, keep_factors) <= free


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


@dataclass(frozen=True)
class _Leaf:
    """Node voltages of single cells from their port voltages: with the sums of the word-port
    and bit-port voltages, :math:`U = u_w S_w + u_b S_b` and :math:`W = w_w S_w + w_b S_b`."""

    row: IntArray
    col: IntArray
    n_word: int
    u_w: FloatArray
    u_b: FloatArray
    w_w: FloatArray
    w_b: FloatArray


def _leaves(g: FloatArray, g_word: float, g_bit: float) -> tuple[list[_Blocks], list[_Leaf]]:
    r"""Port Laplacians of the single cells, in closed form.

    A cell's word node U meets its word ports through half segments (2 g_w each), its bit node W
    its bit ports (2 g_b each), and U-W is the device G. Eliminating U and W with
    :math:`s_U = n_w a + G`, :math:`s_W = n_b b + G` and the cancellation-free determinant
    :math:`s_U s_W - G^2 = n_w a n_b b + G (n_w a + n_b b)` couples word ports by
    :math:`-a^2 s_W / \det`, bit ports by :math:`-b^2 s_U/\det` and word to bit ports by
    :math:`-a b G/\det`; and :math:`U = (s_W a S_w + G b S_b)/\det`,
    :math:`W = (G a S_w + s_U b S_b)/\det`.
    """
    m, n = g.shape
    a, b = 2.0 * g_word, 2.0 * g_bit
    groups: list[_Blocks] = []
    cells: list[_Leaf] = []
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
            cells.append(
                _Leaf(
                    row, col, n_word, s_w * a / det, cond * b / det, cond * a / det, s_u * b / det
                )
            )
    return groups, cells


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
    back: FloatArray,
) -> None:  # pragma: no cover - compiled
    """Assemble each pair of port Laplacians and eliminate the shared ports one by one.

    GTH pivots: the pivot of node q is the sum of its couplings to the nodes not yet eliminated
    (its row sum is zero), so no pivot is a difference of nearly equal numbers. If ``back`` has
    rows, it receives the shared ports' voltages as a linear map of the kept ones,
    :math:`v_I = M v_K` (rows of node q, eliminated last-first, are untouched by later steps).
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
        if back.shape[0] > 0:
            for q in range(n_keep, n_total):
                pivot = 0.0
                for j in range(q):
                    pivot -= kc[q, j]
                row = back[blk, q - n_keep]
                for c in range(n_keep):
                    row[c] = -kc[q, c] / pivot
                for j in range(n_keep, q):
                    f = -kc[q, j] / pivot
                    if f != 0.0:
                        for c in range(n_keep):
                            row[c] += f * back[blk, j - n_keep, c]


def _spans(ix: IntArray) -> list[tuple[int, int, int]]:
    """Contiguous runs of a port map as (source start, target start, length)."""
    breaks = np.flatnonzero(np.diff(ix) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [ix.size]])
    return [(int(a), int(ix[a]), int(b - a)) for a, b in zip(starts, stops, strict=True)]


def _merge_dense(
    k_a: FloatArray, k_b: FloatArray, layout: _Layout, keep_back: bool
) -> tuple[FloatArray, FloatArray | None]:
    r"""Assemble and eliminate the shared ports with LAPACK and BLAS (large interfaces).

    :math:`K' = K_{kk} - Y^T Y` with :math:`Y = C^{-1} K_{ik}` and :math:`C C^T = K_{ii}`
    (Cholesky, triangular solve, symmetric rank-k update), one block per task: blocks run in
    parallel on single-threaded BLAS (multithreaded BLAS on matrices of a few hundred rows was
    20 times slower here), the last single block on all threads. With ``keep_back`` also
    :math:`M = -K_{ii}^{-1} K_{ik} = -C^{-T} Y` (shared-port voltages from the kept ones).
    """
    count = k_a.shape[0]
    total, keep = layout.n_total, layout.n_keep
    parts = [(k_a, _spans(layout.ix_a)), (k_b, _spans(layout.ix_b))]
    out = np.empty((count, keep, keep))
    back = np.empty((count, total - keep, keep)) if keep_back else None
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
        if back is not None:
            back[blk] = -sla.solve_triangular(chol, y, lower=True, trans="T", check_finite=False)
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
    return out, back


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """The loaded BLAS libraries, inspected once (a fresh inspection costs tens of ms)."""
    return ThreadpoolController()


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class _Merge:
    """How one group of merged blocks was made: from blocks ``sel_a`` of group ``a`` and
    ``sel_b`` of group ``b`` of the level below, and (if kept) the back-substitution operators
    (count, shared ports, kept ports)."""

    a: int
    b: int
    sel_a: IntArray
    sel_b: IntArray
    layout: _Layout
    back: FloatArray | None


@dataclass(frozen=True)
class _Carry:
    """A group moved up a level unchanged: the blocks ``mask`` of group ``src`` below."""

    src: int
    mask: NDArray[np.bool_]


def _merge(
    a: _Blocks,
    b: _Blocks,
    sel_a: IntArray,
    sel_b: IntArray,
    horizontal: bool,
    row: IntArray,
    col: IntArray,
    keep_back: bool,
) -> tuple[_Blocks, _Layout, FloatArray | None]:
    layout, shape = _layout(a, b, horizontal)
    k_a, k_b = a.k[sel_a], b.k[sel_b]
    shared = layout.n_total - layout.n_keep
    back: FloatArray | None
    if shared <= _GTH_MAX_INTERFACE:
        k = np.empty((k_a.shape[0], layout.n_keep, layout.n_keep))
        back = np.empty((k_a.shape[0] if keep_back else 0, shared, layout.n_keep))
        _merge_gth(k_a, k_b, layout.ix_a, layout.ix_b, layout.n_keep, layout.n_total, k, back)
        back = back if keep_back else None
    else:
        k, back = _merge_dense(k_a, k_b, layout, keep_back)
    return _Blocks(shape.h, shape.w, shape.has_right, shape.has_top, row, col, k), layout, back


def _level(
    groups: list[_Blocks], n_rows: int, n_cols: int, horizontal: bool, keep_back: bool
) -> tuple[list[_Blocks], list[_Merge | _Carry]]:
    """Merge neighbouring pairs of blocks along columns (``horizontal``) or rows; an odd last
    row or column of blocks is carried up unchanged. Returns the new groups and, for each, how
    it was made."""
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
    records: list[_Merge | _Carry] = []
    for value in np.unique(key):
        sel = key == value
        ia, ib = int(value) // len(groups), int(value) % len(groups)
        sel_a, sel_b = position[at_a][sel], position[at_b][sel]
        blocks, layout, back = _merge(
            groups[ia], groups[ib], sel_a, sel_b, horizontal, new_row[sel], new_col[sel], keep_back
        )
        merged.append(blocks)
        records.append(_Merge(ia, ib, sel_a, sel_b, layout, back))
    if count % 2:  # the odd last interval moves up a level as it is
        for index, grp in enumerate(groups):
            last = (grp.col if horizontal else grp.row) == count - 1
            if last.any():
                moved = np.full(int(last.sum()), count // 2)
                row_ = grp.row[last] if horizontal else moved
                col_ = moved if horizontal else grp.col[last]
                merged.append(
                    _Blocks(grp.h, grp.w, grp.has_right, grp.has_top, row_, col_, grp.k[last])
                )
                records.append(_Carry(index, last))
    return merged, records


def _coarsen(bounds: IntArray) -> IntArray:
    """Interval boundaries after merging neighbouring pairs (an odd last interval is kept)."""
    return np.concatenate([bounds[:-1:2], bounds[-1:]])


@njit(cache=True, parallel=True, error_model="numpy")
def _apply_back(
    back: FloatArray, upper: FloatArray, shared_v: FloatArray
) -> None:  # pragma: no cover - compiled
    """``shared_v[blk] = back[blk] @ upper[blk]`` for many small blocks."""
    for blk in prange(back.shape[0]):
        for q in range(back.shape[1]):
            for c in range(upper.shape[2]):
                shared_v[blk, q, c] = 0.0
            for j in range(back.shape[2]):
                f = back[blk, q, j]
                if f != 0.0:
                    for c in range(upper.shape[2]):
                        shared_v[blk, q, c] += f * upper[blk, j, c]


@njit(cache=True, parallel=True, error_model="numpy")
def _scatter_ports(
    upper: FloatArray,
    shared_v: FloatArray,
    ix: IntArray,
    sel: IntArray,
    lower: FloatArray,
) -> None:  # pragma: no cover - compiled
    """Port voltages of one child of each merge: kept ports from ``upper``, shared ones from
    ``shared_v``, in the child's port order ``ix`` (positions in the merged matrix)."""
    keep = upper.shape[1]
    for blk in prange(upper.shape[0]):
        dst = lower[sel[blk]]
        for i in range(ix.size):
            src = ix[i]
            if src < keep:
                for c in range(upper.shape[2]):
                    dst[i, c] = upper[blk, src, c]
            else:
                for c in range(upper.shape[2]):
                    dst[i, c] = shared_v[blk, src - keep, c]


@njit(cache=True, parallel=True, error_model="numpy")
def _cell_voltages(
    port_v: FloatArray,
    n_word: int,
    u_w: FloatArray,
    u_b: FloatArray,
    w_w: FloatArray,
    w_b: FloatArray,
    row: IntArray,
    col: IntArray,
    u_out: FloatArray,
    w_out: FloatArray,
) -> None:  # pragma: no cover - compiled
    """Word and bit node voltages of single cells from their port voltages (see :class:`_Leaf`)."""
    for cell in prange(port_v.shape[0]):
        for c in range(port_v.shape[2]):
            s_word = 0.0
            for i in range(n_word):
                s_word += port_v[cell, i, c]
            s_bit = 0.0
            for i in range(n_word, port_v.shape[1]):
                s_bit += port_v[cell, i, c]
            u_out[c, row[cell], col[cell]] = u_w[cell] * s_word + u_b[cell] * s_bit
            w_out[c, row[cell], col[cell]] = w_w[cell] * s_word + w_b[cell] * s_bit


@dataclass(frozen=True)
class _Shape:
    count: int
    ports: int


@njit(cache=True, parallel=True, error_model="numpy")
def _gather_cells(
    packed: FloatArray,
    cell_block: IntArray,
    coef_u: FloatArray,
    coef_w: FloatArray,
    u_out: FloatArray,
    w_out: FloatArray,
) -> None:  # pragma: no cover - compiled
    """Node voltages of every cell from the port voltages of its block at the collapsed level:
    ``U[b, r, c] = sum_j coef_u[r, c, j] packed[block(r, c), j, b]`` (and W alike)."""
    m, n = cell_block.shape
    batch = packed.shape[2]
    for r in prange(m):
        acc_u = np.empty(batch)
        acc_w = np.empty(batch)
        for c in range(n):
            blk = cell_block[r, c]
            acc_u[:] = 0.0
            acc_w[:] = 0.0
            for j in range(packed.shape[1]):
                cu = coef_u[r, c, j]
                cw = coef_w[r, c, j]
                for b in range(batch):
                    acc_u[b] += cu * packed[blk, j, b]
                    acc_w[b] += cw * packed[blk, j, b]
            for b in range(batch):
                u_out[b, r, c] = acc_u[b]
                w_out[b, r, c] = acc_w[b]


_Level = tuple[list[_Shape], list[_Merge | _Carry]]


def _backward(levels: list[_Level], ports: list[FloatArray], batch: int) -> list[FloatArray]:
    """Run merges backwards: port voltages of the groups above ``levels`` -> of those below."""
    for below, records in reversed(levels):
        lower = [np.empty((shape.count, shape.ports, batch)) for shape in below]
        for record, upper in zip(records, ports, strict=True):
            if isinstance(record, _Carry):
                lower[record.src][record.mask] = upper
                continue
            if record.back is None:  # pragma: no cover - keep_factors stores them all
                raise RuntimeError("missing back-substitution operator")
            if upper.shape[0] <= _BLAS_MAX_BLOCKS:  # few large blocks: BLAS
                shared_v = record.back @ upper
            else:
                shared_v = np.empty((upper.shape[0], record.back.shape[1], batch))
                _apply_back(record.back, upper, shared_v)
            _scatter_ports(upper, shared_v, record.layout.ix_a, record.sel_a, lower[record.a])
            _scatter_ports(upper, shared_v, record.layout.ix_b, record.sel_b, lower[record.b])
        ports = lower
    return ports


class NestedDissection:
    r"""The crossbar factored once by nested dissection: exact transfer matrix and, with
    ``keep_factors``, node voltages for any batch of inputs.

    ``conductance`` is a validated (m, n) array of device conductances in S (>= 0, finite);
    ``g_word``, ``g_bit`` are the finite, positive segment conductances in S. ``keep_factors``
    stores, for every merge, the map from the merged block's port voltages to the eliminated
    ports' (about 75 MB per level at 1024 x 1024), so that :meth:`node_voltages` can run the
    elimination backwards: ports of the whole array from the sources, then every level's shared
    ports. The lowest :data:`_COLLAPSED_LEVELS` levels (blocks of up to 4 x 4 cells) are
    composed at factor time into one map per cell from its block's ports to its word and bit
    node (computed by running them backwards once on unit port voltages), so the backward pass
    stops there: those levels carry most of the ports.
    """

    def __init__(
        self, conductance: FloatArray, g_word: float, g_bit: float, *, keep_factors: bool = False
    ) -> None:
        g = np.ascontiguousarray(conductance, dtype=np.float64)
        if not fits_in_memory(g.shape, keep_factors):
            need = estimated_peak_bytes(g.shape, keep_factors) / 2**30
            free = (available_memory() or 0) / 2**30
            raise MemoryError(
                f"nested dissection of a {g.shape[0]} x {g.shape[1]} array needs about "
                f"{need:.1f} GiB{' with kept factors' if keep_factors else ''}, but only "
                f"{free:.1f} GiB is available; use method='cg' (iterative, memory linear in the "
                "array) or a smaller array"
            )
        self.shape = g.shape
        self.g_word, self.g_bit = float(g_word), float(g_bit)
        self.keeps_factors = keep_factors
        m, n = g.shape
        groups, cells = _leaves(g, g_word, g_bit)
        levels: list[_Level] = []
        collapsed: tuple[IntArray, IntArray, list[_Blocks]] | None = None
        row_bounds, col_bounds = np.arange(m + 1), np.arange(n + 1)
        while row_bounds.size > 2 or col_bounds.size > 2:
            n_rows, n_cols = row_bounds.size - 1, col_bounds.size - 1
            height, width = np.diff(row_bounds).max(), np.diff(col_bounds).max()
            horizontal = n_cols > 1 and (n_rows == 1 or width <= height)
            below = [_Shape(grp.k.shape[0], grp.k.shape[1]) for grp in groups]
            groups, records = _level(groups, n_rows, n_cols, horizontal, keep_factors)
            if horizontal:
                col_bounds = _coarsen(col_bounds)
            else:
                row_bounds = _coarsen(row_bounds)
            if keep_factors:
                levels.append((below, records))
                if len(levels) == _COLLAPSED_LEVELS:
                    collapsed = (row_bounds, col_bounds, groups)
        if keep_factors and collapsed is None:  # fewer levels than that: collapse them all
            collapsed = (row_bounds, col_bounds, groups)
        (whole,) = groups
        k = whole.k[0].copy()
        k[np.arange(m), np.arange(m)] += 2.0 * g_word  # source half segments
        k[m + np.arange(n), m + np.arange(n)] += 2.0 * g_bit  # ground half segments
        self._factor = sla.cho_factor(k, lower=True, check_finite=False)
        self._transfer: FloatArray | None = None
        if collapsed is not None:
            depth = min(len(levels), _COLLAPSED_LEVELS)
            self._levels = levels[depth:]
            self._collapse(levels[:depth], cells, *collapsed)

    def _collapse(
        self,
        levels: list[_Level],
        cells: list[_Leaf],
        row_bounds: IntArray,
        col_bounds: IntArray,
        groups: list[_Blocks],
    ) -> None:
        """Compose the lowest ``levels`` and the cells into per-cell maps from block ports."""
        m, n = self.shape
        counts = [grp.k.shape[0] for grp in groups]
        widths = [grp.k.shape[1] for grp in groups]
        p_max = max(widths)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
        units = [
            np.ascontiguousarray(np.broadcast_to(np.eye(p, p_max), (count, p, p_max)))
            for count, p in zip(counts, widths, strict=True)
        ]
        leaf_ports = _backward(levels, units, p_max)
        coef_u, coef_w = np.zeros((p_max, m, n)), np.zeros((p_max, m, n))
        for cell, port_v in zip(cells, leaf_ports, strict=True):
            _cell_voltages(
                port_v, cell.n_word, cell.u_w, cell.u_b, cell.w_w, cell.w_b, cell.row, cell.col,
                coef_u, coef_w,
            )  # fmt: skip
        self._coef_u = np.ascontiguousarray(coef_u.transpose(1, 2, 0))
        self._coef_w = np.ascontiguousarray(coef_w.transpose(1, 2, 0))
        owner = np.empty((row_bounds.size - 1, col_bounds.size - 1), dtype=np.intp)
        for index, grp in enumerate(groups):
            owner[grp.row, grp.col] = offsets[index] + np.arange(counts[index])
        block_row = np.searchsorted(row_bounds, np.arange(m), side="right") - 1
        block_col = np.searchsorted(col_bounds, np.arange(n), side="right") - 1
        self._cell_block = np.ascontiguousarray(owner[block_row[:, None], block_col[None, :]])
        self._packing = [(int(offsets[i]), counts[i], widths[i]) for i in range(len(groups))]

    def transfer(self) -> FloatArray:
        r"""Effective conductance (m, n) in S: :math:`I = V G^\mathrm{eff}`."""
        if self._transfer is None:
            m, n = self.shape
            unit = np.zeros((m + n, n))
            unit[m + np.arange(n), np.arange(n)] = 1.0
            x = sla.cho_solve(self._factor, unit, check_finite=False)
            self._transfer = np.ascontiguousarray(4.0 * self.g_word * self.g_bit * x[:m])
        return self._transfer

    def node_voltages(self, voltages: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Word- and bit-line node voltages (batch, m, n) in V for inputs (batch, m) in V."""
        if not self.keeps_factors:
            raise RuntimeError("node_voltages needs NestedDissection(..., keep_factors=True)")
        m, n = self.shape
        v = np.asarray(voltages, dtype=np.float64)
        batch = v.shape[0]
        u_out, w_out = np.empty((batch, m, n)), np.empty((batch, m, n))
        chunk = max(1, _NODE_CHUNK_ELEMENTS // (m * n))
        for start in range(0, batch, chunk):
            part = slice(start, min(batch, start + chunk))
            self._node_voltages_chunk(v[part], u_out[part], w_out[part])
        return u_out, w_out

    def _node_voltages_chunk(self, v: FloatArray, u_out: FloatArray, w_out: FloatArray) -> None:
        m, _ = self.shape
        batch = v.shape[0]
        rhs = np.zeros((sum(self.shape), batch))
        rhs[:m] = 2.0 * self.g_word * v.T
        top = sla.cho_solve(self._factor, rhs, check_finite=False)[np.newaxis]
        ports = _backward(self._levels, [top], batch)
        total = self._packing[-1][0] + self._packing[-1][1]
        packed = np.zeros((total, self._coef_u.shape[2], batch))
        for (offset, count, width), port_v in zip(self._packing, ports, strict=True):
            packed[offset : offset + count, :width] = port_v
        _gather_cells(packed, self._cell_block, self._coef_u, self._coef_w, u_out, w_out)


def transfer_matrix(conductance: FloatArray, g_word: float, g_bit: float) -> FloatArray:
    r"""Effective conductance :math:`G^\mathrm{eff}` (m, n) in S, :math:`I = V G^\mathrm{eff}`.

    ``conductance`` is a validated (m, n) array of device conductances in S (>= 0, finite);
    ``g_word``, ``g_bit`` are the finite, positive segment conductances in S. Exact to rounding
    (see the module docstring for the method and its accuracy).
    """
    return NestedDissection(conductance, g_word, g_bit).transfer()
