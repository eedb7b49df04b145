"""sPyNNaker: configuration, a run on a virtual or real board, and the mapping report.

Configuration. sPyNNaker reads ``spynnaker.cfg`` from the current directory on top of a *user*
configuration file that it insists exists: ``~/.spynnaker.cfg`` or ``.spynnaker.cfg`` in the user
(``$XDG_CONFIG_HOME``) or site configuration directory; when none exists it writes
``~/.spynnaker.cfg`` itself and stops with an error. We never let it write into your home:

* the machine settings (virtual board / machine name / spalloc server, board version, reports in
  the run folder, quiet logging) go into ``RUN_DIR/spynnaker.cfg``, and sPyNNaker runs with the run
  folder as its working directory;
* if you already have a user configuration file, it is used and the run folder's file overrides
  its machine settings;
* if you have none, a minimal one is written to ``config_home`` (default ``RUN_DIR/config``) and
  ``XDG_CONFIG_HOME`` points there for the duration of the run (the message list says so). Copy it
  to ``~/.spynnaker.cfg`` if you want a permanent one.

Everything sPyNNaker writes (reports, provenance and data databases) goes under the run folder.
The working directory and the environment are restored afterwards; do not deploy from two threads
of one process at once.

Mapping report: after ``sim.run``, :func:`mapping_report` reads placements, the SDRAM each core
needs, the routing tables and the binaries from ``SpynnakerDataView`` (not from report files), and
the algorithm timings from sPyNNaker's provenance database.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from snn.hardware.drc import WeightQuantization, incoming_by_receptor, quantize
from snn.hardware.pynn import LoweredNetwork
from snn.network import Network

CONFIG_NAME = "spynnaker.cfg"
USER_CONFIG_NAME = ".spynnaker.cfg"


@dataclass(frozen=True)
class MachineSpec:
    """Where sPyNNaker runs: a virtual board (default), a board by host name, or via spalloc."""

    virtual: bool = True
    machine: str | None = None
    spalloc: str | None = None
    spalloc_user: str | None = None
    version: int = 5

    def __post_init__(self) -> None:
        chosen = [bool(self.virtual), self.machine is not None, self.spalloc is not None]
        if sum(chosen) != 1:
            raise ValueError(
                "choose exactly one SpiNNaker machine: virtual=True (no board, mapping only), "
                "machine='HOST' (a board's host name or IP) or spalloc='URL' (a spalloc server)"
            )
        if self.machine is not None and not self.machine.strip():
            raise ValueError("machine must be a board host name or IP address, got ''")
        if self.spalloc is not None and not self.spalloc.strip():
            raise ValueError("spalloc must be a spalloc server URL, got ''")

    @property
    def description(self) -> str:
        if self.virtual:
            return f"virtual SpiNN-{self.version} board"
        if self.machine is not None:
            return f"SpiNN-{self.version} board {self.machine}"
        return f"spalloc server {self.spalloc}"


def run_config_text(spec: MachineSpec, run_dir: Path) -> str:
    """The ``spynnaker.cfg`` written into the run folder."""
    lines = ["# written by snn-stack for this run; sPyNNaker reads it from its working directory"]
    lines += ["[Machine]", f"version = {spec.version}"]
    if spec.virtual:
        lines += ["virtual_board = True", "machine_name = None", "spalloc_server = None"]
    elif spec.machine is not None:
        lines += ["virtual_board = False", f"machine_name = {spec.machine}"]
        lines.append("spalloc_server = None")
    else:
        lines += ["virtual_board = False", "machine_name = None"]
        lines.append(f"spalloc_server = {spec.spalloc}")
        if spec.spalloc_user:
            lines.append(f"spalloc_user = {spec.spalloc_user}")
    lines += [
        "",
        "[Reports]",
        f"default_report_file_path = {run_dir}",
        "",
        "[Mode]",
        "mode = Production",
        "",
        "[Logging]",
        "default = warning",
    ]
    return "\n".join(lines) + "\n"


def user_config_files() -> list[Path]:
    """The user configuration files sPyNNaker would find now (site, user config dir, home)."""
    import appdirs

    places = [
        Path(appdirs.site_config_dir()) / USER_CONFIG_NAME,
        Path(appdirs.user_config_dir()) / USER_CONFIG_NAME,
        Path(os.path.expanduser("~")) / USER_CONFIG_NAME,
    ]
    return [p for p in dict.fromkeys(places) if p.is_file()]


@contextlib.contextmanager
def spinnaker_environment(
    spec: MachineSpec, run_dir: Path, config_home: Path | None, messages: list[str]
) -> Iterator[None]:
    """Run sPyNNaker inside ``run_dir`` with our configuration; restore cwd and env after."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / CONFIG_NAME).write_text(run_config_text(spec, run_dir), encoding="utf-8")
    messages.append(f"sPyNNaker configuration: {run_dir / CONFIG_NAME}")
    saved_env = os.environ.get("XDG_CONFIG_HOME")
    saved_cwd = Path.cwd()
    existing = user_config_files()
    redirected = False
    if len(existing) > 1:
        raise ValueError(
            "sPyNNaker refuses to run with two user configuration files: "
            + " and ".join(str(p) for p in existing)
            + "; delete one of them"
        )
    if existing:
        messages.append(
            f"using your sPyNNaker user configuration {existing[0]} (machine settings from "
            f"{run_dir / CONFIG_NAME} override it)"
        )
    else:
        home = (config_home or run_dir / "config").resolve()
        home.mkdir(parents=True, exist_ok=True)
        (home / USER_CONFIG_NAME).write_text(
            "# minimal sPyNNaker user configuration written by snn-stack; sPyNNaker insists on\n"
            "# one. Copy it to ~/.spynnaker.cfg to make it permanent.\n"
            + run_config_text(spec, run_dir),
            encoding="utf-8",
        )
        messages.append(
            "sPyNNaker insists on a user configuration file and none exists; wrote "
            f"{home / USER_CONFIG_NAME} (not in your home directory) and pointed "
            "XDG_CONFIG_HOME there for this run"
        )
        os.environ["XDG_CONFIG_HOME"] = str(home)
        redirected = True
    log_path = run_dir / "spynnaker.log"
    messages.append(f"sPyNNaker's console output: {log_path}")
    try:
        os.chdir(run_dir)
        with (
            open(log_path, "a", encoding="utf-8") as log,
            contextlib.redirect_stdout(log),
            contextlib.redirect_stderr(log),
        ):
            yield
    finally:
        os.chdir(saved_cwd)
        if redirected:
            if saved_env is None:
                os.environ.pop("XDG_CONFIG_HOME", None)
            else:
                os.environ["XDG_CONFIG_HOME"] = saved_env


