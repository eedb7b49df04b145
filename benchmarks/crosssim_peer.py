r"""Re-implementation of Sandia CrossSim 3.2's IR-drop (parasitic resistance) circuit solver.

CrossSim (https://github.com/sandialabs/cross-sim, BSD-3) cannot be pip-installed here, so this
module re-writes its compact circuit solver in NumPy to serve as a timing / accuracy peer in
``benchmarks/crossbar_irdrop.py``. It is **not** CrossSim and shares no code with it; it performs
the same arithmetic, written independently from reading the source.

Source read
-----------
CrossSim 3.2 (release 2026-04-03; the revision read carries the 2017-2026 NTESS header),
``simulator/circuits/array/``:

* ``NonInterleaved_InputSource.py``, ``NoninterleavedInputSourceArray.solve_mvm``: the
  topology where the input drives one end of each input line and the cell currents are
  collected at one end of each output line (the default for an OFFSET core and for a
  BALANCED core without ``interleaved_posneg``);
* ``iarray.IArray.iterative_solve`` (retry loop that lowers the relaxation factor),
  ``IArray._init_dV`` (batch layout) and ``IArray._error_metric`` (convergence metric);
* defaults from ``simulator/parameters/simulation.py`` (``SimulationParameters``):
  ``Niters_max_parasitics = 100``, ``Verr_th_mvm = 1e-3``, ``relaxation_gamma = 1``,
  ``Verr_matmul_criterion = "max_mean"``.

The same iteration was already in CrossSim 3.0 as ``mvm_parasitics`` and
``solve_mvm_circuit`` in ``simulator/circuits/array_simulator.py`` (there a batch was solved one
vector at a time, since parasitics disabled the fast matmul path).

Algorithm (CrossSim's, in our notation)
---------------------------------------
The unknown is the voltage across every device, :math:`\Delta V_{ij} = U_{ij} - W_{ij}`. Start
from the ideal guess :math:`\Delta V^{(0)}_{ij} = V_i` (every device sees its full input) and
repeat, all cells at once (a Jacobi-type fixed-point iteration, not Gauss-Seidel):

1. device currents :math:`I = G \circ \Delta V`;
2. line currents by cumulative sums, then the parasitic drops by a second cumulative sum:
   word line ``i`` loses :math:`r_w \sum_{k \le j} \sum_{l \ge k} I_{il}` between its source and
   node ``j``; bit line ``j`` sits :math:`r_b \sum_{k \ge i} \sum_{l \le k} I_{lj}` above ground
   at node ``i``; their sum is :math:`V_\mathrm{par}`;
3. residual :math:`E = V - V_\mathrm{par} - \Delta V` (the ideal input minus the drops, minus
   the current estimate); ``Verr`` = a scalar metric of :math:`|E|` (below); stop when
   ``Verr < Verr_th``;
4. relaxation :math:`\Delta V \leftarrow \Delta V + \gamma E` (``gamma < 1`` under-, ``> 1``
   over-relaxation; default ``gamma = 1``, i.e. plain fixed-point iteration).

At most ``Niters_max`` updates; the error is checked before each update, so on exhaustion the
test uses the residual *before* the last update, and the returned currents are those of the last
update. Output current of bit line ``j`` = :math:`\sum_i I_{ij}`.

Non-convergence: the attempt raises ``RuntimeError`` (``Verr > Verr_th`` after ``Niters_max``
updates, or NaN output); ``iterative_solve`` catches it, multiplies ``gamma`` by 0.98 and
restarts from the ideal guess; once ``gamma <= 0.01`` it gives up with
``ValueError("Parasitic MVM solver failed to converge")``. The reduced ``gamma`` persists in the
CrossSim array object for all later MVMs. Here the final ``gamma`` is returned
(:class:`CrossSimResult`) so a caller can carry it over the same way, and the give-up error is
:class:`CrossSimConvergenceError`, a subclass of both ``RuntimeError`` and ``ValueError``.

Batch: CrossSim 3.2 (fast matmul, on by default) solves all input vectors of a matmul jointly in
one 4-D array with one shared ``gamma`` and one scalar error: ``"max_mean"`` (default) takes
:math:`\max|E|` over the array of each vector, then the mean over the batch; ``"max_max"`` the
max over everything; ``"max_min"`` the min over the batch. A single vector uses
:math:`\max|E|`, which is what ``"max_mean"`` gives for a batch of one.

Precision: CrossSim computes in the dtype of the programmed matrix (float64 for a float64 NumPy
matrix); this module always uses float64.

Adaptation to our convention (``src/snn/hardware/crossbar/circuit.py``)
----------------------------------------------------------------------
None in the physics: with zero terminal resistance (CrossSim's default) CrossSim's input line is
driven at its first cell through one segment ``Rp_in`` and its output line reaches the virtual
ground after its last cell through one segment ``Rp_out``, with ``Rp_in`` between neighbouring
cells on the input line and ``Rp_out`` on the output line, exactly our ``r_word`` / ``r_bit``
topology. Bookkeeping differences only:

* CrossSim stores the matrix as (outputs, inputs), i.e. ``G.T``; we index ``(batch, m, n)`` with
  word lines on axis 1 and bit lines on axis 2.
* CrossSim works in normalized units (conductance / Gmax, Rp * Gmax, input / full-scale input);
  the products ``Rp * G`` and the iteration are unit-free, so we use SI units directly. Its
  ``Verr_th_mvm`` is in units of the full-scale input; ``verr_th`` here is in volts, which is the
  same number for a 1 V full-scale input (the inputs of the self-check are in [0, 1] V).
* CrossSim's optional terminal resistances, masks (sliding-window packing) and nonlinear I-V are
  not reproduced (all off by default).

Run ``python benchmarks/crosssim_peer.py`` for a self-check against the exact sparse-LU solution
(``CrossbarCircuit(..., method="direct")``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CRITERIA",
    "DEFAULT_GAMMA",
    "DEFAULT_MAX_ITER",
    "DEFAULT_VERR_TH",
    "CrossSimConvergenceError",
    "CrossSimResult",
    "crosssim_solve",
    "crosssim_solve_detailed",
]

FloatArray = NDArray[np.float64]
Criterion = Literal["max_mean", "max_max", "max_min"]

#: CrossSim 3.2 defaults (``SimulationParameters``).
DEFAULT_VERR_TH = 1e-3  # Verr_th_mvm (full-scale input units; volts for a 1 V full scale)
DEFAULT_MAX_ITER = 100  # Niters_max_parasitics
DEFAULT_GAMMA = 1.0  # relaxation_gamma
#: ``IArray.iterative_solve``: gamma *= 0.98 per failed attempt, give up at gamma <= 0.01.
GAMMA_DECAY = 0.98
GAMMA_FLOOR = 1e-2
CRITERIA: tuple[Criterion, ...] = ("max_mean", "max_max", "max_min")


class CrossSimConvergenceError(RuntimeError, ValueError):
    """CrossSim gave up: no attempt converged before ``gamma`` fell to 0.01 or below.

    CrossSim raises ``ValueError`` here; this class is also a ``RuntimeError``.
    """


@dataclass(frozen=True)
class CrossSimResult:
    """Outcome of :func:`crosssim_solve_detailed`.

    ``output_current`` (batch, n) in A; ``iterations``: relaxation updates of the accepted
    attempt; ``total_iterations``: updates summed over all attempts (failed ones included, the
    work actually done); ``attempts``: 1 + number of gamma reductions; ``gamma``: the relaxation
    factor of the accepted attempt (what CrossSim keeps for later calls); ``verr``: the final
    error metric in V.
    """

    output_current: FloatArray
    iterations: int
    total_iterations: int
    attempts: int
    gamma: float
    verr: float


def _error_metric(abs_err: FloatArray, criterion: Criterion) -> float:
    """CrossSim's scalar convergence metric of |E| with shape (batch, m, n)."""
    per_vector = abs_err.max(axis=(1, 2))
    if criterion == "max_mean":
        return float(per_vector.mean())
    if criterion == "max_max":
        return float(per_vector.max())
    return float(per_vector.min())


