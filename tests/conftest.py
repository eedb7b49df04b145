"""Shared fixtures: the clock-driven backends and small network builders.

Thread counts are pinned to one before NumPy or Numba are imported, so that timings are stable on
the 2-core CI machines and compiled kernels never spawn thread pools inside a test.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import importlib
from collections.abc import Sequence
from typing import Any

import pytest

import snn
from snn.neurons import NeuronModel

#: backends that share the clock-driven semantics of the NumPy reference (same step schedule)
CLOCK_BACKENDS = ("numpy", "numba")

#: the module of each backend and the optional packages whose absence is a reason to skip
_BACKEND_MODULES = {
    "numpy": ("snn.backends.numpy_backend", ()),
    "numba": ("snn.backends.numba_backend", ("numba",)),
}


def backend_unavailable(name: str) -> str | None:
    """Why ``name`` cannot run here, or None.

    Only a missing module (the backend's own module, or its optional package) is a reason to
    skip; any other import error is a real bug and propagates, so a broken backend fails loudly.
    """
    module, packages = _BACKEND_MODULES[name]
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name in (module, *packages):
            return f"{module} cannot be imported ({err})"
        raise
    return None


@pytest.fixture(params=CLOCK_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Name of a clock-driven backend; skipped with the reason when it cannot be imported."""
    reason = backend_unavailable(request.param)
    if reason is not None:
        pytest.skip(reason)
    return str(request.param)


def one_population(
    model: NeuronModel,
    size: int = 1,
    dt: float = 0.1e-3,
    record: Sequence[str] = ("spikes", "v"),
    seed: int = 1,
    **initial: Any,
) -> tuple[snn.Network, snn.Population]:
    """A network holding one population of ``model`` (default one neuron), recording ``record``.

    The recorder is labelled ``"neuron"``; ``initial`` sets initial state variables.
    """
    net = snn.Network(dt=dt, seed=seed)
    pop = net.population(size, model, label="neuron", initial=initial or None)
    if record:
        net.record(pop, *record, label="neuron")
    return net, pop


def spike_steps(times: Any, dt: float) -> list[int]:
    """Recorded spike times (s) back to integer steps."""
    return [round(float(t) / dt) for t in times]