# ---------------------------------------------------------------------------------------------
# mapping report
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CorePlacement:
    """One placed core: chip (x, y), processor p, what runs there and what it needs."""

    x: int
    y: int
    p: int
    population: str
    role: str
    atoms: int
    first_atom: int
    sdram_bytes: int
    binary: str

    def to_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class PopulationMapping:
    """Summary of where one population (or its delay extension) runs."""

    population: str
    role: str
    neurons: int
    chips: int
    cores: int
    neurons_per_core: int
    sdram_bytes: int
    sdram_per_core_max: int
    binaries: list[str]

    def to_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class MappingReport:
    """What sPyNNaker did with a network: placements, SDRAM, routing, binaries and timings.

    ``timings_s`` holds our lowering time, sPyNNaker's setup, and its own phases (from its
    provenance database: mapping, loading/data generation, ...) plus the wall time of ``run``.
    """

    machine: str
    virtual: bool
    chips_used: int
    cores_used: int
    application_chips: int
    application_cores: int
    populations: list[PopulationMapping]
    cores: list[CorePlacement]
    routing_tables: int
    routing_entries: int
    routing_entries_max_per_chip: int
    binaries: dict[str, list[tuple[int, int, int]]]
    timings_s: dict[str, float]
    quantization: list[WeightQuantization] = field(default_factory=list)
    connector_modes: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "virtual": self.virtual,
            "chips_used": self.chips_used,
            "cores_used": self.cores_used,
            "application_chips": self.application_chips,
            "application_cores": self.application_cores,
            "populations": [p.to_dict() for p in self.populations],
            "cores": [c.to_dict() for c in self.cores],
            "routing": {
                "tables": self.routing_tables,
                "entries": self.routing_entries,
                "max_entries_per_chip": self.routing_entries_max_per_chip,
            },
            "binaries": {b: [list(c) for c in cs] for b, cs in self.binaries.items()},
            "timings_s": self.timings_s,
            "quantization": [q.to_dict() for q in self.quantization],
            "connector_modes": self.connector_modes,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON (SDRAM in bytes, times in seconds)."""
        return json.dumps(self.to_dict(), indent=indent)

    def save(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    def table(self) -> str:
        """A printable summary: one row per population, then routing, binaries, timings."""
        rows = [
            [
                p.population,
                p.role,
                f"{p.neurons:,}",
                str(p.chips),
                str(p.cores),
                str(p.neurons_per_core),
                f"{p.sdram_per_core_max / 1024:,.1f}",
                f"{p.sdram_bytes / 1024:,.1f}",
                ", ".join(p.binaries),
            ]
            for p in self.populations
        ]
        header = [
            "population",
            "role",
            "atoms",
            "chips",
            "cores",
            "atoms/core",
            "SDRAM/core max (KiB)",
            "SDRAM total (KiB)",
            "binary",
        ]
        lines = [
            f"mapping on {self.machine}: {self.application_cores} application cores on "
            f"{self.application_chips} chip(s); {self.cores_used} cores on {self.chips_used} "
            "chips with sPyNNaker's monitors",
            _table(header, rows),
            f"routing: {self.routing_entries} entries in {self.routing_tables} tables "
            f"(max {self.routing_entries_max_per_chip} on one chip)",
        ]
        if self.quantization:
            qrows = [
                [
                    q.projection,
                    q.receptor,
                    str(q.shift),
                    f"{1 / q.scale:.3g} {q.unit}",
                    f"{q.max_rel_error:.2e}",
                    str(q.zeroed),
                ]
                for q in self.quantization
            ]
            lines.append("weights (16-bit fixed point, sPyNNaker's ring-buffer shifts):")
            qheader = ["projection", "receptor", "shift", "step", "max rel error", "zeroed"]
            lines.append(_table(qheader, qrows))
        lines.append("binaries: " + "; ".join(f"{b} x{len(c)}" for b, c in self.binaries.items()))
        lines.append(
            "time: " + ", ".join(f"{k} {v:.2f} s" for k, v in self.timings_s.items() if v > 0)
        )
        return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    )


def _role(vertex: Any) -> str:
    name = type(vertex).__name__
    if "DelayExtension" in name:
        return "delay extension"
    if "SpikeSource" in name:
        return "spike source"
    if "Synapses" in name:
        return "synapses"  # sPyNNaker splits synapse processing onto its own cores
    if name.startswith("Population"):
        return "neurons"
    return "system"


def _provenance_timings() -> dict[str, float]:
    """sPyNNaker's own phase timings (s) from its provenance database."""
    from spinn_front_end_common.interface.provenance import GlobalProvenance, TimerCategory

    out: dict[str, float] = {}
    with GlobalProvenance() as db:
        for cat in TimerCategory:
            ms = db.get_category_timer_sum(cat)
            if ms:
                out[f"spynnaker {cat.category_name.lower()}"] = float(ms) / 1e3
        # the host-side synaptic matrix generation, the step the issue asks about
        out["spynnaker data specification"] = (
            float(db.get_timer_sum_by_algorithm("Graph data specification writer")) / 1e3
        )
    return out


