r"""Monte-Carlo studies: a crossbar's relative output error against one or two parameters.

Each trial ``k`` of a sweep draws a problem from ``numpy.random.SeedSequence([seed, k])``:

.. math::

    W \in \mathbb{R}^{s \times s},\ x \in \mathbb{R}^{b \times s},\quad
    W_{ij}, x_{ij} \sim N(0, 1)\ \text{i.i.d.},\qquad
    e = \frac{\lVert y - x W \rVert_F}{\lVert x W \rVert_F}

with ``s`` the array size and ``b`` the batch, programs ``W`` onto a
:class:`~snn.hardware.crossbar.mapping.CrossbarLayer` (seeded from the same sequence), reads it at
drift time ``t`` and records :math:`e`. A trial uses the same weights, inputs and seeds at every
point of the sweep (common random numbers), so the difference between two points is the effect of
the parameter, not of a new draw; only ``size`` changes the problem itself.

Swept parameters (:data:`PARAMETERS`; everything not swept keeps its :class:`SweepConfig` value):

=====================  ======  ===================================================================
name                   unit    meaning (default)
=====================  ======  ===================================================================
``size``               -       the weight matrix and its one physical array are size x size (64)
``wire_resistance``    ohm     one word-line and one bit-line segment, ``r_word = r_bit`` (0)
``drift_time``         s       read time after programming (0; drift starts at t0 = 20 s)
``fault_rate``         -       fraction of stuck devices, split on/off as measured (0)
``programming_noise``  -       scale of the PCM programming-noise sigma (0 off; 1 published fit)
``adc_bits``           bit     resolution of the signed ADC (8)
=====================  ======  ===================================================================

The baseline is :class:`CrossbarLayer`'s own default chain (differential pairs on ideal 0.1-10 uS
devices, 8-bit DAC and ADC with automatic full scale, ideal wires) with three study choices: one
tile of ``size x size`` (so ``size`` is the physical array size), Joshi et al.'s state-dependent
PCM drift (:class:`~snn.hardware.crossbar.devices.Drift` with ``state_dependent=True``; no effect
before ``t0 = 20 s``), and stuck devices split 1.75 : 9.04 between stuck-at-on and stuck-at-off
(the RRAM rates usually quoted from Chen et al. 2015). At the baseline the error is the converters'
alone: 4.5 % +- 0.2 % for 64 x 64 (seed 0, 5 trials; the 8-bit ADC's worst-case full scale wastes
bits, see :mod:`snn.hardware.crossbar.mapping`), which hides 1 ohm wires (4.54 %) and even 5 ohm
ones at this size (4.9 %); ``adc_bits=10`` or more lets the wires show.

Results (:class:`SweepResult`): ``errors[point..., trial]``; :meth:`SweepResult.write_csv` writes
the tidy table with columns ``PARAMETER[, PARAMETER2], trial, relative_error, mean, std``, one row
per point and trial, ``mean`` and ``std`` (sample, ``ddof=1``) being those of the row's point;
:meth:`SweepResult.plot` draws mean +- std against the parameter (1-D) or a heat map of the mean
(2-D) and writes a PNG.

>>> from snn.hardware.crossbar.sweep import run_sweep
>>> result = run_sweep("wire_resistance", [0, 1, 2], trials=3)     # doctest: +SKIP
>>> result.write_csv("sweep.csv"); result.plot("sweep.png")        # doctest: +SKIP
"""

from __future__ import annotations

import csv
import dataclasses
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from snn.hardware.crossbar.devices import (
    ConductanceRange,
    DeviceModel,
    Drift,
    FloatArray,
    ProgrammingNoise,
    StuckAtFaults,
)
from snn.hardware.crossbar.mapping import CrossbarLayer, Quantiser
from snn.hardware.crossbar.substrate import CrossbarSubstrate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "CSV_COLUMNS",
    "PARAMETERS",
    "STUCK_ON_SHARE",
    "SweepConfig",
    "SweepParameter",
    "SweepResult",
    "TrialProblem",
    "parse_values",
    "run_sweep",
    "trial_error",
    "trial_problem",
]

