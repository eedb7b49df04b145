"""CA3 content-addressable memory: speed, memory footprint, and the same network on NEST.

Run by hand (threads are pinned to one before NumPy or Numba are imported)::

    python benchmarks/ca3_memory.py                      # sizes 16 and 100, NEST comparison
    python benchmarks/ca3_memory.py --sizes 16 100 1000 --json ca3.json

Three parts:

1. **Operations per second** for ``cue_size = content_size = n`` on each backend that implements
   the SpiNNaker semantics (``BACKENDS.get(name).semantics``; the others are reported as not
   supported yet). One random sequence of learn (half of them overwrites) / recall-by-cue /
   recall-by-content operations is run through :class:`snn.models.ca3.CA3Memory` in one batch,
   as a user would. ``ops/s`` is operations per wall-clock second end to end (building the
   network, compiling, simulating, decoding); ``sim ops/s`` counts the simulation only
   (``net.run`` of the same network, built once more). The answers are checked against a
   plain-Python memory (``wrong`` column).
2. **The largest memory in a budget** (default 8 GB = 8e9 bytes). Each of a few sizes runs in a
   fresh process that reports its peak resident memory (``ru_maxrss``) after a short batch, and
   the baseline after the imports. ``peak - baseline`` is fitted as ``a * synapses + b``
   (least squares; the neurons, ``10 n + 1``, are too few to separate from the constant). The
   synapse count of the memory is exact (``3 c n + 2 c (c - 1) + 5 c + 8 n``, checked against
   the built networks), so the largest ``n`` with ``baseline + a * synapses(n) + b`` within the
   budget is the estimate. What the bytes are: the frontend keeps ``pre``, ``post`` (int64),
   ``weight`` (float64) and ``delay`` per synapse; the compiled network and the simulator keep
   their own copies (plastic weights, per-synapse STDP state): about 36 B per synapse stay
   resident once built (measured with tracemalloc at n = 1000). The peak is set by the NumPy
   temporaries of the lazy STDP updates while a learn presents a large content (every content
   neuron's row of n synapses at once): with contents of up to n bits, as here, about 210 B per
   synapse; with contents of at most 8 bits about 50 B. The estimate is for the former.
3. **NEST** (``snn.deploy(net, target="nest")``, PyNN 0.13 / NEST 3.10): the experiments' input
   spikes (exp1, exp3 of ``shared/conformance/ca3_cam_spinnaker``) on the same network, every
   population's spikes compared row by row with the hardware tables, as
   ``tests/test_ca3_conformance.py`` does on our backends. NEST cannot emit a spike source's
   spike at t = 0 or t = dt (design rule ``spike_time_range``), so every input is given 2 ms
   later and NEST's spikes are moved back by the shift that makes the input echoes (INcue,
   INcont: the same spikes on both) coincide with the tables. NEST integrates IF_curr_exp exactly
   and runs NEST's own STDP, not sPyNNaker's discrete update order, so the rows are not expected
   to match: the numbers say by how much they do not.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import importlib.util  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from snn.backends import BACKENDS  # noqa: E402
from snn.models.ca3 import (  # noqa: E402
    RECORDERS,
    CA3Memory,
    Operation,
    ca3_memory,
    random_operations,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "ca3_cam_spinnaker"
NEST_EXPERIMENTS = ("exp1_learn_recall_forget", "exp3_state_map")
INPUT_ECHOES = ("INcue", "INcont")
#: ms added to every input spike on NEST (it cannot emit a source spike at 0 or 1 ms)
NEST_INPUT_SHIFT_MS = 2
MS = 1e-3


# -- 1. operations per second ---------------------------------------------------------------------
def expected_answers(ops: list[Operation]) -> list[tuple[int, ...] | None]:
    """What a plain content-addressable memory answers (None for a learn)."""
    store: dict[int, set[int]] = {}
    out: list[tuple[int, ...] | None] = []
    for op in ops:
        if op.kind == "learn":
            assert op.cue is not None
            store[op.cue] = set(op.content)
            out.append(None)
        elif op.kind == "recall_by_cue":
            assert op.cue is not None
            out.append(tuple(sorted(store.get(op.cue, set()))))
        else:
            out.append(tuple(sorted(c for c, bits in store.items() if bits & set(op.content))))
    return out


def semantics_support(backend: str) -> str | None:
    """None if ``backend`` runs the SpiNNaker semantics here, else why not."""
    if backend not in BACKENDS:
        return "not registered"
    b = BACKENDS.get(backend)
    if "spinnaker" not in b.semantics:
        return "not supported yet"
    return b.unavailable_reason()


def time_operations(n: int, backend: str, count: int, seed: int) -> dict[str, Any]:
    ops = random_operations(random.Random(seed), n, n, count)
    mem = CA3Memory(n, n, backend=backend)
    if backend != "numpy":  # compile the kernels outside the timed run
        CA3Memory(n, n, backend=backend).run(ops[:2])
    start = time.perf_counter()
    results = mem.run(ops)
    total = time.perf_counter() - start
    wrong = 0
    for op, result, want in zip(ops, results, expected_answers(ops), strict=True):
        if want is not None:
            got = result.content if op.kind == "recall_by_cue" else result.cues
            wrong += got != want
    start = time.perf_counter()
    net = mem.network()
    build = time.perf_counter() - start
    sim_ms = mem.presentations[-1].start_ms + 12
    start = time.perf_counter()
    net.run(sim_ms * MS, backend=backend)
    sim = time.perf_counter() - start
    synapses = sum(p.size for p in net.projections)
    return {
        "n": n,
        "backend": backend,
        "operations": count,
        "recalls": sum(1 for op in ops if op.kind != "learn"),
        "wrong": wrong,
        "presentations": len(mem.presentations),
        "simulated_ms": sim_ms,
        "synapses": synapses,
        "wall_s": total,
        "build_s": build,
        "sim_s": sim,
        "ops_per_s": count / total,
        "sim_ops_per_s": count / sim,
    }


# -- 2. memory footprint --------------------------------------------------------------------------
def synapse_count(c: int, n: int) -> int:
    """Synapses of :func:`ca3_memory` (c cues, n content bits), projection by projection."""
    one_to_one = 5 * c + 8 * n  # IL_cue, cue->cue_content, 3 merge/output c; 8 n on content side
    return one_to_one + 3 * c * n + 2 * c * (c - 1)  # inhibit cond + 2 plastic; 2 "no self"


def peak_rss_bytes() -> int:
    """This process's peak resident memory.

    Linux's ``VmHWM`` belongs to the current program; ``ru_maxrss`` survives ``exec`` and would
    report the parent's peak in a freshly started child.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure_memory_child(n: int) -> None:
    """Child process: baseline RSS after imports, then a short batch; print JSON."""
    base = peak_rss_bytes()
    ops = random_operations(random.Random(1), n, n, 6)
    mem = CA3Memory(n, n)
    start = time.perf_counter()
    mem.run(ops)
    wall = time.perf_counter() - start
    peak = peak_rss_bytes()
    net = mem.network()
    print(
        json.dumps(
            {
                "n": n,
                "baseline_bytes": base,
                "peak_bytes": peak,
                "synapses": sum(p.size for p in net.projections),
                "neurons": sum(p.size for p in net.populations if not p.model.is_source),
                "wall_s": wall,
                "simulated_ms": mem.presentations[-1].start_ms + 12,
            }
        )
    )


