"""Deep spiking networks (conv/pool/dense layers of DeltaLIF neurons) on one shared semantics.

See :mod:`snn.deep.graph` for the per-step semantics; :func:`run` executes a network on the
NumPy reference or the event-driven Numba kernel, :func:`lower_torch` builds a trainable
``torch.nn.Module`` over the same parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from snn.deep.graph import DeepGraph, Layer, deep_graph
from snn.deep.reference import DeepResult, run_reference
from snn.network import Network

if TYPE_CHECKING:
    from snn.deep.torch_lowering import SpikingModule

#: executors of a deep network's forward pass
DEEP_BACKENDS = ("numpy", "numba")


def run(
    net: Network | DeepGraph,
    frames: NDArray[np.floating],
    backend: str = "numba",
    n_steps: int | None = None,
) -> DeepResult:
    """Run one sample of input frames (T, *input.shape) through a deep network."""
    graph = net if isinstance(net, DeepGraph) else deep_graph(net)
    if backend == "numpy":
        return run_reference(graph, frames, n_steps)
    if backend == "numba":
        from snn.deep.numba_kernel import run_numba

        return run_numba(graph, frames, n_steps)
    raise ValueError(
        f"unknown deep-network backend {backend!r}; valid choices: {', '.join(DEEP_BACKENDS)} "
        "(and snn.deep.lower_torch for training)"
    )


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
    "deep_graph",
    "lower_torch",
    "run",
    "run_reference",
]