def mapping_report(
    net: Network,
    lowered: LoweredNetwork,
    spec: MachineSpec,
    n_steps: int,
    timings_s: dict[str, float],
) -> MappingReport:
    """Read placements, SDRAM, routing and binaries of the finished run from SpynnakerDataView."""
    from spynnaker.pyNN.data import SpynnakerDataView

    view = SpynnakerDataView
    cores: list[CorePlacement] = []
    binaries: dict[str, list[tuple[int, int, int]]] = {}
    for placement in view.iterate_placemements():
        vertex = placement.vertex
        app = vertex.app_vertex
        role = _role(vertex)
        label = app.label if app is not None and app.label else "system"
        if role == "delay extension" and label.endswith("_delayed"):
            label = label[: -len("_delayed")]
        binary = vertex.get_binary_file_name() if hasattr(vertex, "get_binary_file_name") else "-"
        vslice = vertex.vertex_slice
        sdram = int(vertex.sdram_required.get_total_sdram(n_steps))
        cores.append(
            CorePlacement(
                int(placement.x),
                int(placement.y),
                int(placement.p),
                label if role != "system" else type(vertex).__name__,
                role,
                int(vslice.n_atoms) if role != "system" else 0,
                int(vslice.lo_atom) if role != "system" else 0,
                sdram,
                str(binary),
            )
        )
        binaries.setdefault(str(binary), []).append(
            (int(placement.x), int(placement.y), int(placement.p))
        )
    populations: list[PopulationMapping] = []
    groups: dict[tuple[str, str], list[CorePlacement]] = {}
    for core in cores:
        if core.role != "system":
            groups.setdefault((core.population, core.role), []).append(core)
    system = [c for c in cores if c.role == "system"]
    order = {p.label: k for k, p in enumerate(net.populations)}
    for (label, role), cs in sorted(groups.items(), key=lambda g: (order.get(g[0][0], 1e9), g[0])):
        populations.append(
            PopulationMapping(
                population=label,
                role=role,
                neurons=sum(c.atoms for c in cs) if role in ("neurons", "spike source") else 0,
                chips=len({(c.x, c.y) for c in cs}),
                cores=len(cs),
                neurons_per_core=max(c.atoms for c in cs),
                sdram_bytes=sum(c.sdram_bytes for c in cs),
                sdram_per_core_max=max(c.sdram_bytes for c in cs),
                binaries=sorted({c.binary for c in cs}),
            )
        )
    if system:
        populations.append(
            PopulationMapping(
                population="(sPyNNaker system)",
                role="system",
                neurons=0,
                chips=len({(c.x, c.y) for c in system}),
                cores=len(system),
                neurons_per_core=0,
                sdram_bytes=sum(c.sdram_bytes for c in system),
                sdram_per_core_max=max(c.sdram_bytes for c in system),
                binaries=sorted({c.binary for c in system}),
            )
        )
    tables = view.get_uncompressed()
    per_chip = [t.number_of_entries for t in tables.routing_tables]
    timings_s = {**timings_s, **_provenance_timings()}
    return MappingReport(
        machine=spec.description,
        virtual=spec.virtual,
        chips_used=len({(c.x, c.y) for c in cores}),
        cores_used=len(cores),
        application_chips=len({(c.x, c.y) for c in cores if c.role != "system"}),
        application_cores=len(cores) - len(system),
        populations=populations,
        cores=cores,
        routing_tables=len(per_chip),
        routing_entries=int(sum(per_chip)),
        routing_entries_max_per_chip=int(max(per_chip, default=0)),
        binaries=binaries,
        timings_s=timings_s,
        quantization=actual_quantization(net, lowered),
        connector_modes=dict(lowered.connector_modes),
    )


