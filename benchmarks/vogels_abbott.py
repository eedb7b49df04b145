"""Vogels-Abbott benchmark: our backend against Brian2 (cpp_standalone, cython) and NEST.

The CUBA network is Brian2's ``examples/CUBA.py``, COBA is benchmark 1 of Brette et al. 2007
(:func:`snn.models.vogels_abbott`); N = 4000 uses p = 0.02, N = 40000 uses p = 80 / N;
dt = 0.1 ms. Every peer simulates *our* realised network: the same synapses, weights, delays and
initial state, so rates are comparable, and Brian2 (same schedule, see
:mod:`snn.backends.brian2_backend`) should reproduce our spikes exactly.

Peers: ``brian2_standalone`` and ``brian2_cython`` run our realised network through
:mod:`snn.backends.brian2_backend` (spike parity); ``brian2_example`` runs Brian2's own script
(``examples/CUBA.py`` verbatim; COBA written the same way from the paper: one NeuronGroup, two
Synapses) with its own connectivity, the loop time of Brian2 at its best (rates comparable,
spikes not); ``nest`` runs our network in NEST 3. Ours and the Brian2 standalone peers run in
float64 and float32 (``--precisions``; Brian2's ``prefs.core.default_float_dtype``), and each
ratio compares the same precision.

Each configuration runs in a fresh subprocess (Brian2's standalone device is global; each gets
its own build directory), with one thread everywhere (OMP/BLAS/Numba threads, NEST
``local_num_threads``, no OpenMP in standalone). Reported per configuration:

* ``loop s/s``: seconds of the simulation loop per simulated second (ours: wall time of
  ``run`` after a JIT warm-up on a separate simulator; Brian2: the device's ``_last_run_time``,
  which excludes code generation and compilation; NEST: wall time of ``Simulate``);
* ``total s``: everything from the compiled network to the results (code generation, compilation
  or JIT, build, run);
* mean E and I rates (Hz), synaptic events per simulated second (spikes times out-degrees),
  ``ours/peer``: the ratio of loop times (below 1: ours is faster), and ``spikes == ours``:
  whether the peer's spike raster is identical to ours (hash of all (step, neuron) pairs).

Run by hand, not as a test, e.g.::

    python benchmarks/vogels_abbott.py                      # N=4000 and 40000, 1 s and 10 s
    python benchmarks/vogels_abbott.py --sizes 4000 --durations 1
    python benchmarks/vogels_abbott.py --quick --ours numpy # smoke test: N=1000, 0.1 s
"""

from __future__ import annotations

import os

# one thread everywhere, before numpy / numba / brian2 / nest are imported (inherited by workers)
for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import hashlib  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

PEERS = ("brian2_standalone", "brian2_example", "brian2_cython", "nest")
#: peers that also run in float32 (Brian2's ``prefs.core.default_float_dtype``)
FLOAT32_PEERS = ("brian2_standalone", "brian2_example")
PRECISIONS = ("float64", "float32")
MODELS = ("cuba", "coba")
RESULT_MARK = "@@RESULT@@ "

#: which packages each peer needs (a missing one skips the peer with this reason)
PEER_PACKAGES = {
    "brian2_standalone": ("brian2",),
    "brian2_example": ("brian2",),
    "brian2_cython": ("brian2", "Cython"),
    "nest": ("nest",),
}

# ----------------------------------------------------------------------------------------------
# helpers shared by the workers


def build_compiled(kind: str, n: int, seed: int) -> Any:
    from snn.compiled import compile_network
    from snn.models import vogels_abbott

    return compile_network(vogels_abbott(kind, n=n, seed=seed))


def summarize(
    compiled: Any, duration: float, spikes: dict[int, tuple[NDArray[np.int64], NDArray[np.int64]]]
) -> dict[str, Any]:
    """Rates, synaptic events per second and a hash of the raster, from (steps, ids) per pop."""
    out_degree = [np.zeros(p.size, np.int64) for p in compiled.populations]
    for proj in compiled.projections:
        out_degree[proj.pre] += np.diff(proj.row_ptr)
    digest = hashlib.sha1()
    rates, counts, events = {}, {}, 0
    for pop in compiled.populations:
        steps, ids = spikes[pop.index]
        order = np.lexsort((ids, steps))
        steps, ids = steps[order].astype(np.int64), ids[order].astype(np.int64)
        digest.update(pop.label.encode() + steps.tobytes() + ids.tobytes())
        counts[pop.label] = int(steps.size)
        rates[pop.label] = steps.size / (pop.size * duration) if duration > 0 else 0.0
        events += int(out_degree[pop.index][ids].sum())
    return {
        "rates": rates,
        "counts": counts,
        "events_per_s": events / duration if duration > 0 else 0.0,
        "raster_sha1": digest.hexdigest(),
        "synapses": int(sum(p.pre_idx.size for p in compiled.projections)),
    }


