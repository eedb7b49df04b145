r"""Workload and static metrics of a network from a spike raster or from assumed rates.

Every count is for one sample (one run of ``n_steps`` steps of ``dt`` seconds). A network's
*layers* are its populations; a *projection*'s synapses are its realised synapse list (for
conv/pool/dense projections, one synapse per (input element, output element, kernel entry)
inside the image: zero padding adds none). ``y_p[m, i]`` is the output of neuron ``i`` of
population ``p`` at step ``m`` (1 for a spike, the frame value for a deep network's input).

Definitions (convention ``"snn"``, the default)
------------------------------------------------
* **spikes** of a layer: :math:`S_p = \sum_{m,i} [y_p[m,i] \ne 0]`; **rate** (spikes per neuron
  per second): :math:`S_p / (N_p\, n_{steps}\, dt)`.
* **activation sparsity** of a spiking layer: :math:`1 - S_p / (N_p\, n_{steps})`; the network
  total pools the spiking non-input layers: :math:`1 - \sum_p S_p / \sum_p N_p n_{steps}`. A
  non-spiking readout has none (``None``).
* **synaptic events** of a projection (the work of an event-driven processor): the (step,
  synapse) pairs that carry a non-zero input,
  :math:`E = \sum_{m,i} [y_{pre}[m,i] \ne 0]\, \mathrm{fanout}(i)`. A spike emitted at step
  ``m`` through a synapse of delay ``d`` counts when it arrives, at ``m + d``, if that step lies
  in the run (``delivery="delayed"``, the clock-driven backends' and the deep pipeline's
  semantics: every deep projection has one step of delay and the last step's spikes are never
  delivered), or at step ``m`` whatever the delay (``delivery="same_step"``: a model without
  delays, such as an snnTorch network stepping all layers in one call).
* **synaptic operations**: synaptic events through synapses of non-zero weight (a pruned, zero
  weight needs no operation), split by the input value: **ACs** (accumulates) where
  :math:`|y| = 1` (a spike, or a +-1 polarity event: the weight is added or subtracted) and
  **MACs** (multiply-accumulates) for any other non-zero value (event counts into the first
  layer). ``ACs + MACs`` is the effective count; **dense** is
  :math:`n_{syn}\, n_{steps}`, the operations of an executor that evaluates every synapse at
  every step (zero weights and inputs included).
* **crossbar reads** (``vmm_reads``): vector-matrix products a crossbar would perform, skipping
  all-zero input vectors: one per (arrival step, output position) with any input for a conv2d
  projection (the kernel unrolled as (C_in k k, C_out), read once per output position), one per
  arrival step with any input otherwise.
* **membrane updates**: ``membrane_updates`` counts every non-input neuron at every step,
  :math:`N_p\, n_{steps}` (a clock-driven processor's work);
  ``effective_membrane_updates`` is NeuroBench's ``MembraneUpdates``: the neurons whose
  membrane potential after the step differs from before it, plus every neuron at the first
  step: :math:`N_p + \sum_{m \ge 1} \sum_i [v_p[m,i] \ne v_p[m-1,i]]` (deep networks, with the
  input frames: the potentials are reconstructed from the raster, the weights and the frames).
* **parameters**: stored weights (a conv2d/dense kernel's entries, one per synapse otherwise;
  pooling's single fixed weight is not a parameter) plus the neuron parameters (per population
  and model parameter: one value when uniform, a scalar broadcast over the population, else one
  per neuron). **Footprint** (bytes):
  ``value_bytes * (parameters + state values) + index_bytes * 2 * n_syn`` for the synapse lists
  of unstructured projections (pre and post index).
* **connection sparsity**: the fraction of zero weights among the stored weights of the
  weight-carrying projections (pooling excluded).
* **input events**: :math:`\sum |x|` over the input frames (events for count frames), with
  :math:`\sum [x \ne 0]` non-zero entries; **input event rate** = input events /
  (``n_frames * dt``) in events per second. For a clock-driven network, the spikes of its spike
  sources.

NeuroBench 2.3 (convention ``"neurobench"``)
---------------------------------------------
NeuroBench's definitions differ on purpose in a few places; with ``convention="neurobench"``
these metrics follow NeuroBench exactly (tested against NeuroBench on the snnTorch mirror of
:func:`snn.metrics.to_snntorch`):

* synaptic operations: a layer's whole input at one step is counted as MACs when **any** of its
  elements is not 0 or +-1, as ACs otherwise (``binary_inputs`` in NeuroBench); bias is not an
  operation (ours has none either); **pooling is not counted** (NeuroBench hooks only
  Linear/Conv/RNN layers), so pooling projections are left out of every count, the parameters
  and the connection sparsity;
* ``Dense``: NeuroBench evaluates each layer with all-ones inputs and weights, i.e. every
  synapse at every step, as ours (padding contributes nothing in either);
* activation sparsity pools every neuron layer NeuroBench hooks (every snnTorch neuron), the
  non-spiking readout included as a layer of zero outputs;
* membrane updates: ``effective_membrane_updates`` above;
* connection sparsity is rounded to 4 decimals; parameters are the Linear/Conv weights;
  the footprint is that of the snnTorch mirror before it has run: ``value_bytes`` per weight
  plus, per neuron layer, snnTorch ``Leaky``'s buffers (``beta`` and ``threshold``: one value
  each, ``graded_spikes_factor``: 4 bytes, ``reset_mechanism_val``: 8 bytes);
* time steps: NeuroBench counts whatever its model computes per call. Our deep pipeline has one
  step of delay per projection and runs ``T + depth`` steps; the mirror with
  ``pipeline=True`` reproduces it, so the counts agree step for step. A model without delays
  (``pipeline=False``: every layer within one call) is measured with ``delivery="same_step"``.
* NeuroBench decides AC vs MAC per *batch*; ours is per sample (equal for batches of one, or
  when all samples of a batch agree), and it divides totals by the number of samples, as
  :func:`mean_metrics` does.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from snn.connectors import Conv2d, Pool2d, StructuredConnector
from snn.network import Network, Population, Projection
from snn.neurons import DeltaLIF, FrameInput, LeakyIntegrator
from snn.recording import Recording

if TYPE_CHECKING:
    from snn.deep.reference import DeepActivity, DeepResult

Convention = Literal["snn", "neurobench"]
Delivery = Literal["delayed", "same_step"]
CONVENTIONS: tuple[str, ...] = ("snn", "neurobench")
DELIVERIES: tuple[str, ...] = ("delayed", "same_step")

#: snnTorch ``Leaky`` buffers besides beta and threshold: graded_spikes_factor (float32) and
#: reset_mechanism_val (int64), in bytes; ``mem`` is empty before the first run
_SNNTORCH_LEAKY_FIXED_BUFFER_BYTES = 4 + 8


@dataclass(frozen=True)
class LayerMetrics:
    """Metrics of one population (counts per sample; expected values for rate-based metrics).

    ``acs``/``macs``/``dense``/``synaptic_events`` sum the projections onto this layer.
    """

    label: str
    neurons: int
    spiking: bool
    source: bool
    spikes: float
    activation_sparsity: float | None
    rate: float
    membrane_updates: float
    effective_membrane_updates: float | None
    acs: float
    macs: float
    dense: float
    synaptic_events: float

    @property
    def synaptic_operations(self) -> float:
        """Effective synaptic operations onto this layer: ``acs + macs``."""
        return self.acs + self.macs


@dataclass(frozen=True)
class ProjectionMetrics:
    """Metrics of one projection; ``counted`` is False where the convention leaves it out
    (NeuroBench: pooling), and then its counts are zero."""

    label: str
    pre: str
    post: str
    connector: str
    counted: bool
    synapses: int
    nonzero_synapses: int
    weights: int
    zero_weights: int
    synaptic_events: float
    acs: float
    macs: float
    dense: float
    vmm_reads: float
    active_rows: float

    @property
    def synaptic_operations(self) -> float:
        return self.acs + self.macs

    @property
    def connection_sparsity(self) -> float:
        """Fraction of zero weights among the stored weights."""
        return self.zero_weights / self.weights if self.weights else 0.0


@dataclass(frozen=True)
class StaticMetrics:
    """Parameter count, footprint (bytes) and connection sparsity of a network."""

    parameter_count: int
    footprint_bytes: int
    connection_sparsity: float
    weights: int
    zero_weights: int
    neuron_parameters: int


@dataclass(frozen=True)
class NetworkMetrics:
    """All metrics of one sample, per layer and projection, with totals (module docstring)."""

    convention: str
    delivery: str
    basis: str
    n_steps: int
    dt: float
    layers: dict[str, LayerMetrics]
    projections: dict[str, ProjectionMetrics]
    static: StaticMetrics
    input_events: float | None
    input_nonzero: float | None
    input_event_rate: float | None
    samples: int = 1
    notes: tuple[str, ...] = field(default=())

    @property
    def duration(self) -> float:
        """Simulated seconds of the run."""
        return self.n_steps * self.dt

    def _activation_layers(self) -> list[LayerMetrics]:
        if self.convention == "neurobench":
            return [layer for layer in self.layers.values() if not layer.source]
        return [layer for layer in self.layers.values() if layer.spiking and not layer.source]

    @property
    def activation_sparsity(self) -> float:
        """Pooled activation sparsity (module docstring; per convention)."""
        layers = self._activation_layers()
        total = sum(layer.neurons for layer in layers) * self.n_steps
        if total == 0:
            return 0.0
        return (total - sum(layer.spikes for layer in layers)) / total

    @property
    def spikes(self) -> float:
        """Spikes of all non-input layers."""
        return sum(layer.spikes for layer in self.layers.values() if not layer.source)

    @property
    def acs(self) -> float:
        return sum(p.acs for p in self.projections.values())

    @property
    def macs(self) -> float:
        return sum(p.macs for p in self.projections.values())

    @property
    def synaptic_operations(self) -> float:
        return self.acs + self.macs

    @property
    def dense(self) -> float:
        return sum(p.dense for p in self.projections.values())

    @property
    def synaptic_events(self) -> float:
        return sum(p.synaptic_events for p in self.projections.values())

    @property
    def membrane_updates(self) -> float:
        return sum(layer.membrane_updates for layer in self.layers.values())

    @property
    def effective_membrane_updates(self) -> float | None:
        values = [
            layer.effective_membrane_updates for layer in self.layers.values() if not layer.source
        ]
        if any(v is None for v in values):
            return None
        return float(sum(v for v in values if v is not None))

    @property
    def parameter_count(self) -> int:
        return self.static.parameter_count

    @property
    def footprint_bytes(self) -> int:
        return self.static.footprint_bytes

    @property
    def connection_sparsity(self) -> float:
        return self.static.connection_sparsity

    def totals(self) -> dict[str, float | None]:
        """The network-level numbers, by name (NeuroBench's names where they exist)."""
        return {
            "activation_sparsity": self.activation_sparsity,
            "effective_acs": self.acs,
            "effective_macs": self.macs,
            "dense": self.dense,
            "synaptic_events": self.synaptic_events,
            "membrane_updates": self.membrane_updates,
            "effective_membrane_updates": self.effective_membrane_updates,
            "spikes": self.spikes,
            "parameter_count": float(self.parameter_count),
            "footprint_bytes": float(self.footprint_bytes),
            "connection_sparsity": self.connection_sparsity,
            "input_events": self.input_events,
            "input_event_rate": self.input_event_rate,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary (SI units)."""
        return {
            "convention": self.convention,
            "delivery": self.delivery,
            "basis": self.basis,
            "n_steps": self.n_steps,
            "dt": self.dt,
            "samples": self.samples,
            "totals": self.totals(),
            "static": asdict(self.static),
            "layers": {k: asdict(v) for k, v in self.layers.items()},
            "projections": {k: asdict(v) for k, v in self.projections.items()},
            "notes": list(self.notes),
        }

    def table(self) -> str:
        """A plain-text per-layer table with the totals."""
        head = ["layer", "neurons", "spikes", "Hz", "act. sparsity", "ACs", "MACs", "dense"]
        rows = []
        for layer in self.layers.values():
            rows.append(
                [
                    layer.label,
                    str(layer.neurons),
                    f"{layer.spikes:.6g}",
                    f"{layer.rate:.4g}",
                    "-"
                    if layer.activation_sparsity is None
                    else f"{layer.activation_sparsity:.4f}",
                    f"{layer.acs:.6g}",
                    f"{layer.macs:.6g}",
                    f"{layer.dense:.6g}",
                ]
            )
        rows.append(
            [
                "total",
                str(sum(v.neurons for v in self.layers.values())),
                f"{self.spikes:.6g}",
                "",
                f"{self.activation_sparsity:.4f}",
                f"{self.acs:.6g}",
                f"{self.macs:.6g}",
                f"{self.dense:.6g}",
            ]
        )
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths, strict=True))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        eff = self.effective_membrane_updates
        lines.append(
            f"{self.n_steps} steps of {self.dt:g} s ({self.convention} convention, {self.basis}); "
            f"membrane updates {self.membrane_updates:.6g}"
            + ("" if eff is None else f" (effective {eff:.6g})")
            + f"; parameters {self.parameter_count}, footprint {self.footprint_bytes} B, "
            f"connection sparsity {self.connection_sparsity:.4f}"
        )
        if self.input_event_rate is not None:
            lines.append(
                f"input: {self.input_events:.6g} events, {self.input_event_rate:.6g} events/s"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------------
def _check_convention(convention: str, delivery: str) -> None:
    if convention not in CONVENTIONS:
        raise ValueError(
            f"unknown convention {convention!r}; valid choices: {', '.join(CONVENTIONS)}"
        )
    if delivery not in DELIVERIES:
        raise ValueError(f"unknown delivery {delivery!r}; valid choices: {', '.join(DELIVERIES)}")


def _is_pool(proj: Projection) -> bool:
    return isinstance(proj.connector, Pool2d)


def _counted(proj: Projection, convention: str) -> bool:
    return not (convention == "neurobench" and _is_pool(proj))


def _is_spiking(pop: Population) -> bool:
    model = pop.model
    if model.is_source:
        return not isinstance(model, FrameInput)
    return not isinstance(model, LeakyIntegrator)


# ---------------------------------------------------------------------------------------------
# static metrics
# ---------------------------------------------------------------------------------------------
def _stored_weights(proj: Projection) -> NDArray[np.float64]:
    if isinstance(proj.connector, StructuredConnector):
        return proj.kernel().reshape(-1)
    return np.asarray(proj.weights, dtype=np.float64)


def static_metrics(
    net: Network,
    convention: Convention | str = "snn",
    value_bytes: int = 4,
    index_bytes: int = 4,
) -> StaticMetrics:
    """Parameter count, footprint and connection sparsity (module docstring, per convention).

    ``value_bytes``: bytes per stored value (4: float32); ``index_bytes``: bytes per synapse
    index of an unstructured projection's synapse list.
    """
    _check_convention(convention, "delayed")
    for name, value in (("value_bytes", value_bytes), ("index_bytes", index_bytes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    n_weights = 0
    n_zero = 0
    index_values = 0
    for proj in net.projections:
        if _is_pool(proj):
            continue  # fixed pooling arithmetic: not a parameter, not a connection weight
        st = _structure(proj)
        n_weights += st.weights
        n_zero += st.zero_weights
        if not isinstance(proj.connector, StructuredConnector):
            index_values += 2 * proj.size
    sparsity = n_zero / n_weights if n_weights else 0.0
    if convention == "neurobench":
        layers = [p for p in net.populations if not p.model.is_source]
        buffers = len(layers) * (2 * value_bytes + _SNNTORCH_LEAKY_FIXED_BUFFER_BYTES)
        return StaticMetrics(
            parameter_count=n_weights,
            footprint_bytes=n_weights * value_bytes + buffers,
            connection_sparsity=round(sparsity, 4),
            weights=n_weights,
            zero_weights=n_zero,
            neuron_parameters=0,
        )
    neuron_params = 0
    state_values = 0
    for pop in net.populations:
        neuron_params += sum(_distinct_size(v) for v in pop.params.values())
        state_values += len(pop.model.state_variables) * pop.size
    params = n_weights + neuron_params
    return StaticMetrics(
        parameter_count=params,
        footprint_bytes=value_bytes * (params + state_values) + index_bytes * index_values,
        connection_sparsity=sparsity,
        weights=n_weights,
        zero_weights=n_zero,
        neuron_parameters=neuron_params,
    )


def _distinct_size(values: ArrayLike) -> int:
    """Values to store for a realised parameter: one when it is uniform (a scalar broadcast
    over the population), else one per neuron."""
    arr = np.asarray(values).reshape(-1)
    if arr.size == 0:
        return 0
    return 1 if np.all(arr == arr[0]) else int(arr.size)


# ---------------------------------------------------------------------------------------------
# rasters: (step, neuron, value) triplets per population
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Events:
    steps: NDArray[np.int64]
    ids: NDArray[np.int64]
    values: NDArray[np.float64]


def _events_from_array(label: str, arr: ArrayLike, n_steps: int, size: int) -> _Events:
    a = np.asarray(arr)
    if a.ndim < 1 or a.shape[0] != n_steps:
        raise ValueError(
            f"spikes of {label!r} have {a.shape[0] if a.ndim else 0} time bins, but the run has "
            f"{n_steps} steps: the raster and the run must share one time base (mismatched time "
            "bins)"
        )
    flat = a.reshape(n_steps, -1)
    if flat.shape[1] != size:
        raise ValueError(
            f"spikes of {label!r} cover {flat.shape[1]} neurons, the population has {size}"
        )
    if not (flat.dtype == np.bool_ or np.issubdtype(flat.dtype, np.number)):
        raise ValueError(f"spikes of {label!r} must be booleans or numbers, got {flat.dtype}")
    steps, ids = np.nonzero(flat)
    values = flat[steps, ids].astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"spikes of {label!r} contain NaN or inf")
    return _Events(steps.astype(np.int64), ids.astype(np.int64), values)


def _events_from_recording(
    rec: Recording, pop: Population, n_steps: int, net_dt: float
) -> _Events | None:
    candidates = [
        sp for key, sp in rec.spikes.items() if sp.population == pop.label or key == pop.label
    ]
    full = [sp for sp in candidates if np.unique(sp.neurons).size == pop.size]
    if not full:
        return None
    sp = full[0]
    steps_f = np.asarray(sp.times, dtype=np.float64) / net_dt
    steps = np.rint(steps_f).astype(np.int64)
    off = np.abs(steps_f - steps) > 1e-6 * np.maximum(1.0, np.abs(steps_f))
    if off.any():
        raise ValueError(
            f"spike time {sp.times[off][0]:g} s of {pop.label!r} is not on the dt = {net_dt:g} s "
            "grid (mismatched time bins): record with the network's dt"
        )
    if steps.size and (steps.min() < 0 or steps.max() >= n_steps):
        raise ValueError(
            f"spikes of {pop.label!r} at step {int(steps.max())} lie outside the run's "
            f"{n_steps} steps (mismatched time bins)"
        )
    ids = np.asarray(sp.ids, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= pop.size):
        raise ValueError(f"spike ids of {pop.label!r} are out of range for size {pop.size}")
    return _Events(steps, ids, np.ones(ids.size))


@dataclass(frozen=True)
class _Raster:
    n_steps: int
    dt: float
    events: dict[int, _Events]  # by population index
    n_frames: int | None
    frames_given: bool


def _raster(
    net: Network,
    source: DeepResult | Recording | Mapping[str, ArrayLike],
    frames: ArrayLike | None,
    dt: float | None,
    n_steps: int | None,
    layers: bool = True,
) -> _Raster:
    """The events of every population the source and the frames cover; ``layers=False``: of
    the input frames only (the run's own counts stand for its layers' spikes)."""
    from snn.deep.reference import DeepResult

    arrays: Mapping[str, ArrayLike] | None = None
    rec: Recording | None = None
    if isinstance(source, DeepResult):
        steps, run_dt = source.n_steps, source.dt
        arrays = source.spikes
    elif isinstance(source, Recording):
        run_dt = source.dt
        steps_f = source.duration / source.dt
        steps = round(steps_f)
        if abs(steps_f - steps) > 1e-6 * max(1.0, steps_f):
            raise ValueError(
                f"recording duration {source.duration:g} s is not a whole number of steps of "
                f"{source.dt:g} s (mismatched time bins)"
            )
        rec = source
    elif isinstance(source, Mapping):
        if n_steps is None:
            shapes = {np.shape(a)[0] for a in source.values() if np.ndim(a) > 0}
            if len(shapes) != 1:
                raise ValueError(
                    "spike arrays of different lengths "
                    f"({sorted(shapes)} time bins): pass n_steps= or use one time base"
                )
            steps = int(shapes.pop())
        else:
            steps = int(n_steps)
        run_dt = net.dt if dt is None else float(dt)
        arrays = source
    else:
        raise ValueError(
            "metrics need a DeepResult, a Recording or a mapping {layer: spikes (n_steps, ...)}, "
            f"got {type(source).__name__}"
        )
    if not math.isclose(run_dt, net.dt, rel_tol=1e-9):
        raise ValueError(
            f"the run's dt = {run_dt:g} s differs from the network's dt = {net.dt:g} s "
            "(mismatched time bins)"
        )
    if steps < 1:
        raise ValueError(f"the run has {steps} steps; metrics need at least one")
    events: dict[int, _Events] = {}
    n_frames: int | None = None
    for pop in net.populations:
        if isinstance(pop.model, FrameInput):
            if frames is None:
                continue
            x = np.asarray(frames)
            if x.ndim < 2 or (x.shape[1:] != pop.shape and x.shape[1:] != (pop.size,)):
                raise ValueError(
                    f"input frames of shape {x.shape}; expected (T, "
                    f"{', '.join(map(str, pop.shape))}) for input {pop.label!r}"
                )
            n_frames = int(x.shape[0])
            if n_frames > steps:
                raise ValueError(
                    f"{n_frames} input frames but the run has only {steps} steps "
                    "(mismatched time bins)"
                )
            flat = x.reshape(n_frames, -1)
            t, i = np.nonzero(flat)
            vals = flat[t, i].astype(np.float64)
            if not np.isfinite(vals).all():
                raise ValueError("input frames contain NaN or inf")
            events[pop.index] = _Events(t.astype(np.int64), i.astype(np.int64), vals)
            continue
        if not layers:
            continue
        if arrays is not None:
            if pop.label in arrays:
                events[pop.index] = _events_from_array(
                    pop.label, arrays[pop.label], steps, pop.size
                )
        elif rec is not None:
            found = _events_from_recording(rec, pop, steps, net.dt)
            if found is not None:
                events[pop.index] = found
    return _Raster(steps, float(net.dt), events, n_frames, frames is not None)


def _missing(net: Network, pop: Population, what: str) -> ValueError:
    if isinstance(pop.model, FrameInput):
        return ValueError(
            f"{what} needs the input frames of {pop.label!r}: pass frames=(T, "
            f"{', '.join(map(str, pop.shape))})"
        )
    return ValueError(
        f"{what} needs the spikes of every neuron of {pop.label!r}, which this raster lacks: "
        f"record it (net.record({pop.label}, 'spikes')) or include it in the spikes mapping"
    )


# ---------------------------------------------------------------------------------------------
# per-projection structure (cached: the synapse lists do not change between samples)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Csr:
    """Synapses grouped by pre neuron: ``post[start[i]:start[i] + count[i]]`` and ``weight``."""

    start: NDArray[np.int64]
    count: NDArray[np.int64]
    post: NDArray[np.int64]
    weight: NDArray[np.float64]

    def expand(
        self, ids: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """For events of pre neurons ``ids``: (event index, post, weight) of every synapse."""
        per_event = self.count[ids]
        total = int(per_event.sum())
        event_of = np.repeat(np.arange(ids.size), per_event)
        offset = np.arange(total) - np.repeat(np.cumsum(per_event) - per_event, per_event)
        at = self.start[ids][event_of] + offset
        return event_of, self.post[at], self.weight[at]


def _csr(pre: NDArray[np.int64], post: NDArray[np.int64], w: NDArray[np.float64], n: int) -> _Csr:
    order = np.argsort(pre, kind="stable")
    pre_s = pre[order]
    start = np.searchsorted(pre_s, np.arange(n), side="left").astype(np.int64)
    count = np.searchsorted(pre_s, np.arange(n), side="right").astype(np.int64) - start
    return _Csr(start, count, post[order].astype(np.int64), w[order].astype(np.float64))


@dataclass(frozen=True)
class _DelayGroup:
    delay: int
    fan_all: NDArray[np.float64]
    fan_nz: NDArray[np.float64]
    synapses: _Csr


@dataclass(frozen=True)
class _Structure:
    key: tuple[int, int, int, int]
    delayed: tuple[_DelayGroup, ...]
    same_step: _DelayGroup
    positions: int
    conv_positions: _Csr | None
    #: stored weights (pooling: none), their zeros, and synapses of non-zero weight
    weights: int
    zero_weights: int
    nonzero_synapses: int


_STRUCTURES: weakref.WeakKeyDictionary[Projection, _Structure] = weakref.WeakKeyDictionary()


def _structure(proj: Projection) -> _Structure:
    key = (id(proj.pre_idx), id(proj.post_idx), id(proj.weights), id(proj.delays))
    cached = _STRUCTURES.get(proj)
    if cached is not None and cached.key == key:
        return cached
    n_pre = proj.pre.parent.size
    nz = proj.weights != 0

    def group(sel: NDArray[np.bool_], delay: int) -> _DelayGroup:
        pre = proj.pre_idx[sel]
        return _DelayGroup(
            delay=delay,
            fan_all=np.bincount(pre, minlength=n_pre).astype(np.float64),
            fan_nz=np.bincount(proj.pre_idx[sel & nz], minlength=n_pre).astype(np.float64),
            synapses=_csr(pre, proj.post_idx[sel], proj.weights[sel], n_pre),
        )

    everything = np.ones(proj.size, dtype=bool)
    delays = np.unique(proj.delays)
    delayed = (
        (group(everything, int(delays[0])),)
        if delays.size == 1
        else tuple(group(proj.delays == d, int(d)) for d in delays)
    )
    same = _DelayGroup(0, delayed[0].fan_all, delayed[0].fan_nz, delayed[0].synapses)
    if delays.size > 1:
        same = group(everything, 0)
    conv = None
    positions = 0
    if isinstance(proj.connector, Conv2d):
        post = proj.post.parent
        positions = post.size // post.shape[0]
        first = proj.post_idx < positions  # output channel 0: one synapse per (pre, position)
        conv = _csr(proj.pre_idx[first], proj.post_idx[first], proj.weights[first], n_pre)
    stored = np.zeros(0) if _is_pool(proj) else _stored_weights(proj)
    out = _Structure(
        key,
        delayed,
        same,
        positions,
        conv,
        weights=int(stored.size),
        zero_weights=int(np.count_nonzero(stored == 0)),
        nonzero_synapses=int(np.count_nonzero(nz)),
    )
    _STRUCTURES[proj] = out
    return out


def _vmm_reads(
    proj: Projection, st: _Structure, steps: NDArray[np.int64], ids: NDArray[np.int64], n: int
) -> float:
    """Crossbar reads: (arrival step, output position) pairs with any input (conv2d), or
    arrival steps with any input (everything else)."""
    if steps.size == 0:
        return 0.0
    if st.conv_positions is not None:
        event_of, pos, _ = st.conv_positions.expand(ids)
        mark = np.zeros((n + 1) * st.positions, dtype=bool)
        mark[steps[event_of] * st.positions + pos] = True
        return float(np.count_nonzero(mark))
    return float(np.count_nonzero(np.bincount(steps)))


class _Work(NamedTuple):
    """A projection's workload in one sample."""

    synaptic_events: float
    acs: float
    macs: float
    vmm_reads: float


def _projection_metrics(proj: Projection, work: _Work | None, n_steps: int) -> ProjectionMetrics:
    """A projection's metrics from its workload; ``None``: left out by the convention (zeros)."""
    st = _structure(proj)
    base = {
        "label": proj.label,
        "pre": proj.pre.label,
        "post": proj.post.label,
        "connector": proj.connector.name,
        "counted": work is not None,
        "synapses": proj.size,
        "nonzero_synapses": st.nonzero_synapses,
        "weights": st.weights,
        "zero_weights": st.zero_weights,
    }
    if work is None:
        zero = {k: 0.0 for k in ("synaptic_events", "acs", "macs", "dense", "vmm_reads")}
        return ProjectionMetrics(**base, **zero, active_rows=0.0)  # type: ignore[arg-type]
    return ProjectionMetrics(
        **base,  # type: ignore[arg-type]
        synaptic_events=work.synaptic_events,
        acs=work.acs,
        macs=work.macs,
        dense=float(proj.size) * n_steps,
        vmm_reads=work.vmm_reads,
        active_rows=_active_rows(proj, work.synaptic_events),
    )


def _raster_work(
    proj: Projection, ev: _Events, n_steps: int, convention: str, delivery: str
) -> _Work:
    """A projection's workload from the events of its pre population."""
    st = _structure(proj)
    events = acs = macs = 0.0
    arrival_all: list[NDArray[np.int64]] = []
    ids_all: list[NDArray[np.int64]] = []
    for grp in st.delayed if delivery == "delayed" else (st.same_step,):
        arrival = ev.steps + grp.delay
        inside = arrival < n_steps
        ids = ev.ids[inside]
        arr = arrival[inside]
        vals = ev.values[inside]
        events += float(grp.fan_all[ids].sum())
        ops = grp.fan_nz[ids]
        binary = np.abs(vals) == 1.0
        if convention == "neurobench":
            # NeuroBench: a layer's whole input at one step is MACs if any element is non-binary
            mac_steps = np.zeros(n_steps + 1, dtype=bool)
            mac_steps[arr[~binary]] = True
            is_mac = mac_steps[arr]
        else:
            is_mac = ~binary
        macs += float(ops[is_mac].sum())
        acs += float(ops[~is_mac].sum())
        arrival_all.append(arr)
        ids_all.append(ids)
    vmm = _vmm_reads(proj, st, np.concatenate(arrival_all), np.concatenate(ids_all), n_steps)
    return _Work(events, acs, macs, vmm)


def _activity_work(label: str, activity: DeepActivity, events: int, convention: str) -> _Work:
    """A projection's workload from the counts the deep kernel made during the run (equal to
    :func:`_raster_work` of the run's raster with delayed delivery)."""
    binary = activity.binary_ops[label]
    graded = activity.graded_ops[label]
    if convention == "neurobench":
        # NeuroBench: a layer's whole input at one step is MACs if any element is non-binary
        mac_steps = activity.graded_inputs[label] > 0
        acs = int(binary[~mac_steps].sum())
        macs = int(binary[mac_steps].sum()) + int(graded.sum())
    else:
        acs, macs = int(binary.sum()), int(graded.sum())
    return _Work(float(events), float(acs), float(macs), float(activity.crossbar_reads[label]))


def _active_rows(proj: Projection, events: float) -> float:
    """Word lines driven with a non-zero input, summed over the crossbar reads: every active
    input row of a read feeds all output columns (conv: the output channels)."""
    post = proj.post.parent
    if isinstance(proj.connector, Conv2d):
        return events / post.shape[0]
    if isinstance(proj.connector, StructuredConnector):
        return events / post.size
    return events / max(1, proj.post.size)


# ---------------------------------------------------------------------------------------------
# membrane potentials (NeuroBench's membrane updates)
# ---------------------------------------------------------------------------------------------
_CHANGED_POTENTIALS: Any = None


def _changed_potentials() -> Any:
    """Numba kernels, compiled on first use: ``scatter`` adds every event's weighted synapses
    into the currents ``(n_steps, N)``; ``changed`` runs the recursion and counts changes.

    ``v[m] = (beta v[m-1] + I[m]) + v_bias`` then the reset of the recorded spikes (0: subtract,
    1: zero, 2: none), the update order of :mod:`snn.deep.graph`; returns
    ``N + sum_{m >= 1} #(v[m] != v[m-1])``.
    """
    global _CHANGED_POTENTIALS
    if _CHANGED_POTENTIALS is None:
        import numba

        @numba.njit(cache=True, nogil=True)
        def changed(currents, spikes, beta, thresh, bias, reset):
            n, size = currents.shape
            v = np.zeros(size)
            count = size
            for m in range(n):
                for i in range(size):
                    new = (beta[i] * v[i] + currents[m, i]) + bias[i]
                    if spikes[m, i]:
                        if reset == 0:
                            new = new - thresh[i]
                        elif reset == 1:
                            new = 0.0
                    if m > 0 and new != v[i]:
                        count += 1
                    v[i] = new
            return count

        @numba.njit(cache=True, nogil=True)
        def scatter(currents, steps, ids, values, start, count, post, weight):
            for e in range(steps.size):
                i = ids[e]
                for k in range(start[i], start[i] + count[i]):
                    currents[steps[e], post[k]] += weight[k] * values[e]

        _CHANGED_POTENTIALS = (changed, scatter)
    return _CHANGED_POTENTIALS


def _effective_updates(net: Network, raster: _Raster, delivery: str) -> dict[int, float | None]:
    """NeuroBench's MembraneUpdates per layer, from potentials reconstructed from the raster."""
    out: dict[int, float | None] = {}
    n = raster.n_steps
    for pop in net.populations:
        if pop.model.is_source:
            continue
        if not isinstance(pop.model, DeltaLIF):
            out[pop.index] = None
            continue
        incoming = [p for p in net.projections if p.post.parent is pop]
        ready = all(p.pre.parent.index in raster.events for p in incoming)
        spiking = not isinstance(pop.model, LeakyIntegrator)
        if not ready or (spiking and pop.index not in raster.events):
            out[pop.index] = None
            continue
        changed, scatter = _changed_potentials()
        currents = np.zeros((n, pop.size))
        for proj in incoming:
            ev = raster.events[proj.pre.parent.index]
            st = _structure(proj)
            for grp in st.delayed if delivery == "delayed" else (st.same_step,):
                arrival = ev.steps + grp.delay
                inside = arrival < n
                syn = grp.synapses
                scatter(
                    currents,
                    arrival[inside],
                    ev.ids[inside],
                    ev.values[inside],
                    syn.start,
                    syn.count,
                    syn.post,
                    syn.weight,
                )
        consts = pop.model.lower(pop.params, net.dt)
        s = np.zeros((n, pop.size), dtype=np.bool_)
        if spiking:
            own = raster.events[pop.index]
            s[own.steps, own.ids] = True
        reset = (0 if pop.model.reset == "subtract" else 1) if spiking else 2
        updates = float(
            changed(
                currents,
                s,
                np.ascontiguousarray(consts["beta"], dtype=np.float64),
                np.ascontiguousarray(consts["v_thresh"], dtype=np.float64),
                np.ascontiguousarray(consts["v_bias"], dtype=np.float64),
                reset,
            )
        )
        out[pop.index] = updates
    return out


# ---------------------------------------------------------------------------------------------
# public entry points
# ---------------------------------------------------------------------------------------------
def measure(
    net: Network,
    source: DeepResult | Recording | Mapping[str, ArrayLike],
    frames: ArrayLike | None = None,
    *,
    convention: Convention | str = "snn",
    delivery: Delivery | str = "delayed",
    dt: float | None = None,
    n_steps: int | None = None,
    value_bytes: int = 4,
    index_bytes: int = 4,
    membrane: bool = True,
) -> NetworkMetrics:
    """Metrics of one sample from a spike raster (module docstring for every definition).

    ``source``: a :class:`~snn.deep.reference.DeepResult` (``snn.deep.run``), a
    :class:`~snn.recording.Recording` (any backend; spikes of every pre population must be
    recorded for all its neurons), or a mapping ``{population label: (n_steps, *shape)}`` of
    spikes (then ``dt`` defaults to the network's and ``n_steps`` to the arrays' length).
    ``frames`` (T, *input.shape): a deep network's input; without it the input projections use
    the ``synaptic_events`` of a DeepResult/Recording as MACs when available, else raise.
    ``membrane``: reconstruct potentials for ``effective_membrane_updates`` (deep networks).
    A Numba run's counts (:attr:`DeepResult.activity <snn.deep.reference.DeepResult>`, made by
    its kernel) stand for its rasters when measured with its frames and delayed delivery: the
    same values, without scanning the rasters.
    Raises ``ValueError`` for a raster without a needed layer, mismatched time bins, or a
    network/raster mismatch.
    """
    _check_convention(convention, delivery)
    activity = _run_activity(net, source, frames, delivery, membrane)
    raster = _raster(net, source, frames, dt, n_steps, layers=activity is None)
    run_events = _metadata_events(source)
    notes: list[str] = []
    projections: dict[str, ProjectionMetrics] = {}
    for proj in net.projections:
        pre = proj.pre.parent
        ev = raster.events.get(pre.index)
        work: _Work | None
        if not _counted(proj, convention):
            work = None
        elif activity is not None:
            work = _activity_work(proj.label, activity, run_events[proj.label], convention)
        elif ev is not None:
            work = _raster_work(proj, ev, raster.n_steps, convention, delivery)
        elif isinstance(pre.model, FrameInput) and proj.label in run_events:
            count = float(run_events[proj.label])
            notes.append(
                f"{proj.label}: no input frames; its {count:g} synaptic events are counted "
                "as MACs (zero weights included), crossbar reads unknown"
            )
            projections[proj.label] = _from_event_count(proj, count, raster.n_steps)
            continue
        else:
            raise _missing(net, pre, f"projection {proj.label!r}")
        projections[proj.label] = _projection_metrics(proj, work, raster.n_steps)
    effective: dict[int, float | None] = {}
    if membrane:
        counted = getattr(source, "membrane_changes", None)
        if counted and delivery == "delayed":
            # counted during the run by the deep executors: no reconstruction needed
            by_label = {p.label: p.index for p in net.populations}
            effective = {by_label[k]: float(v) for k, v in counted.items() if k in by_label}
        else:
            effective = _effective_updates(net, raster, delivery)
    layers: dict[str, LayerMetrics] = {}
    for pop in net.populations:
        ev = raster.events.get(pop.index)
        source_pop = bool(pop.model.is_source)
        spiking = _is_spiking(pop)
        if activity is not None and pop.label in activity.spikes:
            spikes = float(activity.spikes[pop.label])
        elif spiking and not source_pop and ev is None:
            raise _missing(net, pop, "layer metrics")
        else:
            spikes = float(ev.steps.size) if (ev is not None and spiking) else 0.0
        cells = pop.size * raster.n_steps
        incoming = [projections[p.label] for p in net.projections if p.post.parent is pop]
        layers[pop.label] = LayerMetrics(
            label=pop.label,
            neurons=pop.size,
            spiking=spiking,
            source=source_pop,
            spikes=spikes,
            activation_sparsity=(1.0 - spikes / cells) if spiking and not source_pop else None,
            rate=spikes / (pop.size * raster.n_steps * raster.dt),
            membrane_updates=0.0 if source_pop else float(cells),
            effective_membrane_updates=None if source_pop else effective.get(pop.index),
            acs=sum(p.acs for p in incoming),
            macs=sum(p.macs for p in incoming),
            dense=sum(p.dense for p in incoming),
            synaptic_events=sum(p.synaptic_events for p in incoming),
        )
    input_events, input_nonzero, input_rate = _input_stats(net, raster)
    return NetworkMetrics(
        convention=str(convention),
        delivery=str(delivery),
        basis="raster",
        n_steps=raster.n_steps,
        dt=raster.dt,
        layers=layers,
        projections=projections,
        static=static_metrics(net, convention, value_bytes, index_bytes),
        input_events=input_events,
        input_nonzero=input_nonzero,
        input_event_rate=input_rate,
        notes=tuple(notes),
    )


def _run_activity(
    net: Network,
    source: object,
    frames: ArrayLike | None,
    delivery: str,
    membrane: bool,
) -> DeepActivity | None:
    """The counts a deep run made (:class:`~snn.deep.reference.DeepActivity`) where they give
    exactly the metrics of its raster, else None (the raster is scanned): a run measured with
    the delayed delivery it simulated, the frames it ran on, every layer and projection of
    ``net`` counted, and its membrane changes when ``membrane``. ``net`` must be the network
    that ran, as for the raster (whose sizes are checked)."""
    from snn.deep.reference import DeepResult

    if not isinstance(source, DeepResult) or source.activity is None or frames is None:
        return None
    if delivery != "delayed" or (membrane and not source.membrane_changes):
        return None
    activity = source.activity
    x = np.asarray(frames)
    run_frames = activity.frames
    if x.ndim < 2 or x.shape[0] != run_frames.shape[0] or x.size != run_frames.size:
        return None
    if not np.array_equal(x.reshape(run_frames.shape), run_frames):
        return None
    for pop in net.populations:
        if _is_spiking(pop) and not pop.model.is_source:
            raster = source.spikes.get(pop.label)
            if (
                pop.label not in activity.spikes
                or raster is None
                or raster.size != pop.size * source.n_steps
            ):
                return None
    for proj in net.projections:
        if proj.label not in activity.crossbar_reads or proj.label not in source.synaptic_events:
            return None
    return activity


def _metadata_events(source: object) -> dict[str, int]:
    from snn.deep.reference import DeepResult

    if isinstance(source, DeepResult):
        return dict(source.synaptic_events)
    if isinstance(source, Recording):
        return dict(source.metadata.get("synaptic_events", {}))
    return {}


def _from_event_count(proj: Projection, count: float, n_steps: int) -> ProjectionMetrics:
    st = _structure(proj)
    return ProjectionMetrics(
        label=proj.label,
        pre=proj.pre.label,
        post=proj.post.label,
        connector=proj.connector.name,
        counted=True,
        synapses=proj.size,
        nonzero_synapses=st.nonzero_synapses,
        weights=st.weights,
        zero_weights=st.zero_weights,
        synaptic_events=count,
        acs=0.0,
        macs=count,
        dense=float(proj.size) * n_steps,
        vmm_reads=float("nan"),
        active_rows=_active_rows(proj, count),
    )


def _input_stats(net: Network, raster: _Raster) -> tuple[float | None, float | None, float | None]:
    events = 0.0
    nonzero = 0.0
    seconds = 0.0
    any_source = False
    for pop in net.populations:
        if not pop.model.is_source:
            continue
        ev = raster.events.get(pop.index)
        if ev is None:
            return None, None, None
        any_source = True
        events += float(np.abs(ev.values).sum())
        nonzero += float(ev.steps.size)
        if isinstance(pop.model, FrameInput):
            seconds = max(seconds, (raster.n_frames or 0) * raster.dt)
        else:
            seconds = max(seconds, raster.n_steps * raster.dt)
    if not any_source:
        return None, None, None
    return events, nonzero, (events / seconds if seconds > 0 else 0.0)


def measure_rates(
    net: Network,
    rates: float | Mapping[str, float],
    *,
    duration: float | None = None,
    n_steps: int | None = None,
    input_rate: float = 0.0,
    input_binary: bool = True,
    input_frames: int | None = None,
    convention: Convention | str = "snn",
    value_bytes: int = 4,
    index_bytes: int = 4,
) -> NetworkMetrics:
    r"""Expected metrics for assumed firing rates (what-if studies; module docstring).

    ``rates``: Hz, one for every spiking population or a mapping by label (spike sources
    included; a deep network's input takes ``input_rate``, events per input element per
    second, during its first ``input_frames`` steps, default all). Neurons fire independently,
    at most once per step (:math:`r\, dt \le 1`). Expected counts: spikes :math:`r N n\,dt`;
    synaptic events :math:`r\, dt \sum_{syn} \max(n - d_{syn}, 0)`; crossbar reads
    :math:`\sum (1 - (1 - r\,dt)^{k})` over the reads with ``k`` input rows. Input events count
    as ACs when ``input_binary`` else MACs. Effective membrane updates are not defined here.
    """
    _check_convention(convention, "delayed")
    if (duration is None) == (n_steps is None):
        raise ValueError("give exactly one of duration (s) and n_steps")
    steps = net.n_steps(duration) if duration is not None else int(n_steps)  # type: ignore[arg-type]
    if steps < 1:
        raise ValueError(f"the run must last at least one step, got {steps}")
    frames = steps if input_frames is None else int(input_frames)
    if not 0 <= frames <= steps:
        raise ValueError(f"input_frames must lie in 0..{steps}, got {input_frames!r}")
    per_pop = _rates_by_population(net, rates, input_rate)
    dt = net.dt
    projections: dict[str, ProjectionMetrics] = {}
    for proj in net.projections:
        pre = proj.pre.parent
        p_spike = per_pop[pre.index] * dt
        active_steps = frames if isinstance(pre.model, FrameInput) else steps
        counted = _counted(proj, convention)
        st = _structure(proj)
        lifetime = np.clip(np.minimum(steps - proj.delays, active_steps), 0, None).astype(
            np.float64
        )
        events = p_spike * float(lifetime.sum()) if counted else 0.0
        ops = p_spike * float(lifetime[proj.weights != 0].sum()) if counted else 0.0
        is_mac = isinstance(pre.model, FrameInput) and not input_binary
        reads = _expected_reads(proj, p_spike, int(lifetime.max()) if lifetime.size else 0)
        projections[proj.label] = ProjectionMetrics(
            label=proj.label,
            pre=proj.pre.label,
            post=proj.post.label,
            connector=proj.connector.name,
            counted=counted,
            synapses=proj.size,
            nonzero_synapses=st.nonzero_synapses,
            weights=st.weights,
            zero_weights=st.zero_weights,
            synaptic_events=events,
            acs=0.0 if is_mac else ops,
            macs=ops if is_mac else 0.0,
            dense=float(proj.size) * steps if counted else 0.0,
            vmm_reads=reads if counted else 0.0,
            active_rows=_active_rows(proj, events),
        )
    layers: dict[str, LayerMetrics] = {}
    for pop in net.populations:
        source_pop = bool(pop.model.is_source)
        spiking = _is_spiking(pop)
        r = per_pop[pop.index] if (spiking or source_pop) else 0.0
        active = frames if isinstance(pop.model, FrameInput) else steps
        spikes = r * dt * pop.size * active if spiking or source_pop else 0.0
        incoming = [projections[p.label] for p in net.projections if p.post.parent is pop]
        layers[pop.label] = LayerMetrics(
            label=pop.label,
            neurons=pop.size,
            spiking=spiking,
            source=source_pop,
            spikes=spikes if spiking else 0.0,
            activation_sparsity=(1.0 - r * dt) if spiking and not source_pop else None,
            rate=r if spiking else 0.0,
            membrane_updates=0.0 if source_pop else float(pop.size * steps),
            effective_membrane_updates=None,
            acs=sum(p.acs for p in incoming),
            macs=sum(p.macs for p in incoming),
            dense=sum(p.dense for p in incoming),
            synaptic_events=sum(p.synaptic_events for p in incoming),
        )
    sources = [p for p in net.populations if p.model.is_source]
    if sources:
        ev_in = sum(
            per_pop[p.index] * dt * p.size * (frames if isinstance(p.model, FrameInput) else steps)
            for p in sources
        )
        secs = max((frames if isinstance(p.model, FrameInput) else steps) * dt for p in sources)
        input_stats: tuple[float | None, float | None, float | None] = (
            ev_in,
            ev_in,
            ev_in / secs if secs > 0 else 0.0,
        )
    else:
        input_stats = (None, None, None)
    return NetworkMetrics(
        convention=str(convention),
        delivery="delayed",
        basis="rates",
        n_steps=steps,
        dt=dt,
        layers=layers,
        projections=projections,
        static=static_metrics(net, convention, value_bytes, index_bytes),
        input_events=input_stats[0],
        input_nonzero=input_stats[1],
        input_event_rate=input_stats[2],
    )


def _rates_by_population(
    net: Network, rates: float | Mapping[str, float], input_rate: float
) -> dict[int, float]:
    def check(name: str, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
            raise ValueError(f"rate of {name} must be a number of Hz, got {value!r}")
        r = float(value)
        if not math.isfinite(r) or r < 0:
            raise ValueError(f"rate of {name} must be >= 0 Hz, got {value!r}")
        if r * net.dt > 1.0:
            raise ValueError(
                f"rate of {name} = {r:g} Hz exceeds one spike per step (1/dt = {1 / net.dt:g} Hz)"
            )
        return r

    inp = check("the input", input_rate)
    out: dict[int, float] = {}
    labels = {p.label for p in net.populations}
    if isinstance(rates, Mapping):
        unknown = sorted(set(rates) - labels)
        if unknown:
            raise ValueError(
                f"rates for unknown populations {unknown}; populations: {', '.join(sorted(labels))}"
            )
    for pop in net.populations:
        if isinstance(pop.model, FrameInput):
            out[pop.index] = inp
        elif isinstance(rates, Mapping):
            if pop.label in rates:
                out[pop.index] = check(pop.label, rates[pop.label])
            elif _is_spiking(pop):
                raise ValueError(
                    f"no rate for spiking population {pop.label!r}; give one for each of: "
                    + ", ".join(p.label for p in net.populations if _is_spiking(p))
                )
            else:
                out[pop.index] = 0.0
        else:
            out[pop.index] = check(pop.label, rates) if _is_spiking(pop) else 0.0
    return out


def _expected_reads(proj: Projection, p_spike: float, lifetime_steps: int) -> float:
    if lifetime_steps <= 0 or p_spike <= 0:
        return 0.0
    if isinstance(proj.connector, Conv2d):
        post = proj.post.parent
        positions = post.size // post.shape[0]
        fan_in = np.bincount(proj.post_idx[proj.post_idx < positions], minlength=positions)
        per_step = float((1.0 - (1.0 - p_spike) ** fan_in.astype(np.float64)).sum())
        return per_step * lifetime_steps
    rows = np.unique(proj.pre_idx).size
    return (1.0 - (1.0 - p_spike) ** rows) * lifetime_steps


def mean_metrics(samples: Sequence[NetworkMetrics]) -> NetworkMetrics:
    """The per-sample average of several samples' metrics (NeuroBench divides totals by the
    number of samples); ``n_steps`` must agree."""
    if not samples:
        raise ValueError("mean_metrics needs at least one NetworkMetrics")
    first = samples[0]
    for other in samples[1:]:
        if (other.n_steps, other.dt, other.convention, tuple(other.layers)) != (
            first.n_steps,
            first.dt,
            first.convention,
            tuple(first.layers),
        ):
            raise ValueError(
                "mean_metrics: samples differ in n_steps, dt, convention or layers; average "
                "runs of the same network and length"
            )
    k = float(len(samples))

    def avg(values: Sequence[float | None]) -> float | None:
        if any(v is None for v in values):
            return None
        return float(sum(v for v in values if v is not None)) / k

    layers = {}
    for label, layer in first.layers.items():
        group = [s.layers[label] for s in samples]
        layers[label] = LayerMetrics(
            label=label,
            neurons=layer.neurons,
            spiking=layer.spiking,
            source=layer.source,
            spikes=sum(g.spikes for g in group) / k,
            activation_sparsity=avg([g.activation_sparsity for g in group]),
            rate=sum(g.rate for g in group) / k,
            membrane_updates=sum(g.membrane_updates for g in group) / k,
            effective_membrane_updates=avg([g.effective_membrane_updates for g in group]),
            acs=sum(g.acs for g in group) / k,
            macs=sum(g.macs for g in group) / k,
            dense=sum(g.dense for g in group) / k,
            synaptic_events=sum(g.synaptic_events for g in group) / k,
        )
    projections = {}
    for label, proj in first.projections.items():
        group_p = [s.projections[label] for s in samples]
        numbers = {
            name: sum(getattr(g, name) for g in group_p) / k
            for name in ("synaptic_events", "acs", "macs", "dense", "vmm_reads", "active_rows")
        }
        projections[label] = ProjectionMetrics(
            label=label,
            pre=proj.pre,
            post=proj.post,
            connector=proj.connector,
            counted=proj.counted,
            synapses=proj.synapses,
            nonzero_synapses=proj.nonzero_synapses,
            weights=proj.weights,
            zero_weights=proj.zero_weights,
            **numbers,
        )
    return NetworkMetrics(
        convention=first.convention,
        delivery=first.delivery,
        basis=first.basis,
        n_steps=first.n_steps,
        dt=first.dt,
        layers=layers,
        projections=projections,
        static=first.static,
        input_events=avg([s.input_events for s in samples]),
        input_nonzero=avg([s.input_nonzero for s in samples]),
        input_event_rate=avg([s.input_event_rate for s in samples]),
        samples=int(sum(s.samples for s in samples)),
        notes=tuple(n for s in samples for n in s.notes),
    )