#: Share of stuck devices that are stuck-at-on (RRAM: 1.75 % on, 9.04 % off; Chen et al. 2015).
STUCK_ON_SHARE = 1.75 / (1.75 + 9.04)

#: Columns of :meth:`SweepResult.write_csv` after the swept parameters' own columns.
CSV_COLUMNS = ("trial", "relative_error", "mean", "std")


@dataclass(frozen=True)
class SweepParameter:
    """A parameter a sweep can vary: its unit, range and how to plot it."""

    name: str
    unit: str
    description: str
    minimum: float
    maximum: float = math.inf
    integer: bool = False
    log_axis: bool = False
    rule: str = ""

    @property
    def label(self) -> str:
        """Axis label, e.g. ``"wire_resistance (ohm)"``."""
        return f"{self.name} ({self.unit})" if self.unit else self.name

    def check(self, value: object) -> float | int:
        """``value`` as this parameter's type, or ``ValueError`` saying what is allowed."""
        if isinstance(value, bool | np.bool_):
            raise ValueError(f"{self.name} must be {self.rule}, got {value!r}")
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"{self.name} must be {self.rule}, got {value!r}") from None
        ok = math.isfinite(number) and self.minimum <= number <= self.maximum
        if self.integer:
            ok = ok and number == int(number)
        if not ok:
            raise ValueError(f"{self.name} must be {self.rule}, got {value!r}")
        return int(number) if self.integer else number


#: The parameters a sweep can vary, by name (one registry: validation, CLI, CSV, plots).
PARAMETERS: dict[str, SweepParameter] = {
    p.name: p
    for p in (
        SweepParameter(
            name="size",
            unit="",
            description="rows = columns of the weight matrix and of its one physical array",
            minimum=1,
            maximum=1024,
            integer=True,
            rule="an integer array size in [1, 1024] (beyond, an exact solve takes minutes)",
        ),
        SweepParameter(
            name="wire_resistance",
            unit="ohm",
            description="resistance of one word-line and one bit-line segment (r_word = r_bit)",
            minimum=0.0,
            rule="a finite segment resistance >= 0 ohm (0 = ideal wires)",
        ),
        SweepParameter(
            name="drift_time",
            unit="s",
            description="read time after programming (drift acts after t0 = 20 s)",
            minimum=0.0,
            log_axis=True,
            rule="a finite read time >= 0 s",
        ),
        SweepParameter(
            name="fault_rate",
            unit="",
            description="fraction of stuck devices (stuck-at-on share STUCK_ON_SHARE)",
            minimum=0.0,
            maximum=1.0,
            rule="a probability in [0, 1]",
        ),
        SweepParameter(
            name="programming_noise",
            unit="",
            description="scale of the PCM programming-noise sigma (0 off, 1 the published fit)",
            minimum=0.0,
            rule="a finite noise scale >= 0 (0 = off, 1 = the PCM fit)",
        ),
        SweepParameter(
            name="adc_bits",
            unit="bit",
            description="resolution of the signed ADC",
            minimum=2,
            maximum=52,
            integer=True,
            rule="an integer number of ADC bits in [2, 52] (a signed ADC needs 2)",
        ),
    )
}


def _lookup(name: str) -> SweepParameter:
    parameter = PARAMETERS.get(name)
    if parameter is None:
        valid = ", ".join(PARAMETERS)
        raise ValueError(f"unknown sweep parameter {name!r}; valid parameters: {valid}")
    return parameter