# ----------------------------------------------------------------------------------------------
# workers: one configuration each, in a fresh process; print one JSON line


def worker_ours(
    backend: str, kind: str, n: int, duration: float, seed: int, precision: str
) -> dict[str, Any]:
    from snn.backends import get_backend

    t_start = time.perf_counter()
    compiled = build_compiled(kind, n, seed)
    n_steps = round(duration / compiled.dt)
    options = {} if precision == "float64" else {"precision": precision}
    make = get_backend(backend).make_simulator
    # JIT warm-up on a throwaway simulator, so that the timed run is the loop alone
    make(compiled, seed, **options).run(10)
    sim = make(compiled, seed, **options)
    t0 = time.perf_counter()
    sim.run(n_steps)
    loop = time.perf_counter() - t0
    rec = sim.recording(n_steps * compiled.dt)
    total = time.perf_counter() - t_start
    spikes = {}
    for pop in compiled.populations:
        sp = rec.spikes[pop.label]
        spikes[pop.index] = (np.rint(sp.times / compiled.dt).astype(np.int64), sp.ids)
    return {"loop_s": loop, "total_s": total, **summarize(compiled, duration, spikes)}


def worker_brian2_cython(kind: str, n: int, duration: float, seed: int) -> dict[str, Any]:
    import brian2 as b2

    from snn.backends.brian2_backend import Brian2Simulator

    t_start = time.perf_counter()
    compiled = build_compiled(kind, n, seed)
    n_steps = round(duration / compiled.dt)
    sim = Brian2Simulator(compiled, seed, codegen_target="cython")
    sim.run(n_steps)
    loop = float(b2.get_device()._last_run_time)
    spikes = {p.index: sim.model.spikes(p.index) for p in compiled.populations}
    total = time.perf_counter() - t_start
    return {"loop_s": loop, "total_s": total, **summarize(compiled, duration, spikes)}