def _attempt(
    g: FloatArray,
    v: FloatArray,
    r_word: float,
    r_bit: float,
    verr_th: float,
    max_iter: int,
    gamma: float,
    criterion: Criterion,
) -> tuple[FloatArray, int, float, bool]:
    """One run of CrossSim's relaxation loop at fixed gamma.

    Returns (output currents, updates made, last error metric, converged).
    """
    dv0 = np.broadcast_to(v[:, :, np.newaxis], (v.shape[0], *g.shape))
    dv = dv0.copy()
    i_dev = g * dv
    verr = np.inf  # CrossSim starts from 1e9
    n_iter = 0
    v_par = np.empty_like(dv)
    scratch = np.empty_like(dv)
    while verr > verr_th and n_iter < max_iter:
        # word line i: current in the segment left of node j = sum_{l >= j} I_il; the drop from
        # the source to node j is r_word times the cumulative sum of those currents over j
        np.cumsum(i_dev[:, :, ::-1], axis=2, out=scratch[:, :, ::-1])
        np.cumsum(scratch, axis=2, out=v_par)
        v_par *= r_word
        # bit line j: current in the segment below node i = sum_{l <= i} I_lj; the voltage of
        # node i above ground is r_bit times the sum of those currents from i down to m-1
        np.cumsum(i_dev, axis=1, out=scratch)
        np.cumsum(scratch[:, ::-1, :], axis=1, out=scratch[:, ::-1, :])
        v_par += r_bit * scratch
        # residual E = dV0 - Vpar - dV  (stored in v_par)
        np.subtract(dv0, v_par, out=v_par)
        v_par -= dv
        verr = _error_metric(np.abs(v_par, out=scratch), criterion)
        if verr < verr_th:
            break
        v_par *= gamma
        dv += v_par
        np.multiply(g, dv, out=i_dev)
        n_iter += 1
    out = i_dev.sum(axis=1)
    converged = not (verr > verr_th) and not bool(np.isnan(out).any())
    return out, n_iter, verr, converged