def actual_quantization(net: Network, lowered: LoweredNetwork) -> list[WeightQuantization]:
    """Weight quantisation with the ring-buffer shifts sPyNNaker chose for each post population."""
    out: list[WeightQuantization] = []
    for (post_index, receptor), projs in incoming_by_receptor(net).items():
        post = net.populations[post_index]
        vertex = getattr(lowered.populations.get(post.label), "_vertex", None)
        if vertex is None or not hasattr(vertex, "get_ring_buffer_shifts"):
            continue
        shifts = vertex.get_ring_buffer_shifts()
        synapse_id = vertex.neuron_impl.get_synapse_id_by_target(receptor)
        if synapse_id is None:
            continue
        shift = int(shifts[synapse_id])
        out.extend(quantize(p, shift) for p in projs if p.size)
    return out


def run_spinnaker(
    net: Network,
    duration: float,
    spec: MachineSpec,
    run_dir: Path,
    config_home: Path | None,
    neurons_per_core: int,
    time_scale_factor: float | None,
    connectivity: str,
    messages: list[str],
    after_run: Callable[[LoweredNetwork], Any] | None = None,
) -> tuple[MappingReport, Any, Any]:
    """Set up sPyNNaker, lower ``net``, run (mapping only on a virtual board) and report.

    Returns the mapping report, on a real board the recording (else None), and what
    ``after_run(lowered)`` returned (called after the run, before sPyNNaker shuts down).
    """
    from snn.hardware.pynn import collect_recording, lower

    n_steps = net.n_steps(duration)
    dt_ms = net.dt * 1e3
    if time_scale_factor is None and not spec.virtual and dt_ms < 1.0:
        time_scale_factor = float(np.ceil(1.0 / dt_ms))
        messages.append(
            f"time_scale_factor {time_scale_factor:g}: each {dt_ms:g} ms step gets 1 ms of "
            "board time (pass time_scale_factor to change it)"
        )
    timings: dict[str, float] = {}
    recording = extra = None
    with spinnaker_environment(spec, run_dir, config_home, messages):
        start = time.perf_counter()
        sim = _import_spinnaker()
        sim.setup(timestep=dt_ms, time_scale_factor=time_scale_factor)
        timings["spynnaker setup"] = time.perf_counter() - start
        try:
            lowered = lower(net, sim, "spinnaker", connectivity, neurons_per_core)  # type: ignore[arg-type]
            timings["snn lowering"] = lowered.seconds
            start = time.perf_counter()
            sim.run(n_steps * dt_ms)
            timings["spynnaker run (wall)"] = time.perf_counter() - start
            report = mapping_report(net, lowered, spec, n_steps, timings)
            if not spec.virtual:
                recording = collect_recording(
                    net,
                    lowered,
                    n_steps * net.dt,
                    backend="spinnaker",
                    seed=net.seed,
                    machine=spec.description,
                )
            if after_run is not None:
                extra = after_run(lowered)
        finally:
            sim.end()
    return report, recording, extra


def _import_spinnaker() -> ModuleType:
    try:
        import pyNN.spiNNaker as sim
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"deploying to SpiNNaker needs sPyNNaker ({exc.name} is missing): "
            "pip install 'snn-stack[spinnaker]'"
        ) from exc
    return sim
