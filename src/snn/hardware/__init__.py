"""Deployment of a frontend network to PyNN targets: SpiNNaker (sPyNNaker) and NEST.

>>> import snn
>>> from snn.models import vogels_abbott
>>> net = vogels_abbott("cuba", n=1000, dt=1e-3)
>>> result = snn.deploy(net, target="spinnaker", virtual=True)   # doctest: +SKIP
>>> print(result.report())                                       # doctest: +SKIP

``deploy`` runs the design rules (:mod:`snn.hardware.drc`), lowers the network through PyNN
(:mod:`snn.hardware.pynn`) and

* ``target="spinnaker"``: maps it with sPyNNaker on a virtual SpiNN-5 board (the default: mapping,
  placement, routing and data generation run, nothing is simulated, so no spikes come back), or on
  a real board (``machine="HOST"`` or ``spalloc="URL"``), whose spikes and recorded state come back
  as a :class:`~snn.recording.Recording`; either way with a :class:`MappingReport`;
* ``target="nest"``: executes the same PyNN lowering on NEST here and returns the recording.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snn.hardware.drc import (
    SPINNAKER_V5,
    BoardSpec,
    DRCError,
    DRCReport,
    Violation,
    WeightQuantization,
    check_network,
)
from snn.network import Network
from snn.recording import Recording

__all__ = [
    "SPINNAKER_V5",
    "BoardSpec",
    "DRCError",
    "DRCReport",
    "Deployment",
    "MappingReport",
    "Violation",
    "WeightQuantization",
    "check_network",
    "deploy",
]

NO_SPIKES_ON_VIRTUAL_BOARD = (
    "virtual board: mapping, placement, routing and data generation ran, but nothing was "
    "simulated, so no spikes or recorded state came back (deploy with machine='HOST' or "
    "spalloc='URL' to run on a board, or target='nest' to execute here)"
)


def __getattr__(name: str) -> Any:
    if name == "MappingReport":  # keeps `import snn` free of the sPyNNaker-side module
        from snn.hardware.spinnaker import MappingReport

        return MappingReport
    raise AttributeError(f"module 'snn.hardware' has no attribute {name!r}")


@dataclass
class Deployment:
    """The outcome of :func:`deploy`.

    ``recording`` is None on a virtual board (``messages`` says why); ``mapping`` is None on NEST.
    """

    target: str
    machine: str
    duration: float
    drc: DRCReport
    recording: Recording | None = None
    mapping: Any = None  # MappingReport on SpiNNaker
    run_dir: Path | None = None
    connector_modes: dict[str, str] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    after_run: Any = None

    @property
    def spikes_returned(self) -> bool:
        return self.recording is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "machine": self.machine,
            "duration_s": self.duration,
            "spikes_returned": self.spikes_returned,
            "rates_hz": self.recording.rates() if self.recording is not None else None,
            "run_dir": None if self.run_dir is None else str(self.run_dir),
            "design_rules": self.drc.to_dict(),
            "mapping": None if self.mapping is None else self.mapping.to_dict(),
            "connector_modes": self.connector_modes,
            "timings_s": self.timings_s,
            "messages": self.messages,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)

    def report(self) -> str:
        """A printable report: the result, design-rule warnings and the mapping table."""
        lines = [f"deployed to {self.machine} ({self.target}), {self.duration:g} s"]
        if self.recording is None:
            lines.append("no spikes: " + NO_SPIKES_ON_VIRTUAL_BOARD)
        else:
            rates = ", ".join(f"{k} {v:.2f} Hz" for k, v in self.recording.rates().items())
            lines.append(f"rates: {rates or '(nothing recorded)'}")
        modes = sorted(set(self.connector_modes.values()))
        if modes:
            lines.append(f"connectors: {', '.join(modes)}")
        for v in self.drc.warnings:
            lines.append(f"warning [{v.rule}] {v.message}")
        if self.mapping is not None:
            lines.append(self.mapping.table())
        elif self.timings_s:
            lines.append("time: " + ", ".join(f"{k} {v:.2f} s" for k, v in self.timings_s.items()))
        lines.extend(f"note: {m}" for m in self.messages)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


def deploy(
    net: Network,
    target: str = "spinnaker",
    *,
    duration: float = 1.0,
    virtual: bool | None = None,
    machine: str | None = None,
    spalloc: str | None = None,
    spalloc_user: str | None = None,
    run_dir: str | Path | None = None,
    config_home: str | Path | None = None,
    neurons_per_core: int = 256,
    time_scale_factor: float | None = None,
    connectivity: str = "exact",
    board: BoardSpec = SPINNAKER_V5,
    seed: int | None = None,
    after_run: Callable[[Any], Any] | None = None,
) -> Deployment:
    """Check, lower and run ``net`` on ``target`` (``"spinnaker"`` or ``"nest"``).

    ``duration`` (s): simulated time (on a virtual board, what SDRAM for recording is planned
    for). SpiNNaker: a virtual board unless ``machine`` (host name) or ``spalloc`` (server URL) is
    given; ``run_dir`` receives sPyNNaker's configuration and everything it writes (default: a new
    temporary folder); ``config_home`` is where a minimal user configuration is written if you have
    none (default ``run_dir/config``; never your home directory); ``neurons_per_core`` (<= 256);
    ``time_scale_factor`` (default: 1 ms of board time per step below 1 ms). ``connectivity``:
    ``"exact"`` lowers every realised synapse as a FromListConnector, ``"native"`` uses PyNN
    connectors where the weights and delays are uniform (see :mod:`snn.hardware.pynn`).
    ``seed``: NEST's random seed (Poisson sources), default the network seed. ``after_run`` is
    called with the :class:`~snn.hardware.pynn.LoweredNetwork` after the run, while the PyNN
    objects are alive (e.g. to read ``Projection.get``); its result is ``Deployment.after_run``.

    Raises :class:`DRCError` when a design rule fails (before anything is built).
    """
    if target not in ("spinnaker", "nest"):
        raise ValueError(f"unknown deployment target {target!r}; valid choices: spinnaker, nest")
    if connectivity not in ("exact", "native"):
        raise ValueError(f"connectivity must be 'exact' or 'native', got {connectivity!r}")
    net.n_steps(duration)
    if duration <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration}")
    if target == "nest":
        if virtual or machine is not None or spalloc is not None:
            raise ValueError("virtual, machine and spalloc apply to target='spinnaker' only")
        drc = check_network(net, "nest")
        return _deploy_nest(net, duration, drc, connectivity, seed, after_run)

    from snn.hardware.spinnaker import MachineSpec, run_spinnaker

    if virtual is None:
        virtual = machine is None and spalloc is None
    spec = MachineSpec(
        virtual=virtual,
        machine=machine,
        spalloc=spalloc,
        spalloc_user=spalloc_user,
        version=board.version,
    )
    drc = check_network(net, "spinnaker", neurons_per_core=neurons_per_core, board=board)
    folder = (
        Path(tempfile.mkdtemp(prefix="snn-spinnaker-")) if run_dir is None else Path(run_dir)
    ).resolve()
    messages: list[str] = [f"run folder: {folder}"]
    report, recording, extra = run_spinnaker(
        net,
        duration,
        spec,
        folder,
        None if config_home is None else Path(config_home),
        neurons_per_core,
        time_scale_factor,
        connectivity,
        messages,
        after_run,
    )
    return Deployment(
        target="spinnaker",
        machine=spec.description,
        duration=duration,
        drc=drc,
        recording=recording,
        mapping=report,
        run_dir=folder,
        connector_modes=dict(report.connector_modes),
        timings_s=dict(report.timings_s),
        messages=messages,
        after_run=extra,
    )


def _deploy_nest(
    net: Network,
    duration: float,
    drc: DRCReport,
    connectivity: str,
    seed: int | None,
    after_run: Callable[[Any], Any] | None,
) -> Deployment:
    from snn.hardware.pynn import collect_recording, lower

    try:
        import pyNN.nest as sim
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"target 'nest' needs PyNN and nest-simulator ({exc.name} is missing): "
            "pip install 'snn-stack[nest]'"
        ) from exc
    dt_ms = net.dt * 1e3
    max_delay = max((int(p.delays.max()) for p in net.projections if p.size), default=1)
    run_seed = net.seed if seed is None else int(seed)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    # NEST seeds are < 2**31; keep the run reproducible for the same network seed
    sim.setup(
        timestep=dt_ms,
        min_delay=dt_ms,
        max_delay=max(max_delay, 2) * dt_ms,
        rng_seed=run_seed % (2**31 - 1) + 1,
        threads=1,
        verbosity="error",
    )
    timings["nest setup"] = time.perf_counter() - start
    try:
        lowered = lower(net, sim, "nest", connectivity)  # type: ignore[arg-type]
        timings["snn lowering"] = lowered.seconds
        n_steps = net.n_steps(duration)
        start = time.perf_counter()
        sim.run(n_steps * dt_ms)
        timings["nest run"] = time.perf_counter() - start
        recording = collect_recording(
            net,
            lowered,
            n_steps * net.dt,
            backend="nest",
            seed=run_seed,
            simulator="NEST via PyNN",
            wall_time_s=timings["nest run"],
        )
        extra = after_run(lowered) if after_run is not None else None
    finally:
        sim.end()
    return Deployment(
        target="nest",
        machine="NEST (PyNN) on this machine",
        duration=duration,
        drc=drc,
        recording=recording,
        connector_modes=dict(lowered.connector_modes),
        timings_s=timings,
        messages=[
            "NEST integrates the same equations with its own solvers (exact for IF_curr_exp, "
            "adaptive RK for IF_cond_exp) and draws its own Poisson spikes"
        ],
        after_run=extra,
    )