@dataclass(frozen=True)
class SweepConfig:
    """The fixed point of a study: every parameter's value when it is not swept.

    The first six fields are the :data:`PARAMETERS` (same names, units and ranges); the rest set
    the study's problem and device.

    Parameters
    ----------
    size, wire_resistance, drift_time, fault_rate, programming_noise, adc_bits
        See :data:`PARAMETERS` (defaults 64, 0 ohm, 0 s, 0, 0, 8 bits).
    batch
        Input vectors per trial (32).
    dac_bits
        Resolution of the signed DAC (8; ``None`` for an ideal one).
    drift_compensation
        Global drift compensation of the layer (Joshi et al. 2020; off).
    conductance_range
        Device window (0.1-10 uS, continuous).
    drift
        Drift model (state-dependent PCM fit; acts only when ``drift_time > t0``).
    """

    size: int = 64
    wire_resistance: float = 0.0
    drift_time: float = 0.0
    fault_rate: float = 0.0
    programming_noise: float = 0.0
    adc_bits: int = 8
    batch: int = 32
    dac_bits: int | None = 8
    drift_compensation: bool = False
    conductance_range: ConductanceRange = field(default_factory=ConductanceRange)
    drift: Drift = field(default_factory=lambda: Drift(state_dependent=True))

    def __post_init__(self) -> None:
        for name, parameter in PARAMETERS.items():
            object.__setattr__(self, name, parameter.check(getattr(self, name)))
        if isinstance(self.batch, bool) or int(self.batch) != self.batch or self.batch < 1:
            raise ValueError(f"batch must be an integer >= 1 input vectors, got {self.batch!r}")
        if self.dac_bits is not None:
            Quantiser(self.dac_bits)  # raises with the valid range

    def with_value(self, name: str, value: object) -> SweepConfig:
        """A copy with parameter ``name`` set to ``value`` (validated)."""
        changes: dict[str, object] = {name: _lookup(name).check(value)}
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def device(self) -> DeviceModel:
        """The device model of this point."""
        faults = None
        if self.fault_rate > 0:
            on = self.fault_rate * STUCK_ON_SHARE
            faults = StuckAtFaults(rate_on=on, rate_off=self.fault_rate - on)
        noise = ProgrammingNoise(scale=self.programming_noise) if self.programming_noise else None
        return DeviceModel(
            conductance_range=self.conductance_range,
            programming_noise=noise,
            drift=self.drift,
            faults=faults,
        )

    def layer(self, weights: FloatArray, seed: int) -> CrossbarLayer:
        """``weights`` programmed as this point prescribes (one ``size x size`` tile)."""
        return CrossbarLayer(
            weights,
            device=self.device(),
            dac=Quantiser(self.dac_bits),
            adc=Quantiser(self.adc_bits),
            tile_rows=self.size,
            tile_cols=self.size,
            r_word=self.wire_resistance,
            r_bit=self.wire_resistance,
            drift_compensation=self.drift_compensation,
            seed=seed,
        )


@dataclass(frozen=True)
class TrialProblem:
    """The random problem of one trial: weights, inputs and the seeds of programming and reads."""

    weights: FloatArray  # (size, size)
    inputs: FloatArray  # (batch, size)
    layer_seed: int
    read_seed: int


def trial_problem(size: int, batch: int, seed: int, trial: int) -> TrialProblem:
    """Trial ``trial`` of a sweep seeded ``seed``: everything from ``SeedSequence([seed, trial])``.

    Its three children draw the data (weights first, then inputs), the layer's seed and the read
    seed; the same arguments always give the same problem.
    """
    for name, value in (("seed", seed), ("trial", trial)):
        if isinstance(value, bool) or int(value) != value or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    data_seq, layer_seq, read_seq = np.random.SeedSequence([int(seed), int(trial)]).spawn(3)
    rng = np.random.default_rng(data_seq)
    weights = rng.standard_normal((size, size))
    inputs = rng.standard_normal((batch, size))
    return TrialProblem(
        weights,
        inputs,
        int(layer_seq.generate_state(1)[0]),
        int(read_seq.generate_state(1)[0]),
    )


def trial_error(config: SweepConfig, seed: int = 0, trial: int = 0) -> float:
    """Relative output error of one trial at one point (what a sweep records)."""
    problem = trial_problem(config.size, config.batch, seed, trial)
    layer = config.layer(problem.weights, problem.layer_seed)
    return layer.relative_error(problem.inputs, config.drift_time, problem.read_seed)


