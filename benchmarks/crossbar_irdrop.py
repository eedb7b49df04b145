"""Exact IR-drop solve of square crossbars: ours vs scipy sparse LU, ngspice and CrossSim's solver.

Run by hand: ``python benchmarks/crossbar_irdrop.py [--sizes 64 256 512 1024] [--batch 64]``.
Devices uniform in 0.1-10 uS and 1-100 uS, 1 ohm word- and bit-line segments, inputs uniform in
[0, 1] V. For each array:

* **ours, outputs**: the exact transfer matrix by nested dissection (setup, once per conductance
  matrix), then each batch is one product ``V @ G_eff``;
* **ours, nodes**: every node voltage by Schur-complement PCG (tol 1e-13), batch 1, and the
  full batch up to ``--pcg-batch-max-size``; and by nested dissection with kept factors
  (``method="nested"``: setup, then one backward pass per batch);
* **sparse LU** (SuperLU, up to 512: 51 s and ~4 GB at 1024 in DESIGN.md), **ngspice** (up to 64);
* **CrossSim 3.2's solver**, re-implemented in ``crosssim_peer.py`` (CrossSim cannot be
  installed here), at its default threshold (1e-3 V) and at 1e-9 V (to approach our accuracy);
  its first call includes the search for a relaxation factor that converges, later calls reuse it
  (as a CrossSim array object does), so both are timed.

Errors are max |a - b| / max |b| against the PCG node solve (CrossSim's batch: against our
transfer outputs, which agree with PCG to ~1e-12); the IR-drop line gives the worst relative
output error of the ideal product with all inputs at 1 V.
Times are single runs (medians over ``--repeat`` for the fast ours-output columns).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crosssim_peer import CrossSimConvergenceError, crosssim_solve_detailed
from snn.hardware.crossbar import CrossbarCircuit, ideal_output

LU_MAX_SIZE = 512
NGSPICE_MAX_SIZE = 64  # ngspice-39 took ~25 s at 96 x 96 and > 10 min at 256 x 256 here


def _ngspice_outputs(g: np.ndarray, v: np.ndarray, r: float) -> np.ndarray:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_crossbar_circuit import _ngspice_solve  # the tests' netlist writer and parser

    with tempfile.TemporaryDirectory() as tmp:
        out, _, _ = _ngspice_solve(g, r, r, v, Path(tmp))
    return out


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _timed(fn: Callable[..., np.ndarray], *args: object) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def _solve_outputs(circuit: CrossbarCircuit, v: np.ndarray) -> np.ndarray:
    return circuit.solve(v).output_current


def _crosssim(
    g: np.ndarray, v: np.ndarray, verr_th: float, gamma: float = 1.0
) -> tuple[np.ndarray | None, float, float, int]:
    """CrossSim peer: (outputs or None if it gave up, seconds, final gamma, total iterations)."""
    t0 = time.perf_counter()
    try:
        res = crosssim_solve_detailed(g, v, 1.0, 1.0, verr_th=verr_th, gamma=gamma)
    except CrossSimConvergenceError:
        return None, time.perf_counter() - t0, float("nan"), -1
    return res.output_current, time.perf_counter() - t0, res.gamma, res.total_iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 512, 1024])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pcg-batch-max-size", type=int, default=512)
    parser.add_argument("--crosssim-max-size", type=int, default=1024)
    parser.add_argument("--crosssim-batch-max-size", type=int, default=256)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ngspice = shutil.which("ngspice")
    print(
        f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"cores: {os.cpu_count()}"
    )
    print("CrossSim: its solver re-implemented in benchmarks/crosssim_peer.py (not installable)")
    # load the compiled Numba kernels of the transfer matrix once, outside the timings
    _, load = _timed(CrossbarCircuit(np.full((8, 8), 1e-6), 1.0, 1.0).effective_conductance)
    print(f"first transfer-matrix call (Numba kernels from cache or compiled): {load:.2f} s")
    for n in args.sizes:
        for lo, hi in ((0.1e-6, 10e-6), (1e-6, 100e-6)):
            g = rng.uniform(lo, hi, (n, n))
            v1 = rng.uniform(0.0, 1.0, (1, n))
            vb = rng.uniform(0.0, 1.0, (args.batch, n))
            head = f"{n}x{n} {lo * 1e6:g}-{hi * 1e6:g} uS"
            # ours: transfer matrix
            circuit = CrossbarCircuit(g, 1.0, 1.0, method="cg")
            _, setup = _timed(circuit.effective_conductance)
            t_b1 = statistics.median(
                _timed(circuit.output_current, v1)[1] for _ in range(args.repeat)
            )
            t_bb = statistics.median(
                _timed(circuit.output_current, vb)[1] for _ in range(args.repeat)
            )
            out_b1, out_bb = circuit.output_current(v1), circuit.output_current(vb)
            # ours: node voltages by PCG (the accuracy reference of this table)
            ref_b1, pcg_b1 = _timed(_solve_outputs, circuit, v1)
            pcg_bb = float("nan")
            agree_bb = float("nan")
            if n <= args.pcg_batch_max_size:
                ref_bb, pcg_bb = _timed(_solve_outputs, circuit, vb)
                agree_bb = _rel(out_bb, ref_bb)
            ones = circuit.output_current(np.ones(n))[0]
            ideal = ideal_output(g, np.ones(n))[0]
            ideal_err = float(np.max(np.abs(ideal - ones) / ideal))
            print(f"\n{head}: IR-drop error of the ideal product {ideal_err:.2%}")
            print(
                f"  ours transfer    setup {setup:8.3f} s   batch 1 {t_b1 * 1e3:7.2f} ms   "
                f"batch {args.batch} {t_bb * 1e3:7.2f} ms   vs PCG {_rel(out_b1, ref_b1):.1e} / "
                f"{agree_bb:.1e}"
            )
            print(
                f"  ours PCG nodes   batch 1 {pcg_b1:8.3f} s   batch {args.batch} {pcg_bb:8.3f} s"
            )
            nested = CrossbarCircuit(g, 1.0, 1.0, method="nested")
            _, nd_setup = _timed(nested.factorize)
            nd_out, nd_solve = _timed(_solve_outputs, nested, vb)
            print(
                f"  ours nested      setup {nd_setup:8.3f} s   batch {args.batch} {nd_solve:8.3f} s"
                f"   (node voltages, no iteration)   vs transfer {_rel(nd_out, out_bb):.1e}"
            )
            del nested
            if n <= LU_MAX_SIZE:
                lu = CrossbarCircuit(g, 1.0, 1.0, method="direct")
                _, lu_setup = _timed(lu.factorize)
                lu_out, lu_solve = _timed(_solve_outputs, lu, vb)
                print(
                    f"  sparse LU        setup {lu_setup:8.3f} s   batch {args.batch} "
                    f"{lu_solve:8.3f} s   ours vs LU {_rel(out_bb, lu_out):.1e}   "
                    f"ratio setup+batch LU/ours {(lu_setup + lu_solve) / (setup + t_bb):6.1f}"
                )
            if ngspice is not None and n <= NGSPICE_MAX_SIZE:
                ng_out, ng_time = _timed(_ngspice_outputs, g, v1[0], 1.0)
                print(
                    f"  ngspice          batch 1 {ng_time:8.3f} s   ours vs ngspice "
                    f"{_rel(out_b1[0], ng_out):.1e}   ratio ngspice/ours(setup+batch 1) "
                    f"{ng_time / (setup + t_b1):6.1f}"
                )
            elif ngspice is None:
                print("  ngspice          missing (Debian package ngspice)")
            if n <= args.crosssim_max_size:
                for verr_th in (1e-3, 1e-9):
                    cs1, cs_first, gamma, its = _crosssim(g, v1, verr_th)
                    if cs1 is None:
                        print(
                            f"  CrossSim {verr_th:.0e}   gave up (no gamma converged) after "
                            f"{cs_first:.1f} s"
                        )
                        continue
                    # a warm batch (gamma reused); above --crosssim-batch-max-size a warm
                    # single vector (CrossSim's cost is linear in the batch)
                    vw = vb if n <= args.crosssim_batch_max_size else v1
                    csw, cs_warm, _, its_w = _crosssim(g, vw, verr_th, gamma)
                    ours_w = t_bb if vw is vb else t_b1
                    if csw is None:
                        print(f"  CrossSim {verr_th:.0e}   warm run gave up at gamma {gamma:.3g}")
                        continue
                    print(
                        f"  CrossSim {verr_th:.0e}   batch 1 first call {cs_first:8.3f} s "
                        f"(gamma {gamma:.3g}, {its} its, err {_rel(cs1, ref_b1):.1e})   "
                        f"batch {len(vw)} warm {cs_warm:8.3f} s ({its_w} its, err "
                        f"{_rel(csw, out_bb[: len(vw)] if vw is vb else out_b1):.1e})\n"
                        f"                   ratio CrossSim/ours: first call / (setup + batch 1) "
                        f"{cs_first / (setup + t_b1):6.1f}, warm batch {len(vw)} / (setup + "
                        f"batch {len(vw)}) {cs_warm / (setup + ours_w):6.1f}, warm batch "
                        f"{len(vw)} / batch {len(vw)} {cs_warm / ours_w:8.0f}",
                        flush=True,
                    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