def _validate(
    g: np.ndarray,
    voltages: np.ndarray,
    r_word: float,
    r_bit: float,
    verr_th: float,
    max_iter: int,
    gamma: float,
    criterion: str,
) -> tuple[FloatArray, FloatArray]:
    """Check arguments and return (G as float64 (m, n), V as float64 (batch, m))."""
    g_arr = np.asarray(g, dtype=np.float64)
    if g_arr.ndim != 2 or 0 in g_arr.shape:
        raise ValueError(f"g must be a non-empty (m, n) matrix, got shape {np.shape(g)}")
    if not np.all(np.isfinite(g_arr)) or np.any(g_arr < 0):
        raise ValueError("g must hold finite, non-negative conductances (S)")
    v_arr = np.asarray(voltages, dtype=np.float64)
    if v_arr.ndim == 1:
        v_arr = v_arr[np.newaxis, :]
    m = g_arr.shape[0]
    if v_arr.ndim != 2 or v_arr.shape[1] != m or v_arr.shape[0] == 0:
        raise ValueError(
            f"voltages must have shape (m,) or (batch, m) with m = {m} word lines, "
            f"got shape {np.shape(voltages)}"
        )
    if not np.all(np.isfinite(v_arr)):
        raise ValueError("voltages must be finite")
    for name, r in (("r_word", r_word), ("r_bit", r_bit)):
        if not (np.isfinite(r) and r >= 0):
            raise ValueError(f"{name} must be finite and >= 0 ohm, got {r}")
    if not (np.isfinite(verr_th) and verr_th > 0):
        raise ValueError(f"verr_th must be > 0, got {verr_th}")
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    if not (np.isfinite(gamma) and gamma > GAMMA_FLOOR):
        raise ValueError(f"gamma must be > {GAMMA_FLOOR}, got {gamma}")
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    return g_arr, v_arr


def crosssim_solve_detailed(
    g: np.ndarray,
    voltages: np.ndarray,
    r_word: float,
    r_bit: float,
    *,
    verr_th: float = DEFAULT_VERR_TH,
    max_iter: int = DEFAULT_MAX_ITER,
    gamma: float = DEFAULT_GAMMA,
    criterion: Criterion = "max_mean",
) -> CrossSimResult:
    """CrossSim 3.2's parasitic MVM solver with its gamma-reduction retry loop.

    ``g``: (m, n) conductances in S (word lines x bit lines); ``voltages``: (m,) or (batch, m)
    in V; ``r_word`` / ``r_bit``: segment resistances in ohm. ``verr_th`` (V), ``max_iter``
    (updates per attempt), ``gamma`` (starting relaxation factor) and ``criterion`` (batch error
    metric) are CrossSim's ``Verr_th_mvm``, ``Niters_max_parasitics``, ``relaxation_gamma`` and
    ``Verr_matmul_criterion``. Raises :class:`CrossSimConvergenceError` where CrossSim raises
    its "failed to converge" ``ValueError``.
    """
    g_arr, v_arr = _validate(g, voltages, r_word, r_bit, verr_th, max_iter, gamma, criterion)
    total = 0
    attempts = 0
    while True:
        attempts += 1
        out, n_iter, verr, converged = _attempt(
            g_arr, v_arr, float(r_word), float(r_bit), verr_th, int(max_iter), gamma, criterion
        )
        total += n_iter
        if converged:
            return CrossSimResult(out, n_iter, total, attempts, gamma, verr)
        gamma *= GAMMA_DECAY
        if gamma <= GAMMA_FLOOR:
            raise CrossSimConvergenceError(
                f"Parasitic MVM solver failed to converge (gamma fell to {gamma:.4g} after "
                f"{attempts} attempts, {total} iterations; last Verr = {verr:.3g} V)"
            )


