"""The ``snn`` command line: ``simulate``, ``deploy``, ``demo``, ``train``, ``backends``, ``info``.

::

    snn simulate MODEL.h5 --duration 1.0 --backend numba --out RESULT.h5
    snn deploy MODEL.h5 --target spinnaker [--virtual | --machine HOST | --spalloc URL]
    snn deploy MODEL.h5 --target nest --duration 1.0 --out RESULT.h5
    snn demo --out snn-demo            # Vogels-Abbott CUBA: network, recording, raster
    snn train dvs-gesture --data ROOT --out RUN  # surrogate-gradient training (torchrun too)
    snn backends                       # which backends can run here, and why not
    snn info FILE.h5                   # summary of a saved network or recording
    snn crossbar sweep --param wire_resistance --values 0,1,2  # crossbar error study, CSV + PNG

An error in the input (missing or invalid file, unknown backend, bad duration) prints one line,
``snn: error: ...``, to stderr and exits with status 2; set ``SNN_TRACEBACK=1`` to get the
traceback instead. Output files are written atomically: a failed command leaves none half-written.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from snn.backends import BACKENDS, available, simulate
from snn.io import atomic_write, load, load_network, read_header, save
from snn.network import Network, PopulationView, Projection
from snn.recording import Recording

EXIT_OK = 0
EXIT_ERROR = 2


class CommandError(Exception):
    """A problem with the command's input, reported as one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so errors stay one line."""

    def error(self, message: str) -> NoReturn:
        raise CommandError(message)