def measure_memory(sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(n)],
            check=True,
            capture_output=True,
            text=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        if row["synapses"] != synapse_count(n, n):
            raise RuntimeError(f"synapse_count({n}, {n}) disagrees with the network")
        rows.append(row)
    return rows


def largest_memory(rows: list[dict[str, Any]], budget_bytes: float) -> dict[str, Any]:
    syn = np.array([r["synapses"] for r in rows], dtype=np.float64)
    extra = np.array([r["peak_bytes"] - r["baseline_bytes"] for r in rows], dtype=np.float64)
    per_synapse, constant = np.linalg.lstsq(np.column_stack([syn, np.ones_like(syn)]), extra)[0]
    baseline = max(r["baseline_bytes"] for r in rows)
    n = 1
    while baseline + constant + per_synapse * synapse_count(2 * n, 2 * n) <= budget_bytes:
        n *= 2
    lo, hi = n, 2 * n  # lo fits, hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        fits = baseline + constant + per_synapse * synapse_count(mid, mid) <= budget_bytes
        lo, hi = (mid, hi) if fits else (lo, mid)
    return {
        "bytes_per_synapse": float(per_synapse),
        "constant_bytes": float(constant),
        "baseline_bytes": float(baseline),
        "budget_bytes": float(budget_bytes),
        "largest_n": lo,
        "synapses_at_largest": synapse_count(lo, lo),
        "estimated_peak_bytes": float(baseline + constant + per_synapse * synapse_count(lo, lo)),
    }


