"""GPU scaling of the Vogels-Abbott networks: the ``cuda`` backend against the Numba CPU backend.

CUBA and COBA (:func:`snn.models.vogels_abbott`, dt = 0.1 ms, p = 80 / N) at N = 4e3, 4e4, 4e5
and 1e6 neurons, 1 s simulated. Per configuration it prints

* ``setup s``: building the simulator (lowering, host-to-device copies), not in the loop time;
* ``loop s``: wall seconds of ``run`` (the whole simulated duration, spike recording included),
  after a warm-up that compiled every kernel; ``RTF``: loop seconds per simulated second (below
  1: faster than real time);
* ``events/s``: synaptic events (spikes times out-degrees) per wall second of the loop, and the
  mean E and I rates;
* ``= numba``: whether the spike raster equals the Numba backend's in the same precision on the
  same network (the exact ``gather`` configurations must say ``yes``; ``scatter`` may diverge in
  chaotic runs).

CUDA configurations: ``gather64`` (the default: deterministic delivery, float64, bit-identical),
``gather32`` (deterministic delivery, ``precision="float32"``, bit-identical to the float32
reference), ``scatter64`` (atomic delivery, float64), ``scatter32`` (atomic delivery, float32).
The CPU backend (one thread) runs in each precision that a selected configuration uses
(``numba64``, ``numba32``); it is skipped at a size where its loop time, extrapolated linearly
in N from the previous size, exceeds ``--cpu-limit`` or the time left in ``--budget``.

Connectivity: up to N = 40000 the builder's own ``FixedProbability`` draws one uniform per
candidate pair (1.6e9 at N = 40000, seconds); beyond, that would be 1.6e11 to 1e12 draws, so the
builder runs with :class:`SkipSampledFixedProbability`, which samples the same distribution
(every pair independently with probability p) by geometric gaps between connected pairs, in time
proportional to the synapses. Same model, same parameters, another random stream.

Run by hand on a machine with one GPU (whole default run: under 10 minutes on an H100/H200-class
GPU with a few CPU cores; building the N = 1e6 networks takes about a minute each)::

    python benchmarks/gpu_scaling.py
    python benchmarks/gpu_scaling.py --sizes 4000 40000 --models cuba --configs gather64
    python benchmarks/gpu_scaling.py --sim   # no GPU: N = 4000 for 1 ms on Numba's CUDA
                                             # simulator (checks the script; timings meaningless)
"""

from __future__ import annotations

import os
import sys

# one thread for the CPU backend and NumPy, before they are imported
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"
if "--sim" in sys.argv:  # before numba.cuda is first imported
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import hashlib  # noqa: E402
import importlib  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any, Literal  # noqa: E402

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from snn.backends import available, get_backend  # noqa: E402
from snn.compiled import CompiledNetwork, compile_network  # noqa: E402
from snn.connectors import FixedProbability  # noqa: E402
from snn.models import vogels_abbott  # noqa: E402

IntArray = NDArray[np.int64]

Kind = Literal["cuba", "coba"]
SIZES = (4000, 40000, 400000, 1000000)
MODELS = ("cuba", "coba")
#: cuda configurations: name -> backend options
CONFIGS: dict[str, dict[str, Any]] = {
    "gather64": {"precision": "float64", "delivery": "gather"},
    "gather32": {"precision": "float32", "delivery": "gather"},
    "scatter64": {"precision": "float64", "delivery": "scatter"},
    "scatter32": {"precision": "float32", "delivery": "scatter"},
}
#: the Numba reference run of each precision
CPU_CONFIGS: dict[str, dict[str, Any]] = {
    "numba64": {"precision": "float64"},
    "numba32": {"precision": "float32"},
}
#: largest N built with the builder's own FixedProbability (one uniform per candidate pair)
DENSE_DRAW_LIMIT = 40000


