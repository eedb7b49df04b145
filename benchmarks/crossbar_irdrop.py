"""Exact IR-drop solve of square crossbars: Schur-complement PCG vs scipy sparse LU vs ngspice.

Run by hand: ``python benchmarks/crossbar_irdrop.py [--sizes 64 256 512 1024] [--batches 1 64]``.
Devices uniform in 0.1-10 uS and 1-100 uS, 1 ohm word- and bit-line segments, inputs uniform in
[0, 1] V. Reports setup (factorization) and solve times, agreement with the references, and the
worst-output error of the ideal product V @ G with all inputs at 1 V (the IR-drop error).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from snn.hardware.crossbar import CrossbarCircuit, ideal_output

LU_MAX_SIZE = 512  # DESIGN.md: sparse LU took 51 s and ~4 GB at 1024 x 1024
NGSPICE_MAX_SIZE = 64  # ngspice-39 took ~25 s at 96 x 96 and > 10 min at 256 x 256 here


def _ngspice_outputs(g: np.ndarray, v: np.ndarray, r: float) -> np.ndarray:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_crossbar_circuit import _ngspice_solve  # the tests' netlist writer and parser

    with tempfile.TemporaryDirectory() as tmp:
        out, _, _ = _ngspice_solve(g, r, r, v, Path(tmp))
    return out


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 512, 1024])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ngspice = shutil.which("ngspice")
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print("CrossSim 3.2: not installable here (pip cannot fetch it, no source release offline)")
    print(
        "size  devices   batch  setup_s  solve_s  its  resid     ideal_err  "
        "lu_setup_s lu_solve_s lu_agree  ngspice_s ngspice_agree"
    )
    for n in args.sizes:
        for lo, hi in ((0.1e-6, 10e-6), (1e-6, 100e-6)):
            g = rng.uniform(lo, hi, (n, n))
            circuit = CrossbarCircuit(g, 1.0, 1.0, method="cg")
            t0 = time.perf_counter()
            circuit.factorize()
            setup = time.perf_counter() - t0
            ones = circuit.solve(np.ones(n)).output_current[0]
            ideal = ideal_output(g, np.ones(n))[0]
            ideal_err = float(np.max(np.abs(ideal - ones) / ideal))  # relative to ideal
            lu: CrossbarCircuit | None = None
            lu_setup = float("nan")
            if n <= LU_MAX_SIZE:
                lu = CrossbarCircuit(g, 1.0, 1.0, method="direct")
                t0 = time.perf_counter()
                lu.factorize()
                lu_setup = time.perf_counter() - t0
            for batch in args.batches:
                v = rng.uniform(0.0, 1.0, (batch, n))
                t0 = time.perf_counter()
                sol = circuit.solve(v)
                out = sol.output_current
                solve = time.perf_counter() - t0
                lu_cols = "  skipped (> 60 s / 4 GB)       "
                if lu is not None:
                    t0 = time.perf_counter()
                    lu_out = lu.solve(v).output_current
                    lu_solve = time.perf_counter() - t0
                    lu_cols = f"  {lu_setup:9.3f} {lu_solve:9.3f}  {_rel(out, lu_out):8.1e}"
                ng_cols = "  skipped"
                if ngspice is None:
                    ng_cols = "  ngspice missing"
                elif n <= NGSPICE_MAX_SIZE and batch == 1:
                    t0 = time.perf_counter()
                    ng_out = _ngspice_outputs(g, v[0], 1.0)
                    ng_time = time.perf_counter() - t0
                    ng_cols = f"  {ng_time:8.2f}  {_rel(out[0], ng_out):8.1e}"
                print(
                    f"{n:5d} {lo * 1e6:g}-{hi * 1e6:g}uS {batch:5d} {setup:8.3f} {solve:8.3f} "
                    f"{sol.iterations.max():4d}  {sol.residual.max():8.1e}  {ideal_err:8.2%}"
                    f"{lu_cols}{ng_cols}",
                    flush=True,
                )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
