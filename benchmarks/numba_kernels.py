"""Loop time of the Numba backend on the Vogels-Abbott networks (CUBA, COBA; N = 4000, 40000).

For each configuration: build and compile the network (not timed), run a JIT warm-up on a
throwaway simulator, then time ``repeats`` fresh simulators over ``duration`` simulated seconds
and report medians of

* ``loop s/s``: wall seconds of ``run`` per simulated second (``cpu s/s``: the same in thread CPU
  time, less sensitive to other processes on a loaded machine);
* synaptic events per second of wall time (spikes times out-degrees, per wall second), spikes;
* ``/b2sa``: our loop time over Brian2 cpp_standalone's, using the figures **measured earlier on
  this machine** (quiet) and quoted in :data:`BRIAN2_STANDALONE_EARLIER`; the real side-by-side
  comparison, same machine and moment, is ``benchmarks/vogels_abbott.py``.

Run by hand, on a machine as quiet as possible (the load average is printed), e.g.::

    python benchmarks/numba_kernels.py
    python benchmarks/numba_kernels.py --models coba --sizes 4000 --repeats 5
    python benchmarks/numba_kernels.py --option fastmath=True     # the non-exact fast mode
"""

from __future__ import annotations

import os

# one thread, before numpy / numba are imported
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from snn.backends.numba_backend import NumbaSimulator  # noqa: E402
from snn.compiled import CompiledNetwork, compile_network  # noqa: E402
from snn.models import vogels_abbott  # noqa: E402

#: Brian2 2.x cpp_standalone loop seconds per simulated second, measured earlier on this
#: machine (quiet, one thread); not re-measured here
BRIAN2_STANDALONE_EARLIER = {
    ("cuba", 4000): 0.065,
    ("coba", 4000): 0.095,
    ("cuba", 40000): 0.747,
    ("coba", 40000): 1.28,
}
#: the issue's target: at most this fraction of Brian2 cpp_standalone's loop time
TARGET_RATIO = 0.33


def _parse_option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"options are KEY=VALUE, got {text!r}")
    parsed: Any = {"true": True, "false": False}.get(value.lower(), value)
    return key, parsed


def _out_degree(compiled: CompiledNetwork) -> list[np.ndarray]:
    deg = [np.zeros(p.size, np.int64) for p in compiled.populations]
    for proj in compiled.projections:
        deg[proj.pre] += np.diff(proj.row_ptr)
    return deg


def measure(
    kind: str, n: int, duration: float, repeats: int, seed: int, options: dict[str, Any]
) -> dict[str, float]:
    """Median loop time (wall and thread CPU) per simulated second, events and spikes."""
    compiled = compile_network(vogels_abbott(kind, n=n, seed=seed))  # type: ignore[arg-type]
    n_steps = round(duration / compiled.dt)
    NumbaSimulator(compiled, seed, **options).run(min(n_steps, 200))  # JIT / cache load
    deg = _out_degree(compiled)
    walls, cpus = [], []
    spikes = events = 0
    for _ in range(repeats):
        sim = NumbaSimulator(compiled, seed, **options)
        c0, t0 = time.thread_time(), time.perf_counter()
        sim.run(n_steps)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.thread_time() - c0)
        rec = sim.recording(n_steps * compiled.dt)
        spikes = sum(rec.spikes[p.label].count for p in compiled.populations)
        events = sum(int(deg[p.index][rec.spikes[p.label].ids].sum()) for p in compiled.populations)
    sim_s = n_steps * compiled.dt
    wall = statistics.median(walls) / sim_s
    return {
        "loop": wall,
        "cpu": statistics.median(cpus) / sim_s,
        "events_per_wall_s": events / (wall * sim_s),
        "spikes": spikes,
        "rate": spikes / (n * sim_s),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["cuba", "coba"], choices=["cuba", "coba"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[4000, 40000])
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds per run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--option", action="append", type=_parse_option, default=[],
                    help="numba backend option KEY=VALUE (repeatable)")  # fmt: skip
    args = ap.parse_args()
    if args.repeats < 1 or args.duration <= 0:
        ap.error("--repeats must be >= 1 and --duration > 0")
    options = dict(args.option)
    print(f"load average at start: {os.getloadavg()}; options: {options or 'none (exact)'}")
    header = (
        f"{'model':5} {'N':>6} {'loop s/s':>9} {'cpu s/s':>8} {'events/s':>10} {'spikes':>8} "
        f"{'rate Hz':>7} {'b2sa*':>6} {'/b2sa':>6} {'target':>7}"
    )
    print(header)
    for n in args.sizes:
        for kind in args.models:
            r = measure(kind, n, args.duration, args.repeats, args.seed, options)
            peer = BRIAN2_STANDALONE_EARLIER.get((kind, n))
            ratio = f"{r['loop'] / peer:6.2f}" if peer else "     -"
            target = f"{TARGET_RATIO * peer:7.4f}" if peer else "      -"
            print(
                f"{kind:5} {n:6d} {r['loop']:9.4f} {r['cpu']:8.4f} {r['events_per_wall_s']:10.3g} "
                f"{r['spikes']:8d} {r['rate']:7.2f} {peer or 0:6.3f} {ratio} {target}",
                flush=True,
            )
    print(f"load average at end: {os.getloadavg()}")
    print(
        "* b2sa: Brian2 cpp_standalone loop s/s measured earlier on this machine (quiet), not now"
    )


if __name__ == "__main__":
    main()
