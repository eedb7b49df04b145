"""The ``precision`` option of the NumPy and Numba backends: float64 (default) or float32.

In ``"float32"`` precision the neuron state, the model constants, the static and plastic
weights and the synaptic ring buffers are float32, and every neuron update is evaluated in
float32 arithmetic (IF_cond_exp's ``exp`` by :func:`snn.arith.exp_arith32_kernel`); spike
sources' probabilities are float32 constants compared with float64 uniforms, and plasticity
(traces, amplitudes, the weight update) is computed in float64 and rounded to float32 when the
weight is stored. The NumPy reference and the Numba kernels do exactly this, in the same order,
so they agree bit for bit in either precision. Float32 runs differ from float64 runs by
rounding: trajectories diverge in chaotic networks and only statistics agree (tested).

It halves the memory of state and weights and lets the CPU update twice as many neurons per
vector instruction; the ``spinnaker`` semantics have their own fixed-point arithmetic and take
no precision.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: option value -> NumPy dtype
PRECISIONS: dict[str, type[np.floating[Any]]] = {"float64": np.float64, "float32": np.float32}


def precision_dtype(backend: str, value: Any, semantics: str) -> type[np.floating[Any]]:
    """The dtype of option ``precision=value``; ``ValueError`` naming the valid values."""
    if not isinstance(value, str) or value not in PRECISIONS:
        raise ValueError(
            f"{backend} backend: precision must be one of {', '.join(PRECISIONS)}, got {value!r}"
        )
    if value != "float64" and semantics == "spinnaker":
        raise ValueError(
            f"{backend} backend: precision={value!r} is not available with the 'spinnaker' "
            "semantics (they model SpiNNaker's fixed-point arithmetic); leave it at 'float64'"
        )
    return PRECISIONS[value]
