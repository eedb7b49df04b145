"""Time from a frontend model to a finished virtual-board mapping (run by hand).

    python benchmarks/spinnaker_mapping.py                    # 1k and 10k neurons, both modes
    python benchmarks/spinnaker_mapping.py --n 1000 10000 50000 --out mapping.json

For each size the Vogels-Abbott CUBA network (80/20 E/I, p = 80/N) is built, checked, lowered to
PyNN and mapped by sPyNNaker on a virtual SpiNN-5 board, once with every realised synapse handed
over as a ``FromListConnector`` (``exact``) and once with PyNN's ``FixedProbabilityConnector``
(``native``: a statistically equivalent network that sPyNNaker can generate on the board).
Each run is a fresh process (sPyNNaker keeps global state). Phases:

* ``build``: our frontend realising the network (connectivity, initial values);
* ``drc``: our design rules;
* ``lowering``: building the PyNN populations and projections (connection lists);
* ``spynnaker setup`` and sPyNNaker's own categories from its provenance database (mapping,
  loading with the host-side data specification, run-other), and the wall time of ``sim.run``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(n: int, mode: str, dt: float) -> dict[str, object]:
    """Build, check and map one network in this process; return the timings and the mapping."""
    from snn.hardware import check_network, deploy
    from snn.models import vogels_abbott

    start = time.perf_counter()
    net = vogels_abbott("cuba", n=n, dt=dt, seed=1)
    build = time.perf_counter() - start
    start = time.perf_counter()
    check_network(net)
    drc = time.perf_counter() - start
    with tempfile.TemporaryDirectory(prefix="snn-bench-") as folder:
        start = time.perf_counter()
        result = deploy(net, "spinnaker", duration=0.1, run_dir=folder, connectivity=mode)
        total = time.perf_counter() - start
    m = result.mapping
    return {
        "n": n,
        "mode": mode,
        "synapses": sum(p.size for p in net.projections),
        "build_s": build,
        "drc_s": drc,
        "deploy_s": total,
        "timings_s": m.timings_s,
        "application_cores": m.application_cores,
        "application_chips": m.application_chips,
        "routing_entries": m.routing_entries,
        "sdram_bytes": sum(p.sdram_bytes for p in m.populations if p.role != "system"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--modes", nargs="+", default=["exact", "native"])
    parser.add_argument("--dt", type=float, default=1e-3, help="time step (s), default 1 ms")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument("--child", nargs=2, metavar=("N", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(one_run(int(args.child[0]), args.child[1], args.dt)))
        return 0
    results = []
    for n in args.n:
        for mode in args.modes:
            cmd = [sys.executable, __file__, "--child", str(n), mode, "--dt", str(args.dt)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
            if proc.returncode != 0:
                print(f"n={n} {mode}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(row)
            t = row["timings_s"]
            print(
                f"n={n:>6} {mode:<6} synapses={row['synapses']:>9,} "
                f"cores={row['application_cores']:>4} routes={row['routing_entries']:>4} "
                f"build={row['build_s']:.2f}s lowering={t.get('snn lowering', 0):.2f}s "
                f"setup={t.get('spynnaker setup', 0):.2f}s "
                f"run={t.get('spynnaker run (wall)', 0):.2f}s "
                f"(mapping {t.get('spynnaker mapping stage', 0):.2f}s, "
                f"loading {t.get('spynnaker loading stage', 0):.2f}s, "
                f"data spec {t.get('spynnaker data specification', 0):.2f}s) "
                f"total={row['deploy_s'] + row['build_s']:.2f}s",
                flush=True,
            )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
