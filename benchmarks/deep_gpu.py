"""Deep spiking CNN inference on the GPU: ``snn.deep.run_batch(backend="cuda")`` against Numba.

Model: NeuroBench's DVS Gesture CSNN (:func:`snn.models.dvs.csnn_network`, 2x32x32 input, weights
scaled by ``--weight-gain`` so that every layer spikes), ``--frames`` frames of sparse binary
events per sample (each pixel on with probability ``--density``). For each batch size it prints
samples per second of

* ``cuda``: :func:`snn.deep.run_batch` with ``backend="cuda"`` (one launch per layer, the whole
  batch at once; after a warm-up batch that compiled the kernels);
* ``numba``: the event-driven Numba executor, one sample after another (one CPU thread),

their ratio, and whether every sample's prediction and spike counts are equal (they must be: both
equal the NumPy reference bit for bit). Run by hand on a machine with a GPU::

    python benchmarks/deep_gpu.py
    python benchmarks/deep_gpu.py --batches 1 16 64 256 --frames 32
    python benchmarks/deep_gpu.py --sim   # no GPU: Numba's CUDA simulator, a tiny smoke check
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"
if "--sim" in sys.argv:  # before numba.cuda is first imported
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--density", type=float, default=0.02)
    parser.add_argument("--weight-gain", type=float, default=4.0)
    parser.add_argument("--sim", action="store_true", help="CUDA simulator: tiny sizes")
    args = parser.parse_args(argv)
    if min(args.batches) < 1 or args.frames < 1 or not 0 < args.density <= 1:
        parser.error("--batches and --frames must be >= 1 and --density in (0, 1]")

    from snn import deep
    from snn.backends.cuda_backend import unavailable_reason
    from snn.models.dvs import csnn_network

    reason = unavailable_reason()
    if reason is not None:
        print(f"cuda backend unavailable: {reason}")
        return 1
    shape = (2, 32, 32)
    channels = 2 if args.sim else 32  # the simulator runs one Python call per thread
    if args.sim:
        args.batches, args.frames = [1, 2], min(args.frames, 3)
    net = csnn_network(shape, channels=channels, weight_gain=args.weight_gain)
    graph = deep.deep_graph(net)
    rng = np.random.default_rng(0)
    print(f"CSNN {shape} input, {channels} channels, {args.frames} frames, density {args.density}")
    print(f"{'batch':>5} {'cuda samples/s':>15} {'numba samples/s':>16} {'cuda/numba':>10} same")
    warm = (rng.random((1, args.frames, *shape)) < args.density).astype(np.float64)
    deep.run_batch(graph, warm, backend="cuda")
    deep.run_batch(graph, warm, backend="numba")
    for batch in args.batches:
        frames = (rng.random((batch, args.frames, *shape)) < args.density).astype(np.float64)
        t0 = time.perf_counter()
        gpu = deep.run_batch(graph, frames, backend="cuda")
        t_gpu = time.perf_counter() - t0
        t0 = time.perf_counter()
        cpu = deep.run_batch(graph, frames, backend="numba")
        t_cpu = time.perf_counter() - t0
        same = all(
            a.prediction == b.prediction
            and all(np.array_equal(a.spikes[k], b.spikes[k]) for k in a.spikes)
            for a, b in zip(gpu, cpu, strict=True)
        )
        print(
            f"{batch:5d} {batch / t_gpu:15.1f} {batch / t_cpu:16.1f} {t_cpu / t_gpu:10.2f} "
            f"{'yes' if same else 'NO'}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
