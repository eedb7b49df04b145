"""Overhead of collecting workload metrics during CSNN inference: snn.metrics vs NeuroBench hooks.

Model: :func:`snn.models.dvs.csnn_network` (NeuroBench's DVS Gesture CSNN, 2x32x32 input, spike
max-pooling layers), weights scaled by ``--weight-gain`` 4 so that spikes reach every layer.
Input: one sample of ``--frames`` binary event frames (``--input sparse``: each pixel on with
probability ``--density``) or event counts (``--input counts``: Poisson with mean ``--density``
x 4), the same frames for everything.

Timed, round robin, ``--repeats`` times after a warm-up (JIT and imports excluded), one thread:

* ``ours: inference``: ``snn.deep.run(graph, frames, backend="numba")``; besides the raster, the
  kernel returns the counts our metrics need, made while it runs (spikes per layer, synaptic
  operations per projection and step by input kind, crossbar reads, membrane changes);
* ``ours: inference + metrics``: the same plus :func:`snn.metrics.measure` (our convention, and
  NeuroBench's with ``--convention neurobench``), which reads those counts instead of rescanning
  the rasters;
* ``NeuroBench: inference``: the snnTorch mirror (:func:`snn.metrics.to_snntorch`, float64,
  ``T + latency`` steps) through ``neurobench.models.SNNTorchModel``, no hooks;
* ``NeuroBench: inference + metrics``: the same model with NeuroBench's hooks registered, and
  ``ActivationSparsity``, ``SynapticOperations`` and ``MembraneUpdates`` computed through its
  ``WorkloadMetricManager`` (what ``Benchmark.run`` does per batch), hooks reset after.

Overhead = median(inference + metrics) - median(inference) of the same stack; the ratio
NeuroBench overhead / ours is what counts. Ours is also timed directly, as the median time of
the ``measure`` call inside ``ours: inference + metrics``: a difference of two medians of noisy
runs cannot resolve a fraction of a millisecond (it can even come out negative). The two
stacks' counts are compared as a check.

    python benchmarks/metrics_overhead.py
    python benchmarks/metrics_overhead.py --repeats 21 --input counts
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--density", type=float, default=0.02)
    ap.add_argument("--input", choices=("sparse", "counts"), default="sparse")
    ap.add_argument("--weight-gain", type=float, default=4.0)
    ap.add_argument("--convention", choices=("snn", "neurobench"), default="snn")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from neurobench.metrics.manager.workload_manager import WorkloadMetricManager
    from neurobench.metrics.workload import ActivationSparsity, MembraneUpdates, SynapticOperations
    from neurobench.models import SNNTorchModel

    import snn.deep
    from snn.deep.graph import deep_graph
    from snn.metrics import measure, pad_frames, to_snntorch
    from snn.models.dvs import csnn_network

    net = csnn_network(weight_gain=args.weight_gain)
    graph = deep_graph(net)
    rng = np.random.default_rng(0)
    shape = (args.frames, *graph.input.shape)
    if args.input == "sparse":
        frames = (rng.random(shape) < args.density).astype(np.float64)
    else:
        frames = rng.poisson(4 * args.density, shape).astype(np.float64)
    n_steps = graph.n_steps(args.frames)
    data = torch.as_tensor(pad_frames(frames, n_steps)[None])
    batch = (data, torch.zeros(1, dtype=torch.long))

    plain = SNNTorchModel(to_snntorch(net))
    hooked = SNNTorchModel(to_snntorch(net))
    manager = WorkloadMetricManager([ActivationSparsity, SynapticOperations, MembraneUpdates])
    manager.register_hooks(hooked)

    def ours_inference() -> Any:
        return snn.deep.run(graph, frames, backend="numba")

    measure_times: list[float] = []

    def ours_metrics() -> Any:
        result = ours_inference()
        t0 = time.perf_counter()
        metrics = measure(net, result, frames, convention=args.convention)
        measure_times.append(time.perf_counter() - t0)
        return metrics

    def nb_inference() -> Any:
        with torch.no_grad():
            return plain(data)

    def nb_metrics() -> Any:
        manager.initialize_metrics()
        with torch.no_grad():
            preds = hooked(data)
        results = dict(manager.run_metrics(hooked, preds, batch, 1, 1))
        manager.reset_hooks(hooked)
        manager.clean_results()
        return results

    fns: dict[str, Callable[[], Any]] = {
        "ours: inference": ours_inference,
        "ours: inference + metrics": ours_metrics,
        "NeuroBench: inference": nb_inference,
        "NeuroBench: inference + metrics": nb_metrics,
    }
    for fn in fns.values():  # warm-up: JIT, imports, allocator
        fn()
    measure_times.clear()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(args.repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}

    ours = measure(net, ours_inference(), frames, convention="neurobench")
    nb = nb_metrics()
    synops = nb["SynapticOperations"]
    agree = (
        ours.acs == synops["Effective_ACs"]
        and ours.macs == synops["Effective_MACs"]
        and ours.dense == synops["Dense"]
        and ours.activation_sparsity == nb["ActivationSparsity"]
        and ours.effective_membrane_updates == nb["MembraneUpdates"]
    )
    print(
        f"CSNN {graph.input.shape} input, {args.frames} frames ({args.input}, density "
        f"{args.density}), {n_steps} steps, {ours.spikes:.0f} spikes, activation sparsity "
        f"{ours.activation_sparsity:.4f}; load average {os.getloadavg()[0]:.2f}; median of "
        f"{args.repeats}, one thread"
    )
    for name, value in med.items():
        print(f"  {name:34s} {1e3 * value:9.2f} ms")
    ours_over = med["ours: inference + metrics"] - med["ours: inference"]
    ours_measure = statistics.median(measure_times)
    nb_over = med["NeuroBench: inference + metrics"] - med["NeuroBench: inference"]
    print(
        f"  overhead ours ({args.convention}): {1e3 * ours_over:.2f} ms "
        f"({100 * ours_over / med['ours: inference']:.0f} % of its inference); measure() "
        f"alone: {1e3 * ours_measure:.2f} ms ({100 * ours_measure / med['ours: inference']:.1f} %)"
    )
    print(
        f"  overhead NeuroBench: {1e3 * nb_over:.2f} ms "
        f"({100 * nb_over / med['NeuroBench: inference']:.0f} %); NeuroBench / ours = "
        f"{nb_over / ours_over:.1f} (difference of medians), {nb_over / ours_measure:.1f} "
        "(measure() alone)"
    )
    print(f"  counts agree with NeuroBench: {agree}")


if __name__ == "__main__":
    main()