def _check_values(name: str, values: Sequence[object] | None, option: str) -> tuple[float, ...]:
    parameter = _lookup(name)
    if values is None or isinstance(values, str | bytes) or len(values) == 0:
        raise ValueError(f"{option} for {name} must be a non-empty list of numbers, got {values!r}")
    checked = tuple(parameter.check(v) for v in values)
    if len(set(checked)) != len(checked):
        raise ValueError(f"{option} for {name} repeats a value: {list(checked)}")
    return checked


def parse_values(name: str, text: str) -> tuple[float, ...]:
    """Comma-separated values of parameter ``name`` (e.g. ``"0,0.5,1"``), validated."""
    _lookup(name)
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or any(item == "" for item in items):
        raise ValueError(f"values for {name} must be comma-separated numbers, got {text!r}")
    return _check_values(name, items, "values")


@dataclass(frozen=True, eq=False)
class SweepResult:
    """Errors of a sweep: ``errors[i, trial]`` (1-D) or ``errors[i, j, trial]`` (2-D).

    ``values[0]`` are the values of ``parameters[0]`` (index ``i``), ``values[1]`` those of
    ``parameters[1]`` (index ``j``).
    """

    parameters: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    errors: FloatArray
    config: SweepConfig
    seed: int
    elapsed_s: float

    @property
    def trials(self) -> int:
        """Trials per point."""
        return int(self.errors.shape[-1])

    @property
    def mean(self) -> FloatArray:
        """Mean relative error per point, shape ``errors.shape[:-1]``."""
        return np.asarray(self.errors.mean(axis=-1))

    @property
    def std(self) -> FloatArray:
        """Sample standard deviation (``ddof=1``; 0 for a single trial) per point."""
        if self.trials < 2:
            return np.zeros(self.errors.shape[:-1])
        return np.asarray(self.errors.std(axis=-1, ddof=1))

    @property
    def columns(self) -> tuple[str, ...]:
        """CSV header: the swept parameters, then :data:`CSV_COLUMNS`."""
        return (*self.parameters, *CSV_COLUMNS)

    def _points(self) -> Iterator[tuple[tuple[int, ...], tuple[float, ...]]]:
        for index in np.ndindex(*self.errors.shape[:-1]):
            yield index, tuple(self.values[d][k] for d, k in enumerate(index))

    def rows(self) -> list[tuple[float, ...]]:
        """The tidy table: one row per point and trial, in :attr:`columns` order."""
        mean, std = self.mean, self.std
        return [
            (*point, trial, float(self.errors[index][trial]), float(mean[index]), float(std[index]))
            for index, point in self._points()
            for trial in range(self.trials)
        ]

    def write_csv(self, path: str | Path) -> Path:
        """Write :meth:`rows` with the :attr:`columns` header; returns the path."""
        target = Path(path)
        with open(target, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(self.columns)
            for row in self.rows():
                writer.writerow([repr(v) if isinstance(v, float) else v for v in row])
        return target

    def summary(self) -> str:
        """Mean and standard deviation per point as an aligned text table (errors in %)."""
        header = [PARAMETERS[p].label for p in self.parameters] + ["mean (%)", "std (%)"]
        mean, std = self.mean, self.std
        rows = [
            [f"{v:g}" for v in point] + [f"{100 * mean[index]:.3f}", f"{100 * std[index]:.3f}"]
            for index, point in self._points()
        ]
        widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
        return "\n".join(
            "  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True))
            for r in [header, *rows]
        )

    @property
    def description(self) -> str:
        """What was fixed: array size (unless swept), trials, seed and non-default settings."""
        fixed, default = self.config, SweepConfig()
        size = "" if "size" in self.parameters else f"{fixed.size} x {fixed.size} crossbar, "
        others = [
            f"{p.name} {getattr(fixed, p.name):g}{' ' + p.unit if p.unit else ''}"
            for p in PARAMETERS.values()
            if p.name not in (*self.parameters, "size")
            and getattr(fixed, p.name) != getattr(default, p.name)
        ]
        if fixed.drift_compensation:
            others.append("drift compensation")
        settings = "".join(f", {text}" for text in others)
        return f"{size}{self.trials} trials per point, seed {self.seed}{settings}"

    def plot(self, path: str | Path | None = None) -> Figure:
        """Error against the parameter with mean +- std bars (1-D), or a heat map of the mean
        (2-D); written as PNG to ``path`` when given. Uses no pyplot state (Agg canvas)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.4, 4.4), layout="constrained")
        ax = fig.subplots()
        first = PARAMETERS[self.parameters[0]]
        mean, std = 100 * self.mean, 100 * self.std
        if len(self.parameters) == 1:
            x = np.asarray(self.values[0], dtype=np.float64)
            order = np.argsort(x)
            ax.errorbar(x[order], mean[order], yerr=std[order], marker="o", capsize=3)
            if first.log_axis and np.all(x > 0):
                ax.set_xscale("log")
            elif first.log_axis and np.any(x > 0):
                ax.set_xscale("symlog", linthresh=float(np.min(x[x > 0])))
            ax.set_xlabel(first.label)
            ax.set_ylabel("relative output error (%)")
            ax.grid(True, alpha=0.3)
        else:
            second = PARAMETERS[self.parameters[1]]
            image = ax.imshow(mean, origin="lower", aspect="auto", cmap="viridis")
            ax.set_xticks(range(len(self.values[1])), [f"{v:g}" for v in self.values[1]])
            ax.set_yticks(range(len(self.values[0])), [f"{v:g}" for v in self.values[0]])
            ax.set_xlabel(second.label)
            ax.set_ylabel(first.label)
            if mean.size <= 100:
                threshold = float(mean.min() + mean.max()) / 2
                for (i, j), value in np.ndenumerate(mean):
                    colour = "black" if value > threshold else "white"
                    ax.text(j, i, f"{value:.3g}", ha="center", va="center", color=colour)
            fig.colorbar(image, ax=ax, label="mean relative output error (%)")
        ax.set_title(self.description, fontsize=10)
        if path is not None:
            fig.savefig(path, dpi=100, format="png")
        return fig


def run_sweep(
    parameter: str,
    values: Sequence[float],
    parameter2: str | None = None,
    values2: Sequence[float] | None = None,
    *,
    trials: int = 5,
    seed: int = 0,
    config: SweepConfig | None = None,
    progress: bool = False,
) -> SweepResult:
    """Relative output error of a :class:`CrossbarLayer` at every point of a 1-D or 2-D grid.

    Parameters
    ----------
    parameter, values
        Swept parameter (a :data:`PARAMETERS` name) and its values (in its unit).
    parameter2, values2
        Optional second parameter and its values (a 2-D grid; give both or neither).
    trials
        Monte-Carlo trials per point (>= 1); trial ``k`` is :func:`trial_problem` ``(..., seed,
        k)`` at every point.
    seed
        Seed of the study (integer >= 0); the same seed gives the same errors.
    config
        Values of everything not swept (default :class:`SweepConfig()`).
    progress
        Show a tqdm bar over points x trials.

    Cost: one programming and one exact circuit solve of each differential array per point and
    trial when ``wire_resistance > 0``, about 0.3 s for 64 x 64 or 128 x 128 and 1 s for
    256 x 256 here; ideal wires take milliseconds. Points that differ only in ``drift_time``
    share one programmed layer per trial (read at each time).
    """
    base = SweepConfig() if config is None else config
    if not isinstance(base, SweepConfig):
        raise ValueError(f"config must be a SweepConfig, got {type(base).__name__}")
    names = [parameter]
    grids = [_check_values(parameter, values, "values")]
    if (parameter2 is None) != (values2 is None):
        raise ValueError("give parameter2 and values2 together (a 2-D sweep), or neither")
    if parameter2 is not None:
        if parameter2 == parameter:
            raise ValueError(f"parameter2 must differ from parameter, both are {parameter!r}")
        names.append(parameter2)
        grids.append(_check_values(parameter2, values2, "values2"))
    if isinstance(trials, bool) or int(trials) != trials or trials < 1:
        raise ValueError(f"trials must be an integer >= 1, got {trials!r}")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    from tqdm import tqdm

    shape = tuple(len(g) for g in grids)
    errors = np.empty((*shape, int(trials)))
    # points that differ only in drift_time read one programmed layer: group them, keep one alive
    groups: dict[SweepConfig, list[tuple[tuple[int, ...], SweepConfig]]] = {}
    for index in np.ndindex(*shape):
        point = base
        for name, grid, k in zip(names, grids, index, strict=True):
            point = point.with_value(name, grid[k])
        groups.setdefault(dataclasses.replace(point, drift_time=0.0), []).append((index, point))
    start = time.perf_counter()
    with tqdm(total=errors.size, desc="crossbar sweep", unit="trial", disable=not progress) as bar:
        for trial in range(int(trials)):
            problems: dict[int, TrialProblem] = {}
            for programmed, members in groups.items():
                if programmed.size not in problems:
                    problems[programmed.size] = trial_problem(
                        programmed.size, programmed.batch, seed, trial
                    )
                problem = problems[programmed.size]
                layer = programmed.layer(problem.weights, problem.layer_seed)
                for index, point in members:
                    errors[(*index, trial)] = layer.relative_error(
                        problem.inputs, point.drift_time, problem.read_seed
                    )
                    bar.update(1)
    return SweepResult(
        tuple(names),
        tuple(grids),
        errors,
        base,
        int(seed),
        time.perf_counter() - start,
    )


def substrate_of(config: SweepConfig, tile: int = 256) -> CrossbarSubstrate:
    """The :class:`~snn.hardware.crossbar.substrate.CrossbarSubstrate` of a sweep point, for
    programming whole networks: its device, wires and drift time on ``tile x tile`` arrays
    (``size`` is the array size of a layer study, not of a network's tiles)."""
    return CrossbarSubstrate(
        device=config.device(),
        dac_bits=config.dac_bits,
        adc_bits=config.adc_bits,
        tile_rows=tile,
        tile_cols=tile,
        r_word=config.wire_resistance,
        r_bit=config.wire_resistance,
        read_time=config.drift_time,
        drift_compensation=config.drift_compensation,
    )


#: parameters a network's accuracy can be swept over (static programming: converters are ideal)
MODEL_PARAMETERS = ("wire_resistance", "drift_time", "fault_rate", "programming_noise")


def model_accuracy_sweep(
    net: Any,
    dataset: Any,
    parameter: str,
    values: Sequence[float],
    *,
    trials: int = 3,
    seed: int = 0,
    config: SweepConfig | None = None,
    progress: bool = False,
) -> FloatArray:
    """Test accuracy (%) of a deep network with its weights programmed on crossbars, ``(values,
    trials)``: each trial programs every (non-pooling) projection with its own seed
    (:func:`~snn.hardware.crossbar.substrate.program_network`) and classifies ``dataset``
    (``(frames, label)`` pairs) on the event-driven Numba backend."""
    from tqdm import tqdm

    from snn.hardware.crossbar.substrate import accuracy_on_crossbar

    if parameter not in MODEL_PARAMETERS:
        raise ValueError(
            f"cannot sweep a network's accuracy over {parameter!r}; valid choices: "
            f"{', '.join(MODEL_PARAMETERS)} (converter bits act only on per-step crossbar reads)"
        )
    grid = _check_values(parameter, values, "values")
    if isinstance(trials, bool) or int(trials) != trials or trials < 1:
        raise ValueError(f"trials must be an integer >= 1, got {trials!r}")
    base = SweepConfig() if config is None else config
    samples = [dataset[i] for i in range(len(dataset))]
    if not samples:
        raise ValueError("the dataset is empty")
    acc = np.empty((len(grid), int(trials)))
    with tqdm(total=acc.size, disable=not progress, desc="crossbar accuracy") as bar:
        for i, value in enumerate(grid):
            substrate = substrate_of(base.with_value(parameter, value))
            for trial in range(int(trials)):
                acc[i, trial] = accuracy_on_crossbar(
                    net, samples, substrate, seed=seed * 1000 + trial
                )
                bar.update(1)
    return acc
