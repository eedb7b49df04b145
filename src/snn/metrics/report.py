"""The ``snn bench`` report: metrics and energy per target of one sample, as Markdown and HTML.

:func:`bench` measures a network on input frames (a deep network, run on a deep backend) or
on an assumed rate (:func:`snn.metrics.measure_rates`) and estimates the energy on every target
of :data:`snn.hardware.energy.ENERGY_MODELS`; :func:`write_report` writes ``report.md``,
``report.html`` (per-layer activation-sparsity bars, synaptic operations, energy per target)
and ``metrics.json``.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike

from snn.metrics.core import NetworkMetrics, measure, measure_rates
from snn.network import Network
from snn.neurons import FrameInput


@dataclass(frozen=True)
class BenchReport:
    """Metrics of one sample and the energy estimates (by target) with what produced them."""

    title: str
    source: str
    metrics: NetworkMetrics
    energy: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "source": self.source,
            "metrics": self.metrics.to_dict(),
            "energy": {k: v.to_dict() for k, v in self.energy.items()},
        }


def bench(
    net: Network,
    frames: ArrayLike | None = None,
    rate: float | None = None,
    *,
    input_rate: float | None = None,
    duration: float = 0.1,
    backend: str = "numba",
    convention: str = "snn",
    title: str = "network",
) -> BenchReport:
    """Measure one sample (``frames``, or an assumed ``rate`` in Hz for every spiking
    population, ``input_rate`` for the input, default ``rate``, over ``duration`` s) and
    estimate its energy on every target."""
    from snn.hardware.energy import estimate_all

    if (frames is None) == (rate is None):
        raise ValueError("give exactly one of frames (a deep network's input) and rate (Hz)")
    if frames is not None:
        if not any(isinstance(p.model, FrameInput) for p in net.populations):
            raise ValueError(
                "frames drive a deep network (one FrameInput population); this network has "
                "none: use rate= for a what-if study"
            )
        import snn.deep

        x = np.asarray(frames, dtype=np.float64)
        result = snn.deep.run(net, x, backend=backend)
        metrics = measure(net, result, x, convention=convention)
        source = f"{x.shape[0]} input frames, {result.n_steps} steps on {backend}"
    else:
        rate = float(cast(float, rate))  # exactly one of frames and rate is given (checked)
        r_in = rate if input_rate is None else input_rate
        metrics = measure_rates(
            net, rate, duration=duration, input_rate=r_in, convention=convention
        )
        source = f"assumed rates: {rate:g} Hz per neuron, input {r_in:g} Hz, {duration:g} s"
    return BenchReport(title, source, metrics, estimate_all(metrics, net))


def _energy_rows(report: BenchReport) -> list[tuple[str, str, str, str]]:
    rows = []
    for target, e in report.energy.items():
        parts = ", ".join(f"{k} {_joules(v)}" for k, v in e.breakdown.items() if v)
        rows.append((target, _joules(e.energy), f"{e.energy_per_second:.3g} W", parts or "-"))
    return rows


def _joules(value: float) -> str:
    for unit, scale in (("J", 1.0), ("mJ", 1e-3), ("uJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g} J"


def render_markdown(report: BenchReport) -> str:
    """The report as Markdown (text bars for the activation sparsity)."""
    m = report.metrics
    lines = [
        f"# snn bench: {report.title}",
        "",
        f"{report.source}; {m.convention} convention; dt = {m.dt:g} s.",
        "",
        "## Layers",
        "",
        "| layer | neurons | spikes | rate (Hz) | activation sparsity | | ACs | MACs | dense |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for layer in m.layers.values():
        sp = layer.activation_sparsity
        bar = "" if sp is None else "#" * round(20 * sp)
        lines.append(
            f"| {layer.label} | {layer.neurons} | {layer.spikes:.6g} | {layer.rate:.4g} | "
            f"{'-' if sp is None else f'{sp:.4f}'} | `{bar:<20}` | {layer.acs:.6g} | "
            f"{layer.macs:.6g} | {layer.dense:.6g} |"
        )
    eff = m.effective_membrane_updates
    lines += [
        "",
        "## Totals",
        "",
        f"- activation sparsity {m.activation_sparsity:.4f}",
        f"- synaptic operations: {m.acs:.6g} ACs, {m.macs:.6g} MACs (dense {m.dense:.6g})",
        f"- membrane updates {m.membrane_updates:.6g}"
        + ("" if eff is None else f" (effective, NeuroBench's definition: {eff:.6g})"),
        f"- parameters {m.parameter_count}, footprint {m.footprint_bytes} B, connection "
        f"sparsity {m.connection_sparsity:.4f}",
    ]
    if m.input_event_rate is not None:
        lines.append(f"- input: {m.input_events:.6g} events, {m.input_event_rate:.6g} events/s")
    lines += [
        "",
        "## Energy per inference",
        "",
        "| target | energy | per simulated second | breakdown |",
        "|---|---:|---:|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _energy_rows(report)]
    lines += ["", "Formulas and constant sources: `snn.hardware.energy`.", ""]
    return "\n".join(lines)


def render_html(report: BenchReport) -> str:
    """The report as one self-contained HTML page (CSS bars, no scripts)."""
    m = report.metrics
    esc = html.escape

    def bar(fraction: float, color: str) -> str:
        width = max(0.0, min(1.0, fraction)) * 100
        return f'<div class="bar"><div style="width:{width:.1f}%;background:{color}"></div></div>'

    max_ops = max([layer.acs + layer.macs for layer in m.layers.values()] + [1.0])
    rows = []
    for layer in m.layers.values():
        sp = layer.activation_sparsity
        ops = layer.acs + layer.macs
        rows.append(
            "<tr>"
            f"<td>{esc(layer.label)}</td><td>{layer.neurons}</td><td>{layer.spikes:.6g}</td>"
            f"<td>{layer.rate:.4g}</td>"
            f"<td>{'-' if sp is None else f'{sp:.4f}'}</td>"
            f"<td>{'' if sp is None else bar(sp, '#4a7')}</td>"
            f"<td>{layer.acs:.6g}</td><td>{layer.macs:.6g}</td>"
            f"<td>{bar(ops / max_ops, '#47a')}</td><td>{layer.dense:.6g}</td>"
            "</tr>"
        )
    energies = list(report.energy.values())
    max_e = max([e.energy for e in energies] + [1e-300])
    energy_rows = [
        "<tr>"
        f"<td>{esc(a)}</td><td>{esc(b)}</td><td>{esc(c)}</td>"
        f"<td>{bar(e.energy / max_e, '#a74')}</td><td>{esc(d)}</td>"
        "</tr>"
        for (a, b, c, d), e in zip(_energy_rows(report), energies, strict=True)
    ]
    eff = m.effective_membrane_updates
    totals = [
        f"activation sparsity {m.activation_sparsity:.4f}",
        f"{m.acs:.6g} ACs, {m.macs:.6g} MACs (dense {m.dense:.6g})",
        f"membrane updates {m.membrane_updates:.6g}"
        + ("" if eff is None else f" (effective {eff:.6g})"),
        f"parameters {m.parameter_count}, footprint {m.footprint_bytes} B, connection sparsity "
        f"{m.connection_sparsity:.4f}",
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>snn bench: {esc(report.title)}</title>",
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
            "td:first-child{text-align:left}.bar{width:160px;height:10px;background:#eee}"
            ".bar div{height:10px}</style></head><body>",
            f"<h1>snn bench: {esc(report.title)}</h1>",
            f"<p>{esc(report.source)}; {esc(m.convention)} convention; dt = {m.dt:g} s.</p>",
            "<h2>Layers</h2><table><tr><th>layer</th><th>neurons</th><th>spikes</th>"
            "<th>rate (Hz)</th><th>activation sparsity</th><th></th><th>ACs</th><th>MACs</th>"
            "<th>synaptic ops</th><th>dense</th></tr>",
            *rows,
            "</table><h2>Totals</h2><ul>",
            *[f"<li>{esc(t)}</li>" for t in totals],
            "</ul><h2>Energy per inference</h2><table><tr><th>target</th><th>energy</th>"
            "<th>per simulated second</th><th></th><th>breakdown</th></tr>",
            *energy_rows,
            "</table><p>Formulas and constant sources: <code>snn.hardware.energy</code>.</p>",
            "</body></html>",
            "",
        ]
    )


def write_report(report: BenchReport, out_dir: str | Path) -> list[Path]:
    """Write ``report.md``, ``report.html`` and ``metrics.json`` into ``out_dir`` (created)."""
    from snn.io import atomic_write

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder")
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "report.md", out / "report.html", out / "metrics.json"]
    texts = [
        render_markdown(report),
        render_html(report),
        json.dumps(report.to_dict(), indent=2, default=_json_default),
    ]
    for path, text in zip(files, texts, strict=True):
        with atomic_write(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return files


def _json_default(value: object) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def energy_table(report: BenchReport) -> str:
    """Plain-text table of the energy per target, for the terminal."""
    rows = [("target", "energy", "per sim. second", "breakdown"), *_energy_rows(report)]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
        for r in rows
    )