@dataclass(frozen=True)
class SkipSampledFixedProbability(FixedProbability):
    """``FixedProbability`` sampled by geometric gaps: O(synapses) time instead of O(pairs).

    Connected pairs of a Bernoulli(p) sequence over the ``n_pre * n_post`` candidate pairs
    (pre-major) are at the cumulative sums of Geometric(p) gaps, which is the same distribution
    as one uniform per pair compared with p.
    """

    def connect(
        self,
        pre_ids: IntArray,
        post_ids: IntArray,
        same_population: bool,
        rng: np.random.Generator,
    ) -> tuple[IntArray, IntArray]:
        n_post = post_ids.size
        total = pre_ids.size * n_post
        p = float(self.p)
        if total == 0 or p <= 0.0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        if p >= 1.0:
            flat = np.arange(total, dtype=np.int64)
        else:
            parts, last = [], -1
            while last < total:
                expected = (total - last) * p
                gaps = rng.geometric(p, size=int(expected + 10 * math.sqrt(expected) + 1024))
                positions = last + np.cumsum(gaps, dtype=np.int64)
                parts.append(positions)
                last = int(positions[-1])
            flat = np.concatenate(parts)
            flat = flat[flat < total]
        pre, post = flat // n_post, flat % n_post
        if same_population and not self.allow_self_connections:
            keep = pre_ids[pre] != post_ids[post]
            pre, post = pre[keep], post[keep]
        return pre, post


@contextlib.contextmanager
def skip_sampled_connectivity() -> Iterator[None]:
    """Make :func:`snn.models.vogels_abbott` connect with :class:`SkipSampledFixedProbability`."""
    module: Any = importlib.import_module("snn.models.vogels_abbott")
    original = module.FixedProbability
    module.FixedProbability = SkipSampledFixedProbability
    try:
        yield
    finally:
        module.FixedProbability = original


def build(kind: Kind, n: int, seed: int) -> CompiledNetwork:
    if n <= DENSE_DRAW_LIMIT:
        return compile_network(vogels_abbott(kind, n=n, seed=seed))
    with skip_sampled_connectivity():
        return compile_network(vogels_abbott(kind, n=n, seed=seed))


def summarize(compiled: CompiledNetwork, rec: Any) -> dict[str, Any]:
    """Spike counts, rates, synaptic events and a hash of the raster."""
    out_degree = [np.zeros(p.size, np.int64) for p in compiled.populations]
    for proj in compiled.projections:
        out_degree[proj.pre] += np.diff(proj.row_ptr)
    digest = hashlib.sha1()
    rates, events = {}, 0
    for pop in compiled.populations:
        sp = rec.spikes[pop.label]
        steps = np.rint(sp.times / compiled.dt).astype(np.int64)
        digest.update(pop.label.encode() + steps.tobytes() + sp.ids.astype(np.int64).tobytes())
        rates[pop.label] = sp.count / (pop.size * rec.duration)
        events += int(out_degree[pop.index][sp.ids].sum())
    return {"rates": rates, "events": events, "sha1": digest.hexdigest()}


def run_one(
    compiled: CompiledNetwork, backend: str, options: dict[str, Any], duration: float, seed: int
) -> dict[str, Any]:
    n_steps = round(duration / compiled.dt)
    t0 = time.perf_counter()
    sim = get_backend(backend).make_simulator(compiled, seed, **options)
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim.run(n_steps)
    loop = time.perf_counter() - t0
    rec = sim.recording(n_steps * compiled.dt)
    return {"setup": setup, "loop": loop, **summarize(compiled, rec)}


def cpu_configs(configs: list[str]) -> list[str]:
    """The Numba runs that the cuda configurations are compared with (one per precision)."""
    precisions = {CONFIGS[name]["precision"] for name in configs}
    return [name for name, options in CPU_CONFIGS.items() if options["precision"] in precisions]


def warm_up(configs: list[str], seed: int) -> None:
    """Compile every kernel once (the kernels' argument types do not depend on N)."""
    compiled = build("coba", 200, seed)
    for name in configs:
        run_one(compiled, "cuda", CONFIGS[name], 2e-3, seed)
    for name in cpu_configs(configs):
        run_one(compiled, "numba", CPU_CONFIGS[name], 2e-3, seed)