def crosssim_solve(
    g: np.ndarray,
    voltages: np.ndarray,
    r_word: float,
    r_bit: float,
    *,
    verr_th: float = DEFAULT_VERR_TH,
    max_iter: int = DEFAULT_MAX_ITER,
) -> tuple[np.ndarray, int]:
    """Output currents (batch, n) in A and the total relaxation iterations (all attempts).

    CrossSim's defaults otherwise (``gamma = 1`` at the start, ``"max_mean"`` batch metric);
    see :func:`crosssim_solve_detailed`. Raises ``ValueError`` on bad shapes or values and
    :class:`CrossSimConvergenceError` (a ``RuntimeError``) if CrossSim would give up.
    """
    res = crosssim_solve_detailed(g, voltages, r_word, r_bit, verr_th=verr_th, max_iter=max_iter)
    return res.output_current, res.total_iterations


def _self_check() -> None:
    """Compare with the exact sparse-LU solution and time both."""
    from snn.hardware.crossbar import CrossbarCircuit

    rng = np.random.default_rng(12345)
    r_seg = 1.0
    ranges = {"0.1-10 uS": (0.1e-6, 10e-6), "1-100 uS": (1e-6, 100e-6)}
    thresholds = (DEFAULT_VERR_TH, 1e-5, 1e-7)

    def exact(g: FloatArray, v: FloatArray) -> tuple[FloatArray, float]:
        t0 = time.perf_counter()
        out = CrossbarCircuit(g, r_seg, r_seg, method="direct").solve(v).output_current
        return out, time.perf_counter() - t0

    def row(
        name: str,
        batch: int,
        label: str,
        th: float,
        res: CrossSimResult,
        ref: FloatArray,
        t_cs: float,
        t_lu: float,
    ) -> None:
        err_rel = np.abs(res.output_current - ref).max() / np.abs(ref).max()
        print(
            f"{name:>7} {batch:>5} {label:>9} {th:>8.0e} {err_rel:>9.2e} "
            f"{res.total_iterations:>6} {res.attempts:>5} {res.gamma:>6.3f} "
            f"{t_cs:>8.4f} {t_lu:>8.4f}"
        )

    print("CrossSim 3.2 parasitic solver (re-implementation) vs sparse LU, 1 ohm segments")
    print(
        f"{'size':>7} {'batch':>5} {'devices':>9} {'verr_th':>8} {'rel.err':>9} "
        f"{'iters':>6} {'tries':>5} {'gamma':>6} {'t_cs s':>8} {'t_lu s':>8}"
    )
    for size, batch in ((32, 4), (64, 4), (256, 1)):
        for label, (lo, hi) in ranges.items():
            g = rng.uniform(lo, hi, size=(size, size))
            v = rng.uniform(0.0, 1.0, size=(batch, size))
            ref, t_lu = exact(g, v)
            for th in thresholds:
                t0 = time.perf_counter()
                try:
                    res = crosssim_solve_detailed(g, v, r_seg, r_seg, verr_th=th)
                except CrossSimConvergenceError as err:
                    print(f"{size:>7} {batch:>5} {label:>9} {th:>8.0e}  FAILED: {err}")
                    continue
                t_cs = time.perf_counter() - t0
                row(f"{size:>4}^2", batch, label, th, res, ref, t_cs, t_lu)
                if res.attempts > 1:
                    # CrossSim keeps the reduced gamma for later MVMs: the steady-state cost
                    t0 = time.perf_counter()
                    res = crosssim_solve_detailed(g, v, r_seg, r_seg, verr_th=th, gamma=res.gamma)
                    row(f"{size:>3}^2*", batch, label, th, res, ref, time.perf_counter() - t0, t_lu)
    print("* = rerun starting from the reduced gamma, as a CrossSim array object does")


if __name__ == "__main__":
    _self_check()
