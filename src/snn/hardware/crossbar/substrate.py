r"""Crossbars as synapses: a projection's weights realised through devices, mapping and wires.

A projection declares ``substrate=CrossbarSubstrate(...)`` in :meth:`snn.Network.connect` (or a
substrate is applied to a whole network). Its weight matrix is programmed onto tiled crossbars by
:class:`~snn.hardware.crossbar.mapping.CrossbarLayer` (device model, differential or offset
mapping, tile size, read voltage, word/bit-line resistance), with two ways of reading it:

* **static** (:func:`program_network`): every non-ideality that does not depend on the input
  (programming noise, finite levels, faults, variability, drift and one read-noise draw at
  ``read_time``, IR drop) is folded into effective weights, measured exactly by probing the
  analog chain with unit inputs (the chain is linear with ideal converters, so the probe gives
  :math:`W_{eff}` with :math:`x W_{eff}` equal to the analog output for every input ``x``). The
  result is an ordinary network that every backend runs (NumPy, Numba, Brian2, the deep
  executors, torch).
* **dynamic** (:class:`CrossbarMatmul`, ``snn.deep.lower_torch(net, crossbar=True)``): every
  matrix product goes through the full chain, DAC and ADC quantisation included, with read noise
  redrawn per read: inference of rate/ANN or deep spiking models, without gradients.

Which matrix a projection puts on the crossbar
----------------------------------------------
* :class:`~snn.connectors.Conv2d`: the kernel unrolled as ``(C_in k k, C_out)`` (im2col: one
  word line per input-patch element, one bit line per output channel), read once per output
  position;
* :class:`~snn.connectors.Dense`: the ``(n_pre, n_post)`` weight matrix;
* any clock-driven projection: the ``(n_pre, n_post)`` matrix of its signed weights (the
  inhibitory receptor's weights negative), zero where there is no synapse; the realised weights
  are read back at the synapses and clipped at zero (a sign flip cannot be expressed by a
  receptor), the number of clipped synapses is reported;
* :class:`~snn.connectors.Pool2d` is fixed digital pooling: not on a crossbar.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from snn.hardware.crossbar.devices import (
    ConductanceRange,
    DeviceModel,
    Drift,
    ProgrammingNoise,
    PulseResponse,
    ReadNoise,
    StuckAtFaults,
    Variability,
)
from snn.hardware.crossbar.mapping import (
    CrossbarLayer,
    DifferentialMapping,
    OffsetMapping,
    Quantiser,
)

MAPPINGS = ("differential", "offset")

#: the device model's fields and their classes (for JSON round trips)
_DEVICE_PARTS: dict[str, type] = {
    "conductance_range": ConductanceRange,
    "programming_noise": ProgrammingNoise,
    "read_noise": ReadNoise,
    "drift": Drift,
    "faults": StuckAtFaults,
    "variability": Variability,
    "pulse_response": PulseResponse,
}


@dataclass(frozen=True)
class CrossbarSubstrate:
    """How a projection's weights live on memristor crossbars (see the module docstring).

    ``device`` (default ideal, 0.1-10 uS), ``mapping`` (``"differential"`` pairs or ``"offset"``
    with a reference column), ``dac_bits``/``adc_bits`` (None: ideal converter; used by the
    dynamic read), ``tile_rows``/``tile_cols`` (physical array size), ``v_read`` (V),
    ``r_word``/``r_bit`` (wire segment resistances, ohm; 0 = ideal wires), ``read_time``
    (seconds after programming: drift), ``drift_compensation`` (global, Joshi et al. 2020).
    """

    device: DeviceModel = field(default_factory=DeviceModel)
    mapping: Literal["differential", "offset"] = "differential"
    dac_bits: int | None = 8
    adc_bits: int | None = 8
    tile_rows: int = 256
    tile_cols: int = 256
    v_read: float = 0.2
    r_word: float = 0.0
    r_bit: float = 0.0
    read_time: float = 0.0
    drift_compensation: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.device, DeviceModel):
            raise ValueError(f"device must be a DeviceModel, got {self.device!r}")
        if self.mapping not in MAPPINGS:
            raise ValueError(
                f"unknown crossbar mapping {self.mapping!r}; valid choices: {', '.join(MAPPINGS)}"
            )
        for name in ("r_word", "r_bit", "read_time"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        # the layer validates the rest (bits, tile sizes, v_read) with its own messages
        self.layer(np.ones((1, 1)), seed=0)

    def layer(
        self, matrix: NDArray[np.float64], seed: int, ideal_converters: bool = False
    ) -> CrossbarLayer:
        """Program ``matrix`` (n_in, n_out) onto crossbars with this substrate's settings."""
        dac = Quantiser(None if ideal_converters else self.dac_bits)
        adc = Quantiser(None if ideal_converters else self.adc_bits)
        mapping = DifferentialMapping() if self.mapping == "differential" else OffsetMapping()
        return CrossbarLayer(
            matrix,
            device=self.device,
            mapping=mapping,
            dac=dac,
            adc=adc,
            tile_rows=self.tile_rows,
            tile_cols=self.tile_cols,
            v_read=self.v_read,
            r_word=self.r_word,
            r_bit=self.r_bit,
            drift_compensation=self.drift_compensation,
            seed=seed,
        )

    def effective_matrix(self, matrix: NDArray[np.float64], seed: int) -> NDArray[np.float64]:
        """The matrix the analog chain computes (ideal converters) at ``read_time``, measured
        by one read of unit inputs: exact, because that chain is linear in its input."""
        layer = self.layer(matrix, seed, ideal_converters=True)
        n_in = matrix.shape[0]
        out = np.empty_like(matrix, dtype=np.float64)
        block = max(1, 4096 // max(1, matrix.shape[1]))
        for start in range(0, n_in, block):
            stop = min(n_in, start + block)
            probe = np.zeros((stop - start, n_in))
            probe[np.arange(stop - start), np.arange(start, stop)] = 1.0
            out[start:stop] = layer.forward(probe, t=self.read_time)
        return out

    # -- serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CrossbarSubstrate:
        values = dict(data)
        device = values.pop("device", {}) or {}
        parts: dict[str, Any] = {}
        for name, value in device.items():
            part = _DEVICE_PARTS.get(name)
            if part is None:
                raise ValueError(
                    f"unknown device field {name!r}; valid names: {', '.join(_DEVICE_PARTS)}"
                )
            if value is not None:
                # JSON turns tuples (e.g. noise coefficients) into lists
                value = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
            parts[name] = None if value is None else part(**value)
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown crossbar substrate field(s): {', '.join(sorted(unknown))}")
        return cls(device=DeviceModel(**parts), **values)


@dataclass(frozen=True)
class ProgrammedProjection:
    """What :func:`program_network` did to one projection."""

    label: str
    matrix_shape: tuple[int, int]
    relative_error: float
    clipped: int


def projection_seed(seed: int, index: int) -> int:
    """The programming seed of projection ``index`` in a network programmed with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def projection_matrix(proj: Any) -> NDArray[np.float64]:
    """The matrix a projection puts on the crossbar (see the module docstring)."""
    from snn.connectors import Conv2d, Dense, Pool2d, StructuredConnector

    c = proj.connector
    if isinstance(c, Conv2d):
        kernel = proj.kernel()
        return np.ascontiguousarray(kernel.reshape(kernel.shape[0], -1).T)
    if isinstance(c, Dense):
        return np.ascontiguousarray(proj.kernel().T)
    if isinstance(c, Pool2d) or isinstance(c, StructuredConnector):
        raise ValueError(
            f"projection {proj.label!r} ({c.name}) is fixed digital pooling, not a crossbar"
        )
    pre, post = proj.pre, proj.post
    pre_pos = np.full(pre.parent.size, -1, dtype=np.int64)
    pre_pos[pre.indices] = np.arange(pre.size)
    post_pos = np.full(post.parent.size, -1, dtype=np.int64)
    post_pos[post.indices] = np.arange(post.size)
    sign = -1.0 if proj.receptor == "inhibitory" else 1.0
    matrix = np.zeros((pre.size, post.size))
    np.add.at(matrix, (pre_pos[proj.pre_idx], post_pos[proj.post_idx]), sign * proj.weights)
    return matrix


def _set_projection_matrix(proj: Any, eff: NDArray[np.float64], matrix: NDArray[np.float64]) -> int:
    from snn.connectors import Conv2d, Dense

    c = proj.connector
    if isinstance(c, Conv2d):
        shape = proj.kernel_shape
        proj.set_kernel(eff.T.reshape(shape))
        return 0
    if isinstance(c, Dense):
        proj.set_kernel(eff.T.copy())
        return 0
    pre, post = proj.pre, proj.post
    pre_pos = np.full(pre.parent.size, -1, dtype=np.int64)
    pre_pos[pre.indices] = np.arange(pre.size)
    post_pos = np.full(post.parent.size, -1, dtype=np.int64)
    post_pos[post.indices] = np.arange(post.size)
    rows, cols = pre_pos[proj.pre_idx], post_pos[proj.post_idx]
    sign = -1.0 if proj.receptor == "inhibitory" else 1.0
    target = matrix[rows, cols]
    # duplicate (pre, post) pairs share the pair's realised value in proportion to their weight
    share = np.divide(sign * proj.weights, target, out=np.ones_like(target), where=target != 0)
    realised = sign * eff[rows, cols] * share
    clipped = int(np.count_nonzero(realised < 0))
    weights = np.maximum(realised, 0.0)
    weights.setflags(write=False)
    proj.weights = weights
    return clipped


def program_network(
    net: Any,
    substrate: CrossbarSubstrate | None = None,
    seed: int = 0,
    labels: list[str] | None = None,
) -> tuple[Any, list[ProgrammedProjection]]:
    """A copy of ``net`` whose crossbar projections carry their realised (static) weights.

    Crossbar projections are those that declare a substrate, or, with ``substrate`` given,
    every projection that can be one (all but pooling; ``labels`` restricts them). Each
    projection is programmed with its own seed (``seed`` and its index). Returns the copy and,
    per programmed projection, the relative error :math:`\\|W_{eff} - W\\|_F / \\|W\\|_F` and the
    number of clipped synapses.
    """
    from snn.connectors import Pool2d

    out = copy.deepcopy(net)
    report = []
    for proj in out.projections:
        sub = proj.substrate if substrate is None else substrate
        if labels is not None and proj.label not in labels:
            continue
        if sub is None or (substrate is not None and isinstance(proj.connector, Pool2d)):
            continue
        matrix = projection_matrix(proj)
        eff = sub.effective_matrix(matrix, seed=projection_seed(seed, proj.index))
        norm = float(np.linalg.norm(matrix))
        err = float(np.linalg.norm(eff - matrix)) / norm if norm > 0 else 0.0
        clipped = _set_projection_matrix(proj, eff, matrix)
        report.append(ProgrammedProjection(proj.label, matrix.shape, err, clipped))
    if labels is not None:
        missing = set(labels) - {p.label for p in out.projections}
        if missing:
            raise ValueError(f"no projection labelled {', '.join(sorted(missing))}")
    return out, report


def accuracy_on_crossbar(
    net: Any, samples: Any, substrate: CrossbarSubstrate, seed: int = 0
) -> float:
    """Accuracy (%) of a deep network over ``samples`` (``(frames, label)`` pairs, or a dataset
    of them) with every non-pooling projection programmed on ``substrate``
    (:func:`program_network`), classified on the event-driven Numba backend."""
    from snn import deep
    from snn.deep.numba_kernel import lower, run_numba

    pairs = [samples[i] for i in range(len(samples))]
    if not pairs:
        raise ValueError("accuracy_on_crossbar: no samples")
    programmed, _ = program_network(net, substrate, seed=seed)
    graph = deep.deep_graph(programmed)
    lowered = lower(graph)
    correct = sum(
        run_numba(graph, np.asarray(frames, dtype=np.float64), lowered=lowered).prediction
        == int(label)
        for frames, label in pairs
    )
    return 100.0 * correct / len(pairs)
