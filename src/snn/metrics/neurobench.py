"""The snnTorch mirror of a deep network, and NeuroBench 2.3 run on it.

:func:`to_snntorch` builds a ``torch.nn.Module`` of ``torch.nn.Conv2d``/``torch.nn.Linear``
connections (no bias) and snnTorch ``Leaky`` neurons with the network's weights, the layout
NeuroBench's hooks recognise (connection layers: Linear/Conv; neuron layers: snnTorch
``SpikingNeuron``). Pooling is ``torch.nn.AvgPool2d(divisor_override=1)`` (a sum) times the
pooling weight, which NeuroBench does not hook, as it does not for its own pooling layers.

One call of the module is one step (what ``neurobench.models.SNNTorchModel`` does per time
step). With ``pipeline=True`` (the default) every connection reads its pre layer's output of the
*previous* call, the one step of delay per projection of :mod:`snn.deep.graph`; feed it
``T + latency`` frames (zeros after the input) and it computes the NumPy reference's spikes.
With ``pipeline=False`` all layers run within one call (the usual snnTorch network).

The neurons are snnTorch ``Leaky(reset_delay=False)`` in float64 with a plain Heaviside spike
function (no surrogate, which would return float32): ``v = beta v + I``, ``s = v > v_thresh``,
then the reset in the same step, our DeltaLIF exactly, with one change: stock ``Leaky`` also
subtracts the threshold at the start of a step whose previous (already reset) potential is
still above threshold (its ``mem_reset``), which ours does not (a potential above twice the
threshold would reset twice); the mirror's ``Leaky`` subclass returns no such reset. Everything
NeuroBench hooks (``SpikingNeuron``, ``.mem``) is unchanged. The readout is a ``Leaky`` with an
infinite threshold and no reset. A non-zero ``v_bias`` has no snnTorch counterpart
(``Leaky`` adds no constant), so it is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from snn.connectors import Conv2d, Dense, Pool2d
from snn.deep.graph import deep_graph
from snn.network import Network


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name is not None and module.startswith(err.name):
            raise ModuleNotFoundError(
                f"{module} is needed for the NeuroBench comparison: pip install snntorch neurobench"
            ) from err
        raise


def to_snntorch(net: Network, pipeline: bool = True, dtype: Any = None) -> Any:
    """The snnTorch mirror of a deep network (module docstring); a ``torch.nn.Module``.

    ``module(x)`` takes one step's input ``(batch, *input.shape)`` and returns
    ``(readout_v, readout_v)``; ``module.reset()`` clears the state; ``module.recorded`` holds
    the spikes of every spiking layer per call when ``module.record`` is True.
    """
    torch = _require("torch")
    snntorch = _require("snntorch")
    nn = torch.nn
    dtype = torch.float64 if dtype is None else dtype
    graph = deep_graph(net)
    for layer in graph.layers:
        if np.any(layer.v_bias != 0):
            raise ValueError(
                f"layer {layer.label!r} has a non-zero v_bias, which snnTorch's Leaky cannot "
                "express; the mirror needs v_bias = 0"
            )
        for name, values in (("beta", layer.beta), ("v_thresh", layer.v_thresh)):
            if not np.all(values == values.flat[0]):
                raise ValueError(
                    f"layer {layer.label!r}: {name} differs between neurons; the mirror uses one "
                    "value per layer"
                )

    def heaviside(x: Any) -> Any:
        return (x > 0).to(x.dtype)

    class DeltaLeaky(snntorch.Leaky):  # type: ignore[name-defined]
        """snnTorch Leaky whose reset happens only in the step of the spike (module docstring)."""

        def mem_reset(self, mem: Any) -> Any:
            return torch.zeros_like(mem)

    class Mirror(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.pipeline = bool(pipeline)
            self.record = False
            self.recorded: dict[str, list[Any]] = {}
            self.connections = nn.ModuleDict()
            self.neurons = nn.ModuleDict()
            self._pool_weight: dict[str, float] = {}
            self._plan: list[tuple[str, list[tuple[str, str, tuple[int, ...]]], bool]] = []
            self._shapes = {p.label: p.shape for p in net.populations}
            self._input = graph.input.label
            for layer in graph.layers:
                incoming = []
                for proj in layer.incoming:
                    key = f"p{proj.index}"
                    conn = proj.connector
                    if isinstance(conn, Conv2d):
                        k = proj.kernel()
                        mod = nn.Conv2d(
                            k.shape[1],
                            k.shape[0],
                            conn.kernel_size,
                            stride=conn.stride,
                            padding=conn.padding,
                            bias=False,
                        )
                        mod.weight.data = torch.as_tensor(k, dtype=dtype)
                    elif isinstance(conn, Dense):
                        k = proj.kernel()
                        mod = nn.Linear(k.shape[1], k.shape[0], bias=False)
                        mod.weight.data = torch.as_tensor(k, dtype=dtype)
                    elif isinstance(conn, Pool2d):
                        mod = nn.AvgPool2d(conn.kernel_size, stride=conn.step, divisor_override=1)
                        self._pool_weight[key] = float(proj.kernel().reshape(-1)[0])
                    else:  # deep_graph admits only these
                        raise ValueError(f"projection {proj.label!r}: {conn.name} has no mirror")
                    self.connections[key] = mod
                    incoming.append((key, proj.pre.parent.label, proj.pre.parent.shape))
                beta = torch.tensor(float(layer.beta.flat[0]), dtype=dtype)
                if layer.spiking:
                    neuron = DeltaLeaky(
                        beta=beta,
                        threshold=torch.tensor(float(layer.v_thresh.flat[0]), dtype=dtype),
                        spike_grad=heaviside,
                        reset_mechanism="subtract" if layer.reset_subtract else "zero",
                        reset_delay=False,
                    )
                else:
                    neuron = DeltaLeaky(
                        beta=beta,
                        threshold=torch.tensor(float("inf"), dtype=dtype),
                        spike_grad=heaviside,
                        reset_mechanism="none",
                        reset_delay=False,
                    )
                self.neurons[layer.label] = neuron
                self._plan.append((layer.label, incoming, layer.spiking))
            self._prev: dict[str, Any] = {}

        def reset(self) -> None:
            self._prev = {}
            self.recorded = {}
            for neuron in self.neurons.values():
                neuron.reset_mem()

        def _output(self, outputs: Mapping[str, Any], label: str, like: Any) -> Any:
            if label in outputs:
                return outputs[label]
            shape = (like.shape[0], *self._shapes[label])
            return torch.zeros(shape, dtype=dtype)

        def forward(self, x: Any) -> Any:
            x = x.to(dtype).reshape(x.shape[0], *self._shapes[self._input])
            cur: dict[str, Any] = {self._input: x}
            source = self._prev if self.pipeline else cur
            readout = None
            for label, incoming, spiking in self._plan:
                drive = None
                for key, pre, _pre_shape in incoming:
                    y = self._output(source, pre, x)
                    mod = self.connections[key]
                    if isinstance(mod, nn.Linear):
                        out = mod(y.reshape(y.shape[0], -1)).reshape(
                            y.shape[0], *self._shapes[label]
                        )
                    elif isinstance(mod, nn.AvgPool2d):
                        out = mod(y) * self._pool_weight[key]
                    else:
                        out = mod(y)
                    drive = out if drive is None else drive + out
                spk, mem = self.neurons[label](drive)
                cur[label] = spk if spiking else mem
                if spiking and self.record:
                    self.recorded.setdefault(label, []).append(spk.detach().clone())
                if not spiking:
                    readout = mem
            self._prev = cur
            return readout, readout

    return Mirror()


def snntorch_spikes(module: Any) -> dict[str, NDArray[np.bool_]]:
    """Spikes the mirror recorded (``module.record = True``), ``(batch, n_calls, *shape)``."""
    torch = _require("torch")
    return {
        label: torch.stack(steps, dim=1).numpy().astype(bool)
        for label, steps in module.recorded.items()
    }


def pad_frames(frames: NDArray[np.floating], n_steps: int) -> NDArray[np.float64]:
    """Frames ``(T, ...)`` padded with zero frames to ``n_steps`` (the pipeline's run length)."""
    x = np.asarray(frames, dtype=np.float64)
    if x.shape[0] > n_steps:
        raise ValueError(f"{x.shape[0]} frames do not fit in {n_steps} steps")
    pad = np.zeros((n_steps - x.shape[0], *x.shape[1:]))
    return np.concatenate([x, pad], axis=0)


def neurobench_metrics(
    net: Network,
    frames: NDArray[np.floating],
    pipeline: bool = True,
    n_steps: int | None = None,
) -> tuple[dict[str, Any], dict[str, NDArray[np.bool_]]]:
    """NeuroBench 2.3's metrics of the mirror on a batch of one sample, and its spikes.

    ``frames`` (T, *input.shape); with ``pipeline`` they are padded to ``n_steps`` (default
    ``T + latency``). Returns (NeuroBench results by metric name, spikes by layer
    ``(n_calls, *shape)``). Runs NeuroBench's ``Benchmark`` with ``ActivationSparsity``,
    ``SynapticOperations``, ``MembraneUpdates``, ``ConnectionSparsity``, ``Footprint`` and
    ``ParameterCount`` (static metrics measured before the run).
    """
    torch = _require("torch")
    _require("neurobench")
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint, ParameterCount
    from neurobench.metrics.workload import (
        ActivationSparsity,
        MembraneUpdates,
        SynapticOperations,
    )
    from neurobench.models import SNNTorchModel

    graph = deep_graph(net)
    x = np.asarray(frames, dtype=np.float64)
    if pipeline:
        x = pad_frames(x, graph.n_steps(x.shape[0]) if n_steps is None else n_steps)
    module = to_snntorch(net, pipeline=pipeline)
    module.record = True
    model = SNNTorchModel(module)
    data = torch.as_tensor(x[None])
    loader = [(data, torch.zeros(1, dtype=torch.long))]
    dataset = _OneBatch(loader)
    bench = Benchmark(
        model,
        dataset,
        [],
        [],
        [
            [Footprint, ConnectionSparsity, ParameterCount],
            [ActivationSparsity, SynapticOperations, MembraneUpdates],
        ],
    )
    results = bench.run(quiet=True)
    spikes = {k: v[0] for k, v in snntorch_spikes(module).items()}
    return dict(results), spikes


class _OneBatch:
    """The smallest DataLoader NeuroBench's Benchmark needs: iteration, len, .dataset."""

    def __init__(self, batches: list[tuple[Any, Any]]) -> None:
        self._batches = batches
        self.dataset = [None] * sum(int(b[0].shape[0]) for b in batches)

    def __iter__(self) -> Any:
        return iter(self._batches)

    def __len__(self) -> int:
        return len(self._batches)
