"""Metrics of spiking networks: sparsity, synaptic operations, membrane updates, parameters.

>>> import numpy as np
>>> import snn.deep, snn.metrics
>>> from snn.models.dvs import cordone_network
>>> net = cordone_network((2, 64, 64))
>>> frames = (np.random.default_rng(0).random((8, 2, 64, 64)) < 0.05).astype(float)
>>> m = snn.metrics.measure(net, snn.deep.run(net, frames, backend="numpy"), frames)
>>> print(m.table())                                                   # doctest: +SKIP

:func:`measure` works from a raster (a :class:`~snn.deep.reference.DeepResult`, a
:class:`~snn.recording.Recording` or a mapping of spike arrays), :func:`measure_rates` from
assumed rates; ``convention="neurobench"`` follows NeuroBench 2.3's definitions where they
differ from ours (see :mod:`snn.metrics.core`). :func:`to_snntorch` and
:func:`neurobench_metrics` (optional ``snntorch``/``neurobench``) build the snnTorch mirror and
run NeuroBench on it. Energy per target: :mod:`snn.hardware.energy`.
"""

from snn.metrics.core import (
    CONVENTIONS,
    DELIVERIES,
    LayerMetrics,
    NetworkMetrics,
    ProjectionMetrics,
    StaticMetrics,
    mean_metrics,
    measure,
    measure_rates,
    static_metrics,
)
from snn.metrics.neurobench import neurobench_metrics, pad_frames, snntorch_spikes, to_snntorch

__all__ = [
    "CONVENTIONS",
    "DELIVERIES",
    "LayerMetrics",
    "NetworkMetrics",
    "ProjectionMetrics",
    "StaticMetrics",
    "mean_metrics",
    "measure",
    "measure_rates",
    "neurobench_metrics",
    "pad_frames",
    "snntorch_spikes",
    "static_metrics",
    "to_snntorch",
]