# -- 3. NEST -------------------------------------------------------------------------------------
Rows = dict[tuple[str, int], list[int]]


def table_rows(data: dict[str, Any]) -> Rows:
    return {
        (label, int(t)): sorted(ids)
        for label, table in data["recorded_on_spinnaker"].items()
        for t, ids in table.items()
    }


def recording_rows(rec: Any, c: int, shift_steps: int) -> Rows:
    rows: Rows = {}
    for label, (_, half) in RECORDERS.items():
        sp = rec.spikes[label]
        offset = c if half == "content" else 0
        for t, i in zip(np.rint(sp.times / rec.dt).astype(int), sp.ids, strict=True):
            rows.setdefault((label, int(t) + shift_steps), []).append(int(i) - offset)
    return {k: sorted(v) for k, v in rows.items()}


def row_matches(table: Rows, ours: Rows, labels: tuple[str, ...] | None = None) -> tuple[int, int]:
    """(matching rows, rows): a row is a (population, ms) where either side has a spike."""
    keys = {k for k in set(table) | set(ours) if labels is None or k[0] in labels}
    return sum(1 for k in keys if table.get(k, []) == ours.get(k, [])), len(keys)


def nest_comparison(name: str) -> dict[str, Any]:
    from snn.hardware import deploy

    with open(DATA / f"{name}.json") as f:
        data = json.load(f)
    c, n = data["cue_size"], data["content_size"]
    spikes = data["input_spikes_ms"]
    table = table_rows(data)
    inner = tuple(label for label in RECORDERS if label not in INPUT_ECHOES)
    outputs = ("OUTcue", "OUTcont")
    result: dict[str, Any] = {"experiment": name, "cue_size": c, "content_size": n}

    reference = ca3_memory(
        c, n, *[[[t * MS for t in ts] for ts in spikes[k]] for k in ("cue", "content")]
    )
    ours = recording_rows(reference.run(data["sim_time_ms"] * MS, backend="numpy"), c, 0)
    result["numpy_spinnaker"] = {
        "all": row_matches(table, ours),
        "recorded_10": row_matches(table, ours, inner),
        "outputs": row_matches(table, ours, outputs),
    }

    shift = NEST_INPUT_SHIFT_MS
    net = ca3_memory(
        c, n, *[[[(t + shift) * MS for t in ts] for ts in spikes[k]] for k in ("cue", "content")]
    )
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # NEST's banner and PyNN's STDP notice
        deployment = deploy(net, "nest", duration=(data["sim_time_ms"] + shift) * MS)
    wall = time.perf_counter() - start
    rec = deployment.recording
    assert rec is not None
    # align on the input echoes (the same spikes on both sides)
    candidates = range(-shift - 2, -shift + 3)
    echo = {s: row_matches(table, recording_rows(rec, c, s), INPUT_ECHOES)[0] for s in candidates}
    align = max(candidates, key=lambda s: (echo[s], -abs(s + shift)))
    theirs = recording_rows(rec, c, align)
    result["nest"] = {
        "wall_s": wall,
        "input_shift_ms": shift,
        "alignment_steps": align,
        "echoes": row_matches(table, theirs, INPUT_ECHOES),
        "all": row_matches(table, theirs),
        "recorded_10": row_matches(table, theirs, inner),
        "outputs": row_matches(table, theirs, outputs),
        "spikes_nest": {k: int(rec.spikes[k].count) for k in RECORDERS},
        "spikes_board": {
            k: sum(len(v) for v in data["recorded_on_spinnaker"][k].values()) for k in RECORDERS
        },
    }
    return result