def _row(
    kind: str,
    n: int,
    compiled: CompiledNetwork,
    label: str,
    r: dict[str, Any],
    duration: float,
    same: str,
) -> str:
    synapses = sum(p.weights.size for p in compiled.projections)
    e_rate, i_rate = list(r["rates"].values())
    return (
        f"{kind:5} {n:>8} {synapses:>10} {label:>10} {r['setup']:>8.2f} {r['loop']:>8.3f} "
        f"{r['loop'] / duration:>8.3f} {r['events'] / r['loop']:>9.2e} {e_rate:>6.1f} "
        f"{i_rate:>6.1f} {same:>7}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="network sizes N")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--duration", type=float, default=None, help="simulated s (default 1)")
    parser.add_argument("--budget", type=float, default=540.0, help="wall s for the whole run")
    parser.add_argument("--cpu-limit", type=float, default=60.0, help="most s per CPU run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--sim",
        action="store_true",
        help="no GPU: run N = 4000 for 1 ms on Numba's CUDA simulator (checks the script only)",
    )
    args = parser.parse_args(argv)
    deadline = time.perf_counter() + args.budget
    sizes = args.sizes or ([SIZES[0]] if args.sim else list(SIZES))
    duration = args.duration or (1e-3 if args.sim else 1.0)

    reason = available()["cuda"]
    if reason is not None:
        print(f"gpu_scaling: the cuda backend cannot run here: {reason}", file=sys.stderr)
        print("gpu_scaling: on a machine without a GPU, pass --sim", file=sys.stderr)
        return 2
    from snn.backends.cuda_backend import SIMULATOR

    if SIMULATOR:
        print("NOTE: Numba's CUDA simulator: the timings below say nothing about a GPU\n")
    else:
        from numba import cuda

        print(f"GPU: {cuda.get_current_device().name!r}\n")

    t0 = time.perf_counter()
    warm_up(args.configs, args.seed)
    print(f"warm-up (kernel compilation): {time.perf_counter() - t0:.1f} s\n")
    header = (
        f"{'model':5} {'N':>8} {'synapses':>10} {'backend':>10} {'setup s':>8} {'loop s':>8} "
        f"{'RTF':>8} {'events/s':>9} {'E Hz':>6} {'I Hz':>6} {'= numba':>7}"
    )
    print(header)
    print("-" * len(header))
    # seconds per neuron of the last CPU run (per model and precision) and build, to skip what
    # would overrun the budget
    cpu_per_neuron: dict[tuple[str, str], float] = {}
    build_per_neuron = 0.0
    for n in sizes:  # size-major: both models at a size before the next size
        for kind in args.models:
            left = deadline - time.perf_counter()
            if build_per_neuron * n > left - 30:
                print(f"# {kind} N={n} skipped: building it would overrun the --budget")
                continue
            t0 = time.perf_counter()
            compiled = build(kind, n, args.seed)
            build_per_neuron = (time.perf_counter() - t0) / n
            print(f"# {kind} N={n}: built in {time.perf_counter() - t0:.1f} s", flush=True)
            runs = [(name, "cuda", CONFIGS[name]) for name in args.configs]
            for name in reversed(cpu_configs(args.configs)):
                options = CPU_CONFIGS[name]
                estimate = cpu_per_neuron.get((kind, options["precision"]), 0.0) * n
                if estimate > min(args.cpu_limit, deadline - time.perf_counter() - 30):
                    print(
                        f"# {name} skipped: about {estimate:.0f} s expected (--cpu-limit, --budget)"
                    )
                else:
                    runs.insert(0, (name, "numba", options))
            # the Numba raster of each precision, once it has run
            reference: dict[str, str] = {}
            for label, backend, options in runs:
                if deadline - time.perf_counter() < 10:
                    print(f"# {label} skipped: the --budget is spent")
                    continue
                r = run_one(compiled, backend, options, duration, args.seed)
                precision = options["precision"]
                if backend == "numba":
                    reference[precision] = r["sha1"]
                    cpu_per_neuron[(kind, precision)] = r["loop"] / n
                    same = "-"
                elif precision not in reference:
                    same = "-"
                else:
                    same = "yes" if r["sha1"] == reference[precision] else "no"
                print(_row(kind, n, compiled, label, r, duration, same), flush=True)
            del compiled
    return 0


if __name__ == "__main__":
    sys.exit(main())
