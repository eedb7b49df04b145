"""Simulation backends, registered by name; all return the same :class:`~snn.recording.Recording`.

Each backend declares whether it can run here (``available()`` returns ``None`` or the reason it
cannot, naming the missing package) and fails loudly when asked to run without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from snn.registry import Registry

if TYPE_CHECKING:
    from snn.compiled import CompiledNetwork
    from snn.network import Network
    from snn.recording import Recording


class Simulator(Protocol):
    """A running simulation: advance it by whole steps, then collect the recording."""

    step: int

    def run(self, n_steps: int) -> None: ...

    def recording(self, duration: float) -> Recording: ...


@dataclass(frozen=True)
class Backend:
    name: str
    description: str
    #: returns None when usable, else the reason (e.g. which package is missing)
    unavailable_reason: Callable[[], str | None]
    #: builds a simulator from a compiled network, a run seed and backend options
    make_simulator: Callable[..., Simulator]
    #: the network semantics (snn.network.SEMANTICS) this backend implements
    semantics: tuple[str, ...] = ("exact",)

    def available(self) -> bool:
        return self.unavailable_reason() is None


BACKENDS: Registry[Backend] = Registry("backend")


def _module_missing(module: str, extra: str) -> Callable[[], str | None]:
    def reason() -> str | None:
        import importlib.util

        if importlib.util.find_spec(module) is None:
            return f"the {module!r} package is not installed (pip install 'snn-stack[{extra}]')"
        return None

    return reason


def _numpy_simulator(compiled: CompiledNetwork, seed: int, **options: Any) -> Simulator:
    from snn.backends.numpy_backend import NumpySimulator

    return NumpySimulator(compiled, seed, **options)


def _numba_simulator(compiled: CompiledNetwork, seed: int, **options: Any) -> Simulator:
    from snn.backends.numba_backend import NumbaSimulator

    return NumbaSimulator(compiled, seed, **options)


def _brian2_simulator(compiled: CompiledNetwork, seed: int, **options: Any) -> Simulator:
    from snn.backends.brian2_backend import Brian2Simulator

    return Brian2Simulator(compiled, seed, **options)


BACKENDS.add(
    "numpy",
    Backend(
        "numpy",
        "NumPy reference (ground truth of the semantics)",
        lambda: None,
        _numpy_simulator,
        semantics=("exact", "spinnaker"),
    ),
)
BACKENDS.add(
    "numba",
    Backend(
        "numba",
        "Numba CPU kernels, bit-identical to the reference",
        _module_missing("numba", "numba"),
        _numba_simulator,
        semantics=("exact", "spinnaker"),
    ),
)
BACKENDS.add(
    "brian2",
    Backend(
        "brian2",
        "Brian2 runtime (numpy target), independent cross-check",
        _module_missing("brian2", "brian2"),
        _brian2_simulator,
    ),
)


def _cuda_simulator(compiled: CompiledNetwork, seed: int, **options: Any) -> Simulator:
    from snn.backends.cuda_backend import CudaSimulator

    return CudaSimulator(compiled, seed, **options)


def _cuda_unavailable() -> str | None:
    missing = _module_missing("numba_cuda", "cuda")()
    if missing is not None:
        return missing.replace("'numba_cuda' package", "'numba-cuda' package")
    from snn.backends.cuda_backend import unavailable_reason

    return unavailable_reason()


BACKENDS.add(
    "cuda",
    Backend(
        "cuda",
        "numba-cuda kernels on a GPU (or NUMBA_ENABLE_CUDASIM=1); bit-identical by default",
        _cuda_unavailable,
        _cuda_simulator,
        semantics=("exact", "spinnaker"),
    ),
)


def available() -> dict[str, str | None]:
    """Every registered backend with ``None`` (usable) or the reason it is not."""
    return {name: backend.unavailable_reason() for name, backend in BACKENDS.items()}


def get_backend(name: str) -> Backend:
    backend = BACKENDS.get(name)
    reason = backend.unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"backend {name!r} is not available: {reason}")
    return backend


def simulate(
    net: Network,
    duration: float,
    backend: str = "numpy",
    seed: int | None = None,
    progress: bool = False,
    **options: Any,
) -> Recording:
    """Compile ``net``, run it for ``duration`` seconds on ``backend`` and return the recording."""
    from snn.compiled import compile_network

    n_steps = net.n_steps(duration)
    run_seed = net.seed if seed is None else int(seed)
    if run_seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    deep = [p for p in net.populations if p.model.deep_only]
    if deep:
        raise ValueError(
            f"population {deep[0].label!r} ({deep[0].model.name}) belongs to a deep network, "
            "which runs layer by layer on frames: use snn.deep.run(net, frames, backend=...) "
            "(numpy or numba) or snn.deep.lower_torch(net)"
        )
    chosen = get_backend(backend)
    if net.semantics not in chosen.semantics:
        capable = [name for name, b in BACKENDS.items() if net.semantics in b.semantics]
        raise ValueError(
            f"backend {backend!r} does not implement the {net.semantics!r} semantics of this "
            f"network; backends that do: {', '.join(capable) or '(none)'}"
        )
    sim = chosen.make_simulator(compile_network(net), run_seed, **options)
    run_in_chunks(sim, n_steps, progress, desc=f"snn[{backend}]", dt=net.dt)
    return sim.recording(n_steps * net.dt)


def run_in_chunks(sim: Simulator, n_steps: int, progress: bool, desc: str, dt: float) -> None:
    """Advance ``sim`` by ``n_steps``; with ``progress`` show a tqdm bar in simulated seconds."""
    if not progress:
        sim.run(n_steps)
        return
    from tqdm import tqdm

    chunk = max(1, n_steps // 100)
    fmt = "{l_bar}{bar}| {n:.3f}/{total:.3f} s simulated [{elapsed}<{remaining}]"
    with tqdm(total=n_steps * dt, desc=desc, leave=False, bar_format=fmt) as bar:
        done = 0
        while done < n_steps:
            k = min(chunk, n_steps - done)
            sim.run(k)
            done += k
            bar.update(k * dt)