def _brian2_standalone_device(build_dir: str, precision: str) -> None:
    import brian2 as b2

    b2.set_device("cpp_standalone", directory=build_dir, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    b2.prefs.core.default_float_dtype = b2.float32 if precision == "float32" else b2.float64


def worker_brian2_standalone(
    kind: str, n: int, duration: float, seed: int, build_dir: str, precision: str
) -> dict[str, Any]:
    import brian2 as b2

    from snn.backends.brian2_backend import Brian2Model

    _brian2_standalone_device(build_dir, precision)
    t_start = time.perf_counter()
    compiled = build_compiled(kind, n, seed)
    n_steps = round(duration / compiled.dt)
    clock = b2.Clock(dt=compiled.dt * b2.second, name="snn_clock")
    model = Brian2Model(compiled, clock, record=True)
    net = b2.Network(*model.objects(), name="snn_network")
    net.run(n_steps * compiled.dt * b2.second, namespace={})
    b2.device.build(directory=build_dir, compile=True, run=True, debug=False)
    loop = float(b2.device._last_run_time)
    spikes = {p.index: model.spikes(p.index) for p in compiled.populations}
    total = time.perf_counter() - t_start
    return {"loop_s": loop, "total_s": total, **summarize(compiled, duration, spikes)}


def worker_brian2_example(
    kind: str, n: int, duration: float, seed: int, build_dir: str, precision: str
) -> dict[str, Any]:
    """Brian2's own script, cpp_standalone: ``examples/CUBA.py`` verbatim (one NeuronGroup, two
    Synapses, ``method='exact'``), or COBA written the same way from Brette et al. 2007
    benchmark 1 (conductances in units of the leak, ``exponential_euler``, the integration our
    IF_cond_exp uses). Its own random connectivity and initial state: rates are comparable to
    ours, spikes are not. ``p = 80 / N`` for N > 4000, as ours."""
    import brian2 as b2
    from brian2 import ms, mV

    _brian2_standalone_device(build_dir, precision)
    b2.seed(seed)
    t_start = time.perf_counter()
    b2.defaultclock.dt = 0.1 * ms
    n_exc, p = round(0.8 * n), min(1.0, 80.0 / n)
    namespace: dict[str, Any] = {
        "taum": 20 * ms, "taue": 5 * ms, "taui": 10 * ms, "Vt": -50 * mV, "Vr": -60 * mV,
    }  # fmt: skip
    if kind == "cuba":
        namespace.update(El=-49 * mV, we=(60 * 0.27 / 10) * mV, wi=(-20 * 4.5 / 10) * mV)
        eqs = """
        dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
        dge/dt = -ge/taue : volt
        dgi/dt = -gi/taui : volt
        """
        method = "exact"
    else:
        namespace.update(El=-60 * mV, Ee=0 * mV, Ei=-80 * mV, we=6.0 / 10.0, wi=67.0 / 10.0)
        eqs = """
        dv/dt = (-(v-El) + ge*(Ee-v) + gi*(Ei-v))/taum : volt (unless refractory)
        dge/dt = -ge/taue : 1
        dgi/dt = -gi/taui : 1
        """
        method = "exponential_euler"
    group = b2.NeuronGroup(
        n, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms, method=method,
        namespace=namespace,
    )  # fmt: skip
    group.v = "Vr + rand() * (Vt - Vr)"
    if kind == "cuba":
        group.ge, group.gi = 0 * mV, 0 * mV
    else:  # N(40, 15) nS and N(200, 120) nS in units of g_L = 10 nS, clipped at 0
        group.ge = "clip(randn() * 1.5 + 4, 0, inf)"
        group.gi = "clip(randn() * 12 + 20, 0, inf)"
    exc_syn = b2.Synapses(group, group, on_pre="ge += we", namespace=namespace)
    inh_syn = b2.Synapses(group, group, on_pre="gi += wi", namespace=namespace)
    exc_syn.connect(f"i<{n_exc}", p=p)
    inh_syn.connect(f"i>={n_exc}", p=p)
    monitor = b2.SpikeMonitor(group)
    b2.run(duration * b2.second)
    b2.device.build(directory=build_dir, compile=True, run=True, debug=False)
    loop = float(b2.device._last_run_time)
    ids = np.asarray(monitor.i[:], dtype=np.int64)
    n_syn = len(exc_syn) + len(inh_syn)
    total = time.perf_counter() - t_start
    n_e = int((ids < n_exc).sum())
    return {
        "loop_s": loop,
        "total_s": total,
        "rates": {
            "exc": n_e / (n_exc * duration),
            "inh": (ids.size - n_e) / ((n - n_exc) * duration),
        },
        "counts": {"exc": n_e, "inh": int(ids.size - n_e)},
        "events_per_s": ids.size * (n_syn / n) / duration,  # spikes times the mean out-degree
        "raster_sha1": "",
        "synapses": n_syn,
    }


#: our parameter -> (NEST parameter, factor from SI to NEST units), per NEST model
NEST_TRANSLATIONS: dict[str, list[tuple[str, str, float]]] = {
    "iaf_psc_exp": [
        ("tau_m", "tau_m", 1e3),  # s -> ms
        ("cm", "C_m", 1e12),  # F -> pF
        ("v_rest", "E_L", 1e3),  # V -> mV
        ("v_reset", "V_reset", 1e3),
        ("v_thresh", "V_th", 1e3),
        ("tau_refrac", "t_ref", 1e3),
        ("tau_syn_E", "tau_syn_ex", 1e3),
        ("tau_syn_I", "tau_syn_in", 1e3),
        ("i_offset", "I_e", 1e12),  # A -> pA
    ],
    "iaf_cond_exp": [
        ("cm", "C_m", 1e12),
        ("v_rest", "E_L", 1e3),
        ("v_reset", "V_reset", 1e3),
        ("v_thresh", "V_th", 1e3),
        ("tau_refrac", "t_ref", 1e3),
        ("tau_syn_E", "tau_syn_ex", 1e3),
        ("tau_syn_I", "tau_syn_in", 1e3),
        ("i_offset", "I_e", 1e12),
        ("e_rev_E", "E_ex", 1e3),
        ("e_rev_I", "E_in", 1e3),
    ],
}
#: our neuron model -> NEST model, weight factor (A -> pA or S -> nS), state variables
NEST_MODELS = {
    "IF_curr_exp": ("iaf_psc_exp", 1e12, {"v": ("V_m", 1e3)}),
    "IF_cond_exp": (
        "iaf_cond_exp",
        1e9,
        {"v": ("V_m", 1e3), "gsyn_exc": ("g_ex", 1e9), "gsyn_inh": ("g_in", 1e9)},
    ),
}


def worker_nest(kind: str, n: int, duration: float, seed: int) -> dict[str, Any]:
    import nest

    t_start = time.perf_counter()
    compiled = build_compiled(kind, n, seed)
    dt_ms = compiled.dt * 1e3
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": dt_ms, "local_num_threads": 1, "rng_seed": seed + 1})
    nodes = []
    for pop in compiled.populations:
        nest_model, _, states = NEST_MODELS[pop.model.name]
        params = {
            nest_name: pop.params[ours] * factor
            for ours, nest_name, factor in NEST_TRANSLATIONS[nest_model]
        }
        if nest_model == "iaf_cond_exp":
            params["g_L"] = pop.params["cm"] / pop.params["tau_m"] * 1e9  # S -> nS
        node = nest.Create(nest_model, pop.size)
        node.set({k: v.tolist() for k, v in params.items()})
        node.set({name: (pop.initial[ours] * f).tolist() for ours, (name, f) in states.items()})
        nodes.append(node)
    for proj in compiled.projections:
        _, weight_factor, _ = NEST_MODELS[compiled.populations[proj.post].model.name]
        sign = 1.0 if proj.receptor == 0 else -1.0  # NEST: negative weight = inhibitory
        first_pre = nodes[proj.pre].tolist()[0]
        first_post = nodes[proj.post].tolist()[0]
        nest.Connect(
            (proj.pre_idx + first_pre).astype(np.int64),
            (proj.post_idx + first_post).astype(np.int64),
            conn_spec="one_to_one",
            syn_spec={
                "synapse_model": "static_synapse",
                "weight": sign * proj.weights * weight_factor,
                "delay": proj.delays * dt_ms,
            },
        )
    recorders = []
    for node in nodes:
        recorder = nest.Create("spike_recorder")
        nest.Connect(node, recorder)
        recorders.append(recorder)
    t0 = time.perf_counter()
    nest.Simulate(duration * 1e3)
    loop = time.perf_counter() - t0
    spikes = {}
    for pop, node, recorder in zip(compiled.populations, nodes, recorders, strict=True):
        events = recorder.get("events")
        # NEST stamps a spike at the end of its step; our step index is the start of it
        steps = np.rint(np.asarray(events["times"]) / dt_ms).astype(np.int64) - 1
        ids = np.asarray(events["senders"], dtype=np.int64) - node.tolist()[0]
        spikes[pop.index] = (steps, ids)
    total = time.perf_counter() - t_start
    return {"loop_s": loop, "total_s": total, **summarize(compiled, duration, spikes)}


def run_worker(args: argparse.Namespace) -> None:
    kind, n, duration, seed, precision = (
        args.model,
        args.n,
        args.duration,
        args.seed,
        args.precision,
    )
    if args.worker == "ours":
        result = worker_ours(args.ours, kind, n, duration, seed, precision)
    elif args.worker == "brian2_cython":
        result = worker_brian2_cython(kind, n, duration, seed)
    elif args.worker == "brian2_standalone":
        result = worker_brian2_standalone(kind, n, duration, seed, args.build_dir, precision)
    elif args.worker == "brian2_example":
        result = worker_brian2_example(kind, n, duration, seed, args.build_dir, precision)
    elif args.worker == "nest":
        result = worker_nest(kind, n, duration, seed)
    else:
        raise ValueError(f"unknown worker {args.worker!r}; valid choices: ours, {', '.join(PEERS)}")
    print(RESULT_MARK + json.dumps(result), flush=True)


# ----------------------------------------------------------------------------------------------
# driver


def launch(
    worker: str, kind: str, n: int, duration: float, precision: str, args: argparse.Namespace
) -> dict[str, Any]:
    """Run one configuration in a fresh Python process and return its result (or its error)."""
    build_dir = tempfile.mkdtemp(prefix=f"va_{worker}_{kind}_{n}_", dir=args.build_root)
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        worker,
        "--model",
        kind,
        "--n",
        str(n),
        "--duration",
        str(duration),
        "--seed",
        str(args.seed),
        "--ours",
        args.ours,
        "--precision",
        precision,
        "--build-dir",
        build_dir,
    ]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.timeout} s"}
    finally:
        if not args.keep_builds:
            shutil.rmtree(build_dir, ignore_errors=True)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARK) :])
            result["process_s"] = time.perf_counter() - t0
            return result
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}