# ---------------------------------------------------------------------------------------------
# argument types
# ---------------------------------------------------------------------------------------------
def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _natural(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def _positive(text: str) -> int:
    value = _natural(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _check_output(path: Path, inputs: Sequence[Path] = ()) -> None:
    """Fail before any work if ``path`` cannot be written (or would overwrite an input)."""
    if path.is_dir():
        raise CommandError(f"output {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise CommandError(f"output directory {path.parent} does not exist")
    for source in inputs:
        if source.exists() and path.exists() and path.resolve() == source.resolve():
            raise CommandError(f"output {path} is the input file; choose another --out")


def _require_backend(name: str) -> str:
    reason = available().get(name)
    if reason is not None:
        raise CommandError(f"backend {name!r} is not available: {reason}")
    return name


def _run(
    net: Network,
    duration: float,
    backend: str,
    seed: int | None,
    progress: bool,
    **options: Any,
) -> tuple[Recording, float]:
    start = time.perf_counter()
    try:
        rec = simulate(net, duration, backend=backend, seed=seed, progress=progress, **options)
    except ImportError as exc:  # a registered backend whose module is missing from this install
        raise CommandError(f"backend {backend!r} cannot be loaded: {exc}") from exc
    return rec, time.perf_counter() - start


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return indent + "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))

    return "\n".join(line(r).rstrip() for r in [header, *rows])


def _rate_rows(rec: Recording) -> list[list[str]]:
    return [
        [label, sp.population, str(sp.neurons.size), f"{sp.count:,}", f"{rec.rate(label):.2f}"]
        for label, sp in rec.spikes.items()
    ]


def _print_rates(rec: Recording) -> None:
    if not rec.spikes:
        print("no spikes were recorded")
        return
    header = ["recorder", "population", "neurons", "spikes", "rate (Hz)"]
    print(_table(header, _rate_rows(rec)))


def _seconds_text(value: float) -> str:
    return f"{value * 1e3:g} ms" if value < 1 else f"{value:g} s"


# ---------------------------------------------------------------------------------------------
# snn simulate
# ---------------------------------------------------------------------------------------------
def _cmd_simulate(args: argparse.Namespace) -> int:
    model, out = Path(args.model), Path(args.out)
    _check_output(out, inputs=[model])
    backend = _require_backend(args.backend)
    net = load_network(model)
    net.n_steps(args.duration)  # a duration that is not whole steps fails before any work
    n_neurons = sum(p.size for p in net.populations)
    n_synapses = sum(p.size for p in net.projections)
    print(
        f"{model}: {n_neurons:,} neurons, {n_synapses:,} synapses, dt {_seconds_text(net.dt)}; "
        f"simulating {args.duration:g} s on {backend}"
        + ("" if args.precision == "float64" else f" in {args.precision}")
    )
    # float64 is every backend's default; the numpy, numba and cuda backends take float32
    options = {} if args.precision == "float64" else {"precision": args.precision}
    progress = not args.no_progress
    rec, wall = _run(net, args.duration, backend, args.seed, progress=progress, **options)
    rec.metadata.update(network_file=str(model), wall_time_s=wall, precision=args.precision)
    save(rec, out)
    _print_rates(rec)
    print(
        f"wall time {wall:.2f} s ({wall / args.duration:.3f} s per simulated second, including "
        "compiling or loading kernels)"
    )
    print(f"wrote {out}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# snn deploy
# ---------------------------------------------------------------------------------------------
def _cmd_deploy(args: argparse.Namespace) -> int:
    from snn.hardware import deploy

    model = Path(args.model)
    out = Path(args.out) if args.out else None
    report_path = Path(args.report) if args.report else None
    for path in (out, report_path):
        if path is not None:
            _check_output(path, inputs=[model])
    machines = [args.virtual, args.machine is not None, args.spalloc is not None]
    if args.target == "nest" and any(machines):
        raise CommandError("--virtual, --machine and --spalloc apply to --target spinnaker only")
    if sum(machines) > 1:
        raise CommandError("give only one of --virtual, --machine HOST and --spalloc URL")
    virtual = args.target == "spinnaker" and args.machine is None and args.spalloc is None
    if out is not None and virtual:
        raise CommandError(
            "a virtual board returns no spikes, so there is no recording for --out; "
            "use --machine/--spalloc or --target nest"
        )
    net = load_network(model)
    net.n_steps(args.duration)
    where = {
        "nest": "NEST via PyNN",
        "spinnaker": args.machine or args.spalloc or "a virtual SpiNN-5 board",
    }[args.target]
    print(f"{model}: deploying {args.duration:g} s to {where}")
    try:
        result = deploy(
            net,
            args.target,
            duration=args.duration,
            virtual=virtual if args.target == "spinnaker" else None,
            machine=args.machine,
            spalloc=args.spalloc,
            run_dir=args.run_dir,
            neurons_per_core=args.neurons_per_core,
            connectivity=args.connectivity,
        )
    except ModuleNotFoundError as exc:
        raise CommandError(str(exc)) from exc
    print(result.report())
    if report_path is not None:
        with atomic_write(report_path) as tmp:
            tmp.write_text(result.to_json() + "\n", encoding="utf-8")
        print(f"wrote {report_path}")
    if out is not None and result.recording is not None:
        result.recording.metadata.update(network_file=str(model))
        save(result.recording, out)
        print(f"wrote {out}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# snn demo: a list of steps, each timed; later steps extend the tour
# ---------------------------------------------------------------------------------------------
@dataclass
class DemoContext:
    """What the demo steps share: options, the objects built so far and the files written."""

    out_dir: Path
    duration: float
    backend: str
    n: int
    seed: int
    progress: bool
    network: Network | None = None
    recording: Recording | None = None
    files: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: event-camera part: synthetic training samples (0 skips it), epochs, a real recording
    gestures: int = 1100
    gesture_epochs: int = 20
    events: Path | None = None
    gesture_model: Path | None = None
    gesture_frames: Path | None = None

    def require_network(self) -> Network:
        if self.network is None:
            raise RuntimeError("demo step order: the network is built by the 'build' step")
        return self.network

    def require_recording(self) -> Recording:
        if self.recording is None:
            raise RuntimeError("demo step order: the recording comes from the 'simulate' step")
        return self.recording


@dataclass(frozen=True)
class DemoStep:
    """One step of the tour: ``run`` does the work and returns a one-line result."""

    name: str
    title: str
    run: Callable[[DemoContext], str]


def _demo_build(ctx: DemoContext) -> str:
    from snn.models import vogels_abbott

    ctx.network = vogels_abbott("cuba", n=ctx.n, seed=ctx.seed)
    ctx.network.n_steps(ctx.duration)
    synapses = sum(p.size for p in ctx.network.projections)
    return f"{ctx.n:,} neurons, {synapses:,} synapses"


def _demo_save_network(ctx: DemoContext) -> str:
    path = ctx.out_dir / "vogels_abbott.h5"
    save(ctx.require_network(), path)
    ctx.files.append(path)
    return f"{path} ({path.stat().st_size / 1e6:.2f} MB)"


def _demo_simulate(ctx: DemoContext) -> str:
    net = ctx.require_network()
    ctx.recording, wall = _run(net, ctx.duration, ctx.backend, None, ctx.progress)
    ctx.recording.metadata.update(wall_time_s=wall)
    spikes = sum(sp.count for sp in ctx.recording.spikes.values())
    return f"{ctx.duration:g} s on {ctx.backend}: {spikes:,} spikes"


def _demo_save_recording(ctx: DemoContext) -> str:
    path = ctx.out_dir / "recording.h5"
    save(ctx.require_recording(), path)
    ctx.files.append(path)
    return str(path)


def _demo_raster(ctx: DemoContext) -> str:
    path = ctx.out_dir / "raster.png"
    fig = ctx.require_recording().raster()
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    ctx.files.append(path)
    return str(path)


def _demo_spinnaker(ctx: DemoContext) -> str:
    """Map the demo network on a virtual SpiNN-5 board (skipped without sPyNNaker)."""
    import importlib.util

    if importlib.util.find_spec("spynnaker") is None:
        return "skipped: sPyNNaker is not installed (pip install 'snn-stack[spinnaker]')"
    from snn.hardware import deploy

    # sPyNNaker's reports and databases go to a new temporary run folder (deploy's default),
    # kept: sPyNNaker writes a marker file there when the process exits
    result = deploy(ctx.require_network(), "spinnaker", duration=0.1)
    mapping = result.mapping
    sdram = sum(p.sdram_bytes for p in mapping.populations if p.role != "system")
    return (
        f"{mapping.application_cores} cores on {mapping.application_chips} chip(s) of a "
        f"{mapping.machine}, {sdram / 2**20:.1f} MiB SDRAM, {mapping.routing_entries} routing "
        f"entries; no spikes (nothing is simulated on a virtual board); reports in "
        f"{result.run_dir}"
    )


def _demo_gestures(ctx: DemoContext) -> str:
    """Train the Cordone spiking CNN on synthetic DVS gestures; check it on Numba."""
    if ctx.gestures == 0:
        return "skipped (--gestures 0)"
    from snn.training.demo import format_rates, gesture_demo, sparsity_text

    n_test = max(11, ctx.gestures * 3 // 10)
    res = gesture_demo(
        ctx.out_dir / "dvs",
        n_train=ctx.gestures,
        n_test=n_test,
        epochs=ctx.gesture_epochs,
        seed=ctx.seed,
        progress=ctx.progress,
        log=lambda msg: print(f"    {msg}"),
    )
    ctx.files.extend(res.files.values())
    ctx.gesture_model = res.files["model"]
    ctx.gesture_frames = res.files["sample_frames"]
    same, total = res.numba_agreement
    baseline = (
        ""
        if res.baseline_accuracy is None
        else f"; T = 1 accumulated-frame baseline {res.baseline_accuracy:.1f} %"
    )
    crossbar = "".join(
        f"; on PCM crossbars, {k}: {v:.1f} %" for k, v in res.crossbar_accuracy.items()
    )
    return (
        f"test accuracy {res.test_accuracy:.1f} % after {res.epochs} epochs "
        f"({res.train_seconds:.0f} s){baseline}; Numba event-driven predictions equal torch's "
        f"on {same}/{total} test samples; spikes per neuron and step "
        f"{format_rates(res.layer_rates)}; "
        f"{sparsity_text(res.synaptic_events, res.dense_synaptic_ops)}{crossbar}"
    )


def _demo_events(ctx: DemoContext) -> str:
    """A real event-camera recording through the trained gesture network (if one is given)."""
    if ctx.events is None:
        return "no real recording given (--events FILE: .aedat4, .aedat, .raw, .dat, .bin); skipped"
    if ctx.gesture_model is None:
        return "skipped: no trained gesture network (--gestures 0)"
    from snn.training.demo import format_rates, run_recording

    info = run_recording(ctx.gesture_model, ctx.events)
    return (
        f"{ctx.events.name}: {info['events']:,} events from a {info['sensor']} sensor, "
        f"{info['kept']:,} in the central 128x128 over {info['duration_s']:.2f} s -> class "
        f"{info['prediction']} ({info['label']}); spikes per neuron and step "
        f"{format_rates(info['rates'])}"
    )


def _demo_bench(ctx: DemoContext) -> str:
    """Sparsity, synaptic operations and energy per target of the trained gesture network."""
    if ctx.gesture_model is None or ctx.gesture_frames is None:
        return "skipped: no trained gesture network (--gestures 0)"
    from snn.metrics.report import bench, energy_table, write_report

    net = load_network(ctx.gesture_model)
    frames = np.load(ctx.gesture_frames, allow_pickle=False)
    report = bench(net, frames, None, title="trained gesture network, test sample 0")
    files = write_report(report, ctx.out_dir / "dvs" / "bench")
    ctx.files.extend(files)
    print(report.metrics.table())
    print(energy_table(report))
    return (
        f"activation sparsity {report.metrics.activation_sparsity:.4f}; report (Markdown, "
        f"HTML) in {files[0].parent}"
    )


DEMO_STEPS: list[DemoStep] = [
    DemoStep("build", "build the Vogels-Abbott CUBA network", _demo_build),
    DemoStep("save", "save the network", _demo_save_network),
    DemoStep("simulate", "simulate", _demo_simulate),
    DemoStep("record", "save the recording", _demo_save_recording),
    DemoStep("raster", "plot the spike raster", _demo_raster),
    DemoStep("spinnaker", "map on a virtual SpiNNaker board", _demo_spinnaker),
    DemoStep("gestures", "event camera: train a spiking CNN on synthetic gestures", _demo_gestures),
    DemoStep("events", "run a real event-camera recording through it", _demo_events),
    DemoStep("bench", "sparsity, synaptic operations and energy per target", _demo_bench),
]


def _cmd_demo(args: argparse.Namespace) -> int:
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise CommandError(f"--out {out_dir} exists and is not a directory")
    backend = _require_backend(args.backend)
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(out_dir, args.duration, backend, args.n, args.seed, not args.no_progress)
    ctx.gestures, ctx.gesture_epochs = args.gestures, args.gesture_epochs
    if args.events is not None:
        if not Path(args.events).is_file():
            raise CommandError(f"--events {args.events}: no such file")
        ctx.events = Path(args.events)
    print(f"snn demo: Vogels-Abbott CUBA, N = {args.n}, {args.duration:g} s on {backend}")
    for k, step in enumerate(DEMO_STEPS, start=1):
        start = time.perf_counter()
        result = step.run(ctx)
        ctx.timings[step.name] = time.perf_counter() - start
        print(f"[{k}/{len(DEMO_STEPS)}] {step.title}: {result} ({ctx.timings[step.name]:.2f} s)")
    rec = ctx.require_recording()
    print("rates:")
    _print_rates(rec)
    rates = rec.rates()
    summary = ", ".join(f"{label} {rate:.2f} Hz" for label, rate in rates.items())
    print(f"mean rates: {summary}")
    print("timings: " + ", ".join(f"{name} {sec:.2f} s" for name, sec in ctx.timings.items()))
    sim = ctx.timings.get("simulate")
    if sim is not None:
        print(
            f"simulation: {sim / ctx.duration:.3f} s wall time per simulated second on "
            f"{backend}, including compiling or loading kernels (loop times: benchmarks/)"
        )
    print("wrote: " + ", ".join(str(p) for p in ctx.files))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# snn backends
# ---------------------------------------------------------------------------------------------
def _cmd_backends(args: argparse.Namespace) -> int:
    reasons = available()
    rows = []
    for name, backend in BACKENDS.items():
        reason = reasons[name]
        rows.append(
            [
                name,
                "yes" if reason is None else "no",
                backend.description if reason is None else reason,
            ]
        )
    print(_table(["backend", "available", "details"], rows, indent=""))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# snn info
# ---------------------------------------------------------------------------------------------
def _range(values: np.ndarray, fmt: str = "{:.3g}") -> str:
    if values.size == 0:
        return "-"
    lo, hi = values.min(), values.max()
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}..{fmt.format(hi)}"


def _describe_network(net: Network) -> str:
    lines = [f"network: dt {_seconds_text(net.dt)}, seed {net.seed}"]
    n_neurons = sum(p.size for p in net.populations)
    lines.append(f"populations: {len(net.populations)} ({n_neurons:,} neurons)")
    if net.populations:
        rows = [
            [p.label, "x".join(map(str, p.shape)), f"{p.size:,}", p.model.name]
            for p in net.populations
        ]
        lines.append(_table(["label", "shape", "size", "model"], rows))
    n_synapses = sum(p.size for p in net.projections)
    lines.append(f"projections: {len(net.projections)} ({n_synapses:,} synapses)")
    if net.projections:
        rows = []
        for p in net.projections:
            rows.append(
                [
                    p.label,
                    f"{p.pre.label} -> {p.post.label}",
                    p.connector.name,
                    p.receptor,
                    f"{p.size:,}",
                    _range(p.weights),
                    _range(p.delays, "{:d}"),
                    "-"
                    if p.plasticity is None
                    else f"{p.plasticity.name} ({p.plasticity.weight_dependence})",
                ]
            )
        header = [
            "label",
            "pre -> post",
            "connector",
            "receptor",
            "synapses",
            "weight",
            "delay (steps)",
            "plasticity",
        ]
        lines.append(_table(header, rows))
    lines.append(f"recorders: {len(net.recorders)}")
    if net.recorders:
        rows = []
        for r in net.recorders:
            if isinstance(r.target, Projection):
                target = f"projection {r.target.label}"
            else:
                kind = "view" if isinstance(r.target, PopulationView) else "population"
                target = f"{kind} {r.target.label} ({r.target.size})"
            every = "every step" if r.interval_steps == 1 else f"every {r.interval_steps} steps"
            rows.append([r.label, target, ", ".join(r.variables), every])
        lines.append(_table(["label", "target", "variables", "interval"], rows))
    return "\n".join(lines)


def _describe_recording(rec: Recording) -> str:
    lines = [
        f"recording: backend {rec.backend}, seed {rec.seed}, dt {_seconds_text(rec.dt)}, "
        f"duration {rec.duration:g} s"
    ]
    lines.append(f"spikes: {len(rec.spikes)} recorder(s)")
    if rec.spikes:
        lines.append(
            _table(["recorder", "population", "neurons", "spikes", "rate (Hz)"], _rate_rows(rec))
        )
    n_traces = sum(len(v) for v in rec.traces.values())
    lines.append(f"traces: {n_traces}")
    rows = [
        [f"{label}.{var}", tr.unit or "-", f"{tr.values.shape[0]} x {tr.values.shape[1]}"]
        for label, per_var in rec.traces.items()
        for var, tr in per_var.items()
    ]
    if rows:
        lines.append(_table(["trace", "unit", "samples x elements"], rows))
    if rec.metadata:
        shown = {
            k: f"{v:.4g}" if isinstance(v, float) else repr(v) for k, v in rec.metadata.items()
        }
        lines.append("metadata: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    return "\n".join(lines)


def _cmd_info(args: argparse.Namespace) -> int:
    path = Path(args.file)
    header = read_header(path)
    obj = load(path)
    print(
        f"{path}: snn-stack {header['kind']}, format_version {header['format_version']}, "
        f"written by snn {header['snn_version']}"
    )
    print(_describe_network(obj) if isinstance(obj, Network) else _describe_recording(obj))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# snn train
# ---------------------------------------------------------------------------------------------
def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _nonnegative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


#: the input downsampling each model is built for (Cordone et al.: 128x128; NeuroBench: 32x32)
_TRAIN_DEFAULT_DOWNSAMPLE = {"cordone": 1, "csnn": 4}


def _cmd_train(args: argparse.Namespace) -> int:
    try:
        from snn.training import TrainConfig, init_distributed, shutdown_distributed, train
        from snn.training.gesture import (
            DEFAULT_CACHE_FOLDER,
            generate_synthetic_gestures,
            gesture_datasets,
        )
    except ModuleNotFoundError as exc:
        if exc.name in ("torch", "tonic"):
            raise CommandError(
                f"snn train needs {exc.name}, which is not installed (pip install {exc.name})"
            ) from exc
        raise
    data = Path(args.data)
    downsample = args.downsample or _TRAIN_DEFAULT_DOWNSAMPLE.get(args.model, 1)
    cache_dir = None if args.no_cache else Path(args.cache_dir or data / DEFAULT_CACHE_FOLDER)
    data_description = {
        "dataset": args.dataset,
        "time_bins": args.time_bins,
        "downsample": downsample,
        "representation": args.representation,
        "denoise_filter_time": args.denoise,
        "clip": args.clip,
        "synthetic": None
        if args.synthetic is None
        else {"n_train": args.synthetic, "n_test": args.synthetic_test, "seed": args.data_seed},
    }
    model_options = {} if args.channels is None else {"channels": args.channels}
    config = TrainConfig(
        model=args.model,
        model_options=model_options,
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        lr=args.lr,
        lr_min=args.lr_min,
        weight_decay=args.weight_decay,
        surrogate=args.surrogate,
        surrogate_scale=args.surrogate_scale,
        seed=args.seed,
        data=data_description,
    )
    ctx = init_distributed(args.device)
    try:
        if args.synthetic is not None:

            def generate() -> Path:
                start = time.perf_counter()
                folder = generate_synthetic_gestures(
                    data,
                    args.synthetic,
                    args.synthetic_test,
                    seed=args.data_seed,
                    workers=max(1, args.workers),
                )
                if ctx.is_main:
                    print(
                        f"synthetic DVS gestures in {folder} ({time.perf_counter() - start:.1f} s)"
                    )
                return folder

            ctx.on_each_machine(generate)  # the same seed gives the same set on every machine
        start = time.perf_counter()
        train_set, test_set = gesture_datasets(
            data,
            time_bins=args.time_bins,
            downsample=downsample,
            representation=args.representation,
            denoise_filter_time=args.denoise,
            clip=args.clip,
            cache_dir=cache_dir,
            ctx=ctx,
        )
        if ctx.is_main:
            where = "" if cache_dir is None else f", frame cache {cache_dir}"
            print(
                f"{args.dataset}: {len(train_set)} training and {len(test_set)} test samples "
                f"from {data}{where} ({time.perf_counter() - start:.1f} s)"
            )
        result = train(
            config,
            train_set,
            test_set,
            Path(args.out),
            resume=args.resume,
            stop_after=args.stop_after,
            device=ctx.device,
            num_workers=args.workers,
            progress=not args.no_progress,
        )
    finally:
        shutdown_distributed()
    if ctx.is_main and result.history["epoch"]:
        steps = result.history["step_time"]
        epochs = result.history["epoch_time"]
        print(
            f"timing: {1e3 * sum(steps) / len(steps):.1f} ms per training step (batch "
            f"{args.batch_size}), {sum(epochs) / len(epochs):.1f} s per epoch with evaluation"
        )
        print("wrote: " + ", ".join(str(p) for p in result.files.values()))
    return EXIT_OK


def _add_train_parser(commands: argparse._SubParsersAction) -> None:
    """``snn train DATASET ...``: surrogate-gradient training (see :mod:`snn.training`)."""
    p = commands.add_parser(
        "train",
        help="train a deep spiking network with surrogate gradients (torchrun for several "
        "processes or machines)",
    )
    datasets = p.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    d = datasets.add_parser(
        "dvs-gesture",
        help="DVS128 Gesture in Tonic's layout (or a synthetic stand-in with --synthetic N)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="several processes (one per GPU, or CPU processes with gloo):\n"
        "  torchrun --nproc_per_node 4 -m snn.cli train dvs-gesture --data ROOT ...\n"
        "several machines: the same on each, with --nnodes N --node-rank R\n"
        "  --rdzv-backend c10d --rdzv-endpoint HOST:PORT; --data must exist on every machine,\n"
        "  and rank 0 (on --node-rank 0) alone writes --out",
    )
    d.add_argument("--data", metavar="ROOT", required=True, help="Tonic's save_to folder")
    d.add_argument(
        "--synthetic",
        type=_positive,
        metavar="N",
        help="first write N synthetic training samples into ROOT (kept; extended if fewer)",
    )
    d.add_argument(
        "--synthetic-test", type=_positive, metavar="M", help="synthetic test samples (N/4)"
    )
    d.add_argument(
        "--data-seed", type=_natural, default=0, metavar="S", help="synthetic set's seed, 0"
    )
    d.add_argument("--model", default="cordone", metavar="NAME", help="cordone (default), csnn")
    d.add_argument(
        "--channels", type=_positive, metavar="C", help="csnn: channels per convolution (32)"
    )
    d.add_argument(
        "--epochs", type=_positive, default=30, metavar="E", help="cosine schedule length, 30"
    )
    d.add_argument(
        "--stop-after", type=_positive, metavar="K", help="leave after epoch K (resume later)"
    )
    d.add_argument(
        "--batch-size", type=_positive, default=16, metavar="B", help="per process, default 16"
    )
    d.add_argument(
        "--time-bins", type=_positive, default=16, metavar="T", help="frames per sample, 16"
    )
    d.add_argument(
        "--downsample",
        type=_positive,
        metavar="F",
        help="spatial pooling factor F of the 128x128 sensor (default: cordone 1, csnn 4)",
    )
    d.add_argument(
        "--representation",
        default="counts",
        metavar="NAME",
        help="counts (default: OFF, ON channels) or polarity (one channel: ON - OFF)",
    )
    d.add_argument("--denoise", type=_positive, metavar="US", help="denoise filter time (us)")
    d.add_argument(
        "--clip", type=_positive, metavar="N", help="largest event count per pixel and bin"
    )
    d.add_argument("--cache-dir", metavar="DIR", help="frame cache (ROOT/snn-frame-cache)")
    d.add_argument("--no-cache", action="store_true", help="convert events on every read")
    d.add_argument(
        "--surrogate",
        default="atan",
        metavar="NAME",
        help="atan (default), fast_sigmoid, sigmoid or triangle (snn.deep.surrogate)",
    )
    d.add_argument(
        "--surrogate-scale", type=_positive_float, metavar="K", help="surrogate width (1/V)"
    )
    d.add_argument("--optimizer", default="adam", metavar="NAME", help="adam (default), radam")
    d.add_argument("--lr", type=_positive_float, default=3e-3, help="peak learning rate, 3e-3")
    d.add_argument("--lr-min", type=_nonnegative_float, default=0.0, help="cosine floor, 0")
    d.add_argument("--weight-decay", type=_nonnegative_float, default=1e-4, help="default 1e-4")
    d.add_argument(
        "--seed", type=_natural, default=0, metavar="S", help="weights, shuffling, RNGs; 0"
    )
    d.add_argument("--out", metavar="DIR", default="snn-train", help="default: ./snn-train")
    d.add_argument("--resume", action="store_true", help="continue the run in --out")
    d.add_argument(
        "--workers", type=_natural, default=0, metavar="N", help="DataLoader workers, default 0"
    )
    d.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    d.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    d.set_defaults(handler=_cmd_train)


# ---------------------------------------------------------------------------------------------
# snn crossbar
# ---------------------------------------------------------------------------------------------
def _cmd_crossbar_sweep(args: argparse.Namespace) -> int:
    """Monte-Carlo sweep of a crossbar's relative output error (snn.hardware.crossbar.sweep)."""
    from snn.hardware.crossbar.sweep import SweepConfig, parse_values, run_sweep

    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise CommandError(f"--out {out_dir} exists and is not a directory")
    if (args.param2 is None) != (args.values2 is None):
        raise CommandError("give --param2 and --values2 together (a 2-D sweep), or neither")
    swept = {args.param, args.param2}
    fixed: dict[str, str] = {} if args.size is None else {"size": args.size}
    for item in args.set:
        name, sep, text = item.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise CommandError(f"--set takes NAME=VALUE, got {item!r}")
        if name.strip() in fixed:
            raise CommandError(f"{name.strip()} is set twice (--size or --set)")
        fixed[name.strip()] = text
    clash = sorted(fixed.keys() & swept)
    if clash:
        raise CommandError(f"{clash[0]} is swept (--param/--param2); do not also fix it")
    try:
        values = parse_values(args.param, args.values)
        values2 = None if args.param2 is None else parse_values(args.param2, args.values2)
        config = SweepConfig(batch=args.batch, drift_compensation=args.drift_compensation)
        for name, text in fixed.items():
            (value,) = parse_values(name, text)
            config = config.with_value(name, value)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    what = args.param if args.param2 is None else f"{args.param} x {args.param2}"
    print(f"snn crossbar sweep: relative output error vs {what}, {args.trials} trials per point")
    result = run_sweep(
        args.param,
        values,
        args.param2,
        values2,
        trials=args.trials,
        seed=args.seed,
        config=config,
        progress=not args.no_progress,
    )
    print(f"{result.description}:")
    print(result.summary())
    files = [out_dir / "sweep.csv", out_dir / "sweep.png"]
    with atomic_write(files[0]) as tmp:
        result.write_csv(tmp)
    with atomic_write(files[1]) as tmp:
        result.plot(tmp)
    print(f"{result.errors.size} trials in {result.elapsed_s:.1f} s")
    print("wrote: " + ", ".join(str(p) for p in files))
    return EXIT_OK


def _add_crossbar_parser(commands: argparse._SubParsersAction) -> None:
    """``snn crossbar sweep ...``: Monte-Carlo error studies (:mod:`snn.hardware.crossbar`)."""
    p = commands.add_parser("crossbar", help="memristor crossbar studies")
    studies = p.add_subparsers(dest="study", metavar="STUDY", required=True)
    # the names are PARAMETERS of snn.hardware.crossbar.sweep (tests/test_crossbar_sweep.py
    # checks them), written out so that building the parser imports no scipy
    names = "size, wire_resistance, drift_time, fault_rate, programming_noise, adc_bits"
    s = studies.add_parser(
        "sweep",
        help="relative output error of a crossbar layer vs one or two parameters (CSV, PNG)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"parameters: {names}\n"
        "example: snn crossbar sweep --param wire_resistance --values 0,1,2,5 \\\n"
        "           --param2 size --values2 32,64,128 --trials 3",
    )
    s.add_argument("--param", required=True, metavar="NAME", help="swept parameter")
    s.add_argument("--values", required=True, metavar="V,V,...", help="its values (SI units)")
    s.add_argument("--param2", metavar="NAME", help="second swept parameter (a heat map)")
    s.add_argument("--values2", metavar="V,V,...", help="its values")
    s.add_argument("--trials", type=_positive, default=5, help="per point, default 5")
    s.add_argument("--seed", type=_natural, default=0, help="study seed, default 0")
    s.add_argument("--size", metavar="N", help="array size N x N when not swept, default 64")
    s.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="fix another parameter, e.g. --set wire_resistance=1 (repeatable)",
    )
    s.add_argument("--batch", type=_positive, default=32, help="inputs per trial, default 32")
    s.add_argument(
        "--drift-compensation", action="store_true", help="global drift compensation (off)"
    )
    s.add_argument("--out", metavar="DIR", default="snn-crossbar-sweep", help="output folder")
    s.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    s.set_defaults(handler=_cmd_crossbar_sweep)


def _cmd_bench(args: argparse.Namespace) -> int:
    """``snn bench``: metrics and energy per target of one sample (:mod:`snn.metrics.report`)."""
    from snn.metrics.report import bench, energy_table, write_report

    if (args.frames is None) == (args.rate is None):
        raise CommandError("give exactly one of --frames FILE.npy and --rate R")
    net = load_network(args.model)
    frames = None
    if args.frames is not None:
        frames = np.load(args.frames, allow_pickle=False)
        if args.backend not in ("numpy", "numba"):
            raise CommandError(f"--backend {args.backend!r}: deep networks run on numpy or numba")
    report = bench(
        net,
        frames,
        args.rate,
        input_rate=args.input_rate,
        duration=args.duration,
        backend=args.backend,
        convention=args.convention,
        title=Path(args.model).name,
    )
    files = write_report(report, args.out)
    print(report.source)
    print(report.metrics.table())
    print(energy_table(report))
    print("wrote: " + ", ".join(str(p) for p in files))
    return EXIT_OK


def _add_bench_parser(commands: argparse._SubParsersAction) -> None:
    """``snn bench MODEL.h5 (--frames FILE.npy | --rate R) --out DIR``."""
    p = commands.add_parser(
        "bench", help="sparsity, synaptic operations and energy per target of one sample"
    )
    p.add_argument("model", metavar="MODEL.h5", help="network file written by snn.save")
    p.add_argument("--frames", metavar="FILE.npy", help="input frames (T, *input shape)")
    p.add_argument(
        "--rate", type=_nonnegative_float, metavar="R", help="assumed rate (Hz) of every neuron"
    )
    p.add_argument(
        "--input-rate", type=_nonnegative_float, metavar="R", help="input rate (Hz), default R"
    )
    p.add_argument(
        "--duration", type=_seconds, default=0.1, help="with --rate: simulated s, default 0.1"
    )
    p.add_argument("--backend", default="numba", help="deep backend: numba (default) or numpy")
    p.add_argument("--convention", choices=["snn", "neurobench"], default="snn")
    p.add_argument("--out", metavar="DIR", default="snn-bench", help="output folder")
    p.set_defaults(handler=_cmd_bench)


# ---------------------------------------------------------------------------------------------
# parser and entry point
# ---------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The ``snn`` argument parser (sub-commands set ``handler``)."""
    from snn import __version__

    parser = _Parser(prog="snn", description="snn-stack: spiking neural networks, written once.")
    parser.add_argument("--version", action="version", version=f"snn-stack {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    backends = BACKENDS.names()

    p = commands.add_parser("simulate", help="run a saved network and save the recording")
    p.add_argument("model", metavar="MODEL.h5", help="network file written by snn.save")
    p.add_argument("--duration", type=_seconds, required=True, help="simulated time (s)")
    p.add_argument("--backend", choices=backends, required=True)
    p.add_argument(
        "--seed",
        type=_natural,
        default=None,
        help="run seed for Poisson sources (default: the network seed)",
    )
    p.add_argument("--out", metavar="RESULT.h5", required=True, help="recording file to write")
    p.add_argument(
        "--precision",
        choices=["float64", "float32"],
        default="float64",
        help="float type of state, weights and arithmetic (numpy, numba and cuda backends; "
        "float32 is faster, not bit-identical to float64); default float64",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(handler=_cmd_simulate)

    p = commands.add_parser(
        "deploy", help="lower a saved network through PyNN to SpiNNaker or NEST"
    )
    p.add_argument("model", metavar="MODEL.h5", help="network file written by snn.save")
    p.add_argument("--target", choices=["spinnaker", "nest"], default="spinnaker")
    p.add_argument(
        "--virtual", action="store_true", help="map on a virtual board (default for spinnaker)"
    )
    p.add_argument("--machine", metavar="HOST", help="run on the SpiNNaker board at HOST")
    p.add_argument("--spalloc", metavar="URL", help="run on a board from this spalloc server")
    p.add_argument("--duration", type=_seconds, default=1.0, help="simulated time (s), default 1")
    p.add_argument("--out", metavar="RESULT.h5", help="recording file (nest or a real board)")
    p.add_argument("--report", metavar="REPORT.json", help="write the report as JSON")
    p.add_argument("--run-dir", metavar="DIR", help="sPyNNaker's run folder (default: temporary)")
    p.add_argument("--neurons-per-core", type=_positive, default=256, help="SpiNNaker, default 256")
    p.add_argument(
        "--connectivity",
        choices=["exact", "native"],
        default="exact",
        help="exact: every synapse as a FromListConnector (default); native: PyNN connectors",
    )
    p.set_defaults(handler=_cmd_deploy)

    p = commands.add_parser("demo", help="the tour: build, save, simulate and plot a network")
    p.add_argument("--out", metavar="DIR", default="snn-demo", help="default: ./snn-demo")
    p.add_argument("--duration", type=_seconds, default=1.0, help="simulated time (s), default 1")
    p.add_argument("--backend", choices=backends, default="numba", help="default: numba")
    p.add_argument("--n", type=_positive, default=4000, help="number of neurons, default 4000")
    p.add_argument("--seed", type=_natural, default=1, help="network seed, default 1")
    p.add_argument(
        "--gestures",
        type=_natural,
        default=1100,
        help="synthetic DVS gesture training samples (0 skips the event-camera part), default 1100",
    )
    p.add_argument(
        "--gesture-epochs", type=_positive, default=20, help="training epochs, default 20"
    )
    p.add_argument(
        "--events",
        metavar="FILE",
        default=None,
        help="a real event-camera recording to run through the trained network",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(handler=_cmd_demo)

    p = commands.add_parser("backends", help="list the backends and whether each can run here")
    p.set_defaults(handler=_cmd_backends)

    p = commands.add_parser("info", help="summary of a saved network or recording")
    p.add_argument("file", metavar="FILE.h5")
    p.set_defaults(handler=_cmd_info)

    _add_train_parser(commands)
    _add_crossbar_parser(commands)
    _add_bench_parser(commands)
    return parser


def _fail(message: str) -> int:
    text = " ".join(message.split())  # one line, whatever the exception text holds
    print(f"snn: error: {text}", file=sys.stderr)
    return EXIT_ERROR


def main(argv: list[str] | None = None) -> int:
    """Run the ``snn`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.handler(args))
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except CommandError as exc:
        return _fail(str(exc))
    except (ValueError, OSError) as exc:
        # bad input files and arguments; anything else is a bug and keeps its traceback
        if os.environ.get("SNN_TRACEBACK"):
            raise
        if isinstance(exc, FileNotFoundError) and exc.filename is not None:
            return _fail(f"no such file: {exc.filename}")
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("snn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
