"""Deep spiking networks (conv/pool/dense layers of DeltaLIF neurons) on one shared semantics.

See :mod:`snn.deep.graph` for the per-step semantics; :func:`run` executes one sample on the
NumPy reference, the event-driven Numba kernel or the CUDA kernel (:mod:`snn.deep.cuda_kernel`,
a GPU or Numba's CUDA simulator), :func:`run_batch` a batch of samples (at once on CUDA, one by
one on the others; the same results), :func:`lower_torch` builds a trainable
``torch.nn.Module`` over the same parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from snn.deep.graph import DeepGraph, Layer, deep_graph
from snn.deep.reference import DeepResult, run_reference
from snn.network import Network

if TYPE_CHECKING:
    from snn.deep.torch_lowering import SpikingModule

#: executors of a deep network's forward pass (all bit-identical to the NumPy reference)
DEEP_BACKENDS = ("numpy", "numba", "cuda")

#: a batch executor: (graph, frames (B, T, *input.shape), n_steps) -> one result per sample
BatchExecutor = Callable[[DeepGraph, NDArray[np.floating], int | None], list[DeepResult]]


def _check_backend(backend: str) -> None:
    if backend not in DEEP_BACKENDS:
        raise ValueError(
            f"unknown deep-network backend {backend!r}; valid choices: "
            f"{', '.join(DEEP_BACKENDS)} (and snn.deep.lower_torch for training)"
        )


def _cuda_executor() -> BatchExecutor:
    """The CUDA batch executor, or a RuntimeError saying what is missing (numba-cuda, or a GPU
    and how to use the simulator instead)."""
    from snn.backends import BACKENDS

    reason = BACKENDS.get("cuda").unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"deep backend 'cuda' is not available: {reason}")
    from snn.deep.cuda_kernel import run_cuda_batch

    return run_cuda_batch


def run(
    net: Network | DeepGraph,
    frames: NDArray[np.floating],
    backend: str = "numba",
    n_steps: int | None = None,
) -> DeepResult:
    """Run one sample of input frames (T, *input.shape) through a deep network."""
    _check_backend(backend)
    graph = net if isinstance(net, DeepGraph) else deep_graph(net)
    if backend == "numpy":
        return run_reference(graph, frames, n_steps)
    if backend == "numba":
        from snn.deep.numba_kernel import run_numba

        return run_numba(graph, frames, n_steps)
    x = graph.check_frames(frames)
    return _cuda_executor()(graph, x[None], n_steps)[0]


def run_batch(
    net: Network | DeepGraph,
    frames: NDArray[np.floating],
    backend: str = "numba",
    n_steps: int | None = None,
) -> list[DeepResult]:
    """Run a batch of input frames (B, T, *input.shape) through a deep network; one result per
    sample, equal to ``run(net, frames[b], backend, n_steps)``. ``"cuda"`` runs the samples at
    once (:func:`snn.deep.cuda_kernel.run_cuda_batch`), the others one after the other."""
    _check_backend(backend)
    graph = net if isinstance(net, DeepGraph) else deep_graph(net)
    if backend == "cuda":
        return _cuda_executor()(graph, frames, n_steps)
    x = check_batch(graph, frames)
    if backend == "numpy":
        return [run_reference(graph, sample, n_steps) for sample in x]
    from snn.deep.numba_kernel import lower, run_numba

    lowered = lower(graph)
    return [run_numba(graph, sample, n_steps, lowered) for sample in x]


def check_batch(graph: DeepGraph, frames: NDArray[np.floating]) -> NDArray[np.float64]:
    """Validate a batch of input frames ``(B, T, *input.shape)`` (or ``(B, T, n_input)``);
    returns a float64 C-contiguous ``(B, T, n_input)`` copy."""
    arr = np.asarray(frames)
    shape = graph.input.shape
    dims = ", ".join(map(str, shape))
    if arr.ndim < 3 or (arr.shape[2:] != shape and arr.shape[2:] != (graph.input.size,)):
        raise ValueError(
            f"a batch of input frames of shape {arr.shape}; expected (B, T, {dims}) (samples, "
            f"frames, then the shape of input population {graph.input.label!r})"
        )
    if arr.shape[0] == 0:
        raise ValueError("an empty batch of input frames (B = 0); pass at least one sample")
    n_batch, n_frames = arr.shape[0], arr.shape[1]
    if np.issubdtype(arr.dtype, np.floating):
        bad = np.flatnonzero(~np.isfinite(arr.reshape(n_batch, -1)).all(axis=1))
        if bad.size:
            raise ValueError(
                f"input frames contain NaN or inf (samples {bad.tolist()} of the batch)"
            )
    flat = graph.check_frames(arr.reshape(n_batch * n_frames, *arr.shape[2:]))
    return flat.reshape(n_batch, n_frames, graph.input.size)


def lower_torch(net: Network, **options: Any) -> SpikingModule:
    """A trainable ``torch.nn.Module`` over the network's parameters (see
    :class:`snn.deep.torch_lowering.SpikingModule`)."""
    from snn.deep.torch_lowering import SpikingModule

    return SpikingModule(net, **options)


__all__ = [
    "DEEP_BACKENDS",
    "DeepGraph",
    "DeepResult",
    "Layer",
    "check_batch",
    "deep_graph",
    "lower_torch",
    "run",
    "run_batch",
    "run_reference",
]