def peer_unavailable(peer: str) -> str | None:
    for package in PEER_PACKAGES[peer]:
        if importlib.util.find_spec(package) is None:
            return f"package {package!r} is not installed"
    return None


def format_table(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'model':5} {'N':>6} {'T s':>5} {'simulator':30} {'loop s/s':>9} {'total s':>8} "
        f"{'E Hz':>6} {'I Hz':>6} {'syn ev/s':>10} {'ours/peer':>9} {'spikes==ours':>12}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        r = row["result"]
        head = f"{row['model']:5} {row['n']:>6} {row['duration']:>5g} {row['simulator']:30}"
        if "error" in r:
            lines.append(f"{head} ERROR {r['error'][:200]}")
            continue
        loop_per_s = r["loop_s"] / row["duration"]
        ratio = row.get("ratio")
        same = row.get("same_spikes")
        lines.append(
            f"{head} {loop_per_s:9.4f} {r['total_s']:8.2f} {r['rates'].get('exc', 0.0):6.2f} "
            f"{r['rates'].get('inh', 0.0):6.2f} {r['events_per_s']:10.3g} "
            f"{'' if ratio is None else f'{ratio:.2f}':>9} "
            f"{'' if same is None else ('yes' if same else 'NO'):>12}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4000, 40000])
    parser.add_argument("--durations", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--peers", nargs="*", choices=PEERS, default=list(PEERS))
    parser.add_argument("--ours", default="numba", help="our backend name (default: numba)")
    parser.add_argument(
        "--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS),
        help="ours and the Brian2 standalone peers run in each (others: float64 only)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="smoke test: N=1000, 0.1 s")
    parser.add_argument("--timeout", type=float, default=3600.0, help="per configuration (s)")
    parser.add_argument("--build-root", default=None, help="where Brian2 build dirs are made")
    parser.add_argument("--keep-builds", action="store_true")
    parser.add_argument("--json", default=None, help="also write all results to this file")
    # internal: run one configuration (used by the driver's subprocesses)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--model", default="cuba", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=4000, help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--build-dir", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="float64", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker is not None:
        run_worker(args)
        return
    if args.quick:
        args.sizes, args.durations = [1000], [0.1]
    peers = []
    for peer in args.peers:
        reason = peer_unavailable(peer)
        if reason is None:
            peers.append(peer)
        else:
            print(f"skipping {peer}: {reason}", file=sys.stderr)

    rows: list[dict[str, Any]] = []
    for kind in args.models:
        for n in args.sizes:
            for duration in args.durations:
                config = {"model": kind, "n": n, "duration": duration}
                first = len(rows)
                ours: dict[str, dict[str, Any]] = {}
                for prec in args.precisions:
                    name = f"ours ({args.ours}) {prec}"
                    print(f"{kind} N={n} T={duration:g} s: {name} ...", file=sys.stderr)
                    ours[prec] = launch("ours", kind, n, duration, prec, args)
                    rows.append({**config, "simulator": name, "result": ours[prec]})
                for peer in peers:
                    for prec in args.precisions if peer in FLOAT32_PEERS else ["float64"]:
                        print(f"{kind} N={n} T={duration:g} s: {peer} {prec} ...", file=sys.stderr)
                        result = launch(peer, kind, n, duration, prec, args)
                        row: dict[str, Any] = {
                            **config, "simulator": f"{peer} {prec}", "result": result
                        }  # fmt: skip
                        mine = ours.get(prec, ours.get("float64", {"error": "not run"}))
                        if "error" not in result and "error" not in mine:
                            row["ratio"] = mine["loop_s"] / result["loop_s"]
                            if peer != "nest" and result["raster_sha1"]:  # same schedule
                                row["same_spikes"] = result["raster_sha1"] == mine["raster_sha1"]
                        rows.append(row)
                print(format_table(rows[first:]), file=sys.stderr)
    print(format_table(rows))
    if "nest" in peers:
        print(
            "NEST follows its own schedule (a spike is stamped at the end of its step, so every "
            "delay is one step longer than ours; iaf_cond_exp integrates with RKF45): its rates "
            "differ, and COBA's self-sustained activity can die out after the initial transient."
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