# -- report --------------------------------------------------------------------------------------
def _frac(pair: tuple[int, int] | list[int]) -> str:
    return f"{pair[0]}/{pair[1]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 100])
    parser.add_argument("--ops", type=int, default=40, help="operations per timed batch")
    parser.add_argument("--backends", nargs="+", default=["numpy", "numba"])
    parser.add_argument("--memory-sizes", type=int, nargs="+", default=[250, 500, 1000])
    parser.add_argument("--budget-gb", type=float, default=8.0, help="1 GB = 1e9 bytes")
    parser.add_argument("--no-nest", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every number here")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child is not None:
        measure_memory_child(args.memory_child)
        return 0

    report: dict[str, Any] = {"throughput": [], "unsupported": {}}
    print("1. operations per second (one batch per row; cue_size = content_size = n)")
    header = (
        f"  {'n':>5} {'backend':8} {'ops':>4} {'wrong':>5} {'sim ms':>7} {'synapses':>10} "
        f"{'wall s':>7} {'build s':>7} {'sim s':>6} {'ops/s':>7} {'sim ops/s':>9}"
    )
    print(header)
    for backend in args.backends:
        reason = semantics_support(backend)
        if reason is not None:
            report["unsupported"][backend] = reason
            print(f"  {backend}: {reason}")
            continue
        for n in args.sizes:
            r = time_operations(n, backend, args.ops, seed=n)
            report["throughput"].append(r)
            print(
                f"  {n:>5} {backend:8} {r['operations']:>4} {r['wrong']:>5} "
                f"{r['simulated_ms']:>7} {r['synapses']:>10,} {r['wall_s']:>7.2f} "
                f"{r['build_s']:>7.2f} {r['sim_s']:>6.2f} {r['ops_per_s']:>7.1f} "
                f"{r['sim_ops_per_s']:>9.1f}",
                flush=True,
            )

    print(f"\n2. memory (NumPy, peak RSS of a fresh process); budget {args.budget_gb:g} GB")
    mem_rows = measure_memory(args.memory_sizes)
    print(f"  {'n':>5} {'synapses':>11} {'peak MB':>8} {'baseline MB':>11} {'B/synapse':>9}")
    for r in mem_rows:
        extra = r["peak_bytes"] - r["baseline_bytes"]
        print(
            f"  {r['n']:>5} {r['synapses']:>11,} {r['peak_bytes'] / 1e6:>8.0f} "
            f"{r['baseline_bytes'] / 1e6:>11.0f} {extra / r['synapses']:>9.1f}"
        )
    fit = largest_memory(mem_rows, args.budget_gb * 1e9)
    report["memory"] = {"sizes": mem_rows, "fit": fit}
    print(
        f"  fit: {fit['bytes_per_synapse']:.1f} B per synapse + {fit['constant_bytes'] / 1e6:.0f} "
        f"MB over a {fit['baseline_bytes'] / 1e6:.0f} MB baseline -> largest memory in "
        f"{args.budget_gb:g} GB: n = {fit['largest_n']} ({fit['synapses_at_largest']:,} "
        f"synapses, {fit['estimated_peak_bytes'] / 1e9:.2f} GB)"
    )

    if not args.no_nest:
        print("\n3. the same network on NEST via PyNN (rows = (population, ms) with a spike)")
        if importlib.util.find_spec("pyNN") is None or importlib.util.find_spec("nest") is None:
            print("  skipped: PyNN and nest-simulator are not installed")
        elif not DATA.is_dir():
            print(f"  skipped: conformance data not found at {DATA}")
        else:
            report["nest"] = []
            print(
                f"  {'experiment':26} {'simulator':16} {'all rows':>9} {'10 pops':>9} "
                f"{'outputs':>8} {'echoes':>7}"
            )
            shift_ms = NEST_INPUT_SHIFT_MS
            for name in NEST_EXPERIMENTS:
                r = nest_comparison(name)
                report["nest"].append(r)
                ref, ne = r["numpy_spinnaker"], r["nest"]
                print(
                    f"  {name:26} {'numpy spinnaker':16} {_frac(ref['all']):>9} "
                    f"{_frac(ref['recorded_10']):>9} {_frac(ref['outputs']):>8}"
                )
                print(
                    f"  {'':26} {'NEST 3 (PyNN)':16} {_frac(ne['all']):>9} "
                    f"{_frac(ne['recorded_10']):>9} {_frac(ne['outputs']):>8} "
                    f"{_frac(ne['echoes']):>7}   ({ne['wall_s']:.2f} s; echoes align at "
                    f"{ne['alignment_steps'] + shift_ms:+d} step after the input shift)"
                )
                counts = ", ".join(
                    f"{k} {ne['spikes_nest'][k]}/{ne['spikes_board'][k]}"
                    for k in RECORDERS
                    if k not in INPUT_ECHOES
                )
                print(f"  {'':26} spikes NEST/board: {counts}")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
