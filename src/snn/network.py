"""The frontend: a network described once, as data, in SI units.

>>> import snn
>>> net = snn.Network(dt=0.1e-3, seed=1)
>>> exc = net.population(80, snn.IF_curr_exp(tau_m=20e-3), label="exc")
>>> src = net.population(10, snn.SpikeSourcePoisson(rate=50.0), label="input")
>>> proj = net.connect(src, exc, snn.FixedProbability(0.2), weight=0.5e-9, delay=1e-3)
>>> rec = net.record(exc, "spikes", "v")
>>> result = net.run(0.1, backend="numpy")

Connectivity, weights, delays and random initial values are drawn when they are declared, from
generators derived from the network's seed and the object's index, so the same seed gives the same
network whatever is declared later, and the realised arrays are what gets saved. A run is a pure
function of the network, the duration and the run seed: every run starts from the initial state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from snn.connectors import Connector, StructuredConnector, kernel_shape_of
from snn.neurons import FrameInput, NeuronModel, SpikeSourceArray
from snn.parameters import Distribution, check_values, realize
from snn.plasticity import STDP

if TYPE_CHECKING:
    from snn.recording import Recording

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.int64]
Receptor = Literal["excitatory", "inhibitory"]

_RECEPTORS: dict[str, Receptor] = {
    "excitatory": "excitatory",
    "exc": "excitatory",
    "E": "excitatory",
    "inhibitory": "inhibitory",
    "inh": "inhibitory",
    "I": "inhibitory",
}

#: per-step update rules a network can ask for: "exact" (exact integration, the default) and
#: "spinnaker" (sPyNNaker's discrete update order and STDP processing)
SEMANTICS = ("exact", "spinnaker")

# spawn keys that separate the random streams of different kinds of objects
_STREAM_POPULATION = 0
_STREAM_PROJECTION = 1
_STREAM_RUN = 2


def _generator(seed: int, stream: int, index: int) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(stream, index)))
    )


def run_generator(seed: int, population_index: int) -> np.random.Generator:
    """The generator of a population's run-time randomness (Poisson draws) for a run seed."""
    return _generator(seed, _STREAM_RUN, population_index)


class Population:
    """A group of neurons sharing one neuron model, with a size or a shape such as (C, H, W)."""

    def __init__(
        self,
        network: Network,
        index: int,
        shape: tuple[int, ...],
        model: NeuronModel,
        label: str,
        params: dict[str, FloatArray],
        initial: dict[str, FloatArray],
    ) -> None:
        self.network = network
        self.index = index
        self.shape = shape
        self.size = int(math.prod(shape))
        self.model = model
        self.label = label
        self.params = params
        self.initial = initial
        for values in (*params.values(), *initial.values()):
            values.setflags(write=False)  # realised values change only through initialize()
        self._rng = _generator(network.seed, _STREAM_POPULATION, index)

    @property
    def parent(self) -> Population:
        return self

    @property
    def indices(self) -> IndexArray:
        return np.arange(self.size, dtype=np.int64)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: int | slice | Sequence[int] | NDArray[Any]) -> PopulationView:
        return PopulationView(self, self.indices, key)

    def initialize(self, **values: ArrayLike | Distribution) -> None:
        """Set initial values of state variables (scalar, one per neuron, or a distribution)."""
        valid = self.model.state_variables
        for name, value in values.items():
            if name not in valid:
                raise ValueError(
                    f"population {self.label!r}: unknown state variable {name!r}; "
                    f"valid names: {', '.join(valid) or '(none: spike sources have no state)'}"
                )
            self.initial[name] = realize(
                f"population {self.label!r}", name, value, self.size, self._rng
            )

    def set_params(self, **values: ArrayLike) -> None:
        """Replace realised parameters (a scalar or one value per neuron), e.g. after training.

        The values pass the model's checks; the model keeps its declared values, the realised
        arrays (what runs and what is saved) change.
        """
        specs = self.model.parameters
        for name, value in values.items():
            if name not in specs:
                raise ValueError(
                    f"population {self.label!r}: unknown parameter {name!r}; "
                    f"valid names: {', '.join(specs) or '(none)'}"
                )
            self.params[name] = realize(
                f"population {self.label!r}", name, value, self.size, None, specs[name].check
            )

    def __repr__(self) -> str:
        return f"Population({self.label!r}, shape={self.shape}, model={self.model.name})"


class PopulationView:
    """A subset of a population's neurons (a slice, list of indices or boolean mask)."""

    def __init__(
        self,
        parent: Population,
        base: IndexArray,
        key: int | slice | Sequence[int] | NDArray[Any],
    ) -> None:
        self.parent = parent
        if isinstance(key, int | np.integer):
            key = [int(key)]
        if isinstance(key, slice):
            idx = base[key]
        else:
            arr = np.asarray(key)
            if arr.dtype == bool:
                if arr.shape != base.shape:
                    raise ValueError(
                        f"boolean mask of shape {arr.shape} does not match a view of {base.size}"
                    )
                idx = base[arr]
            else:
                if arr.size and not np.issubdtype(arr.dtype, np.integer):
                    raise ValueError(f"view indices must be integers, got dtype {arr.dtype}")
                arr = arr.astype(np.int64).reshape(-1)
                bad = (arr < -base.size) | (arr >= base.size)
                if bad.any():
                    raise ValueError(
                        f"index {int(arr[bad][0])} is out of range for {parent.label!r} "
                        f"(size {base.size})"
                    )
                idx = base[arr]
        if np.unique(idx).size != idx.size:
            raise ValueError("a population view cannot contain the same neuron twice")
        self.indices: IndexArray = idx.astype(np.int64)
        self.indices.setflags(write=False)
        self.size = int(self.indices.size)
        self.label = f"{parent.label}[{_describe(key)}]"

    @property
    def model(self) -> NeuronModel:
        return self.parent.model

    @property
    def network(self) -> Network:
        return self.parent.network

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: int | slice | Sequence[int] | NDArray[Any]) -> PopulationView:
        return PopulationView(self.parent, self.indices, key)

    def __repr__(self) -> str:
        return f"PopulationView({self.label!r}, size={self.size})"


def _describe(key: object) -> str:
    if isinstance(key, slice):
        parts = ["" if v is None else str(v) for v in (key.start, key.stop)]
        text = ":".join(parts)
        return text + (f":{key.step}" if key.step is not None else "")
    arr = np.asarray(key).reshape(-1)
    if arr.dtype == bool:
        return f"mask of {int(arr.sum())}"
    if arr.size <= 4:
        return ",".join(str(int(x)) for x in arr)
    return f"{arr.size} indices"


Target = Population | PopulationView


@dataclass(eq=False)
class Projection:
    """Synapses from ``pre`` to ``post``, realised: one entry per connection sorted by (pre, post).

    ``pre_idx``/``post_idx`` are population-local neuron indices, ``weights`` in A (current
    synapses) or S (conductance synapses), ``delays`` in whole steps (>= 1).
    """

    network: Network
    index: int
    label: str
    pre: Target
    post: Target
    connector: Connector
    receptor: Receptor
    plasticity: STDP | None
    pre_idx: IndexArray
    post_idx: IndexArray
    weights: FloatArray
    delays: IndexArray
    #: per synapse, its index into the flattened shared weights (structured connectors only)
    _kernel_index: IndexArray | None = field(default=None, repr=False)
    #: where the weights physically live, e.g. a memristor crossbar
    #: (:class:`snn.hardware.crossbar.CrossbarSubstrate`); None: exact digital weights
    substrate: Any = None

    @property
    def size(self) -> int:
        return int(self.pre_idx.size)

    @property
    def kernel_shape(self) -> tuple[int, ...]:
        """Shape of the shared weights of a structured (conv, pool, dense) projection."""
        connector = self._structured()
        return kernel_shape_of(connector, self.pre.parent.shape, self.post.parent.shape)

    @property
    def kernel_index(self) -> IndexArray:
        """Per synapse, its index into the flattened shared weights (structured connectors)."""
        if self._kernel_index is None:
            connector = self._structured()
            pre, post, kidx = connector.connect_shaped(
                self.pre.parent.shape, self.post.parent.shape
            )
            order = np.lexsort((post, pre))
            if not (
                np.array_equal(pre[order], self.pre_idx)
                and np.array_equal(post[order], self.post_idx)
            ):
                raise ValueError(
                    f"projection {self.label!r}: its synapses do not match its "
                    f"{connector.name} connector"
                )
            index = kidx[order]
            index.setflags(write=False)
            self._kernel_index = index
        return self._kernel_index

    def kernel(self) -> FloatArray:
        """The shared weights of a structured projection, shape :attr:`kernel_shape`.

        Entries no synapse uses (possible only with unusual strides) read as 0.
        """
        out = np.zeros(math.prod(self.kernel_shape))
        out[self.kernel_index] = self.weights
        return out.reshape(self.kernel_shape)

    def set_kernel(self, kernel: ArrayLike) -> None:
        """Replace the shared weights of a structured projection (e.g. with trained ones)."""
        shape = self.kernel_shape
        arr = np.asarray(kernel, dtype=np.float64)
        if arr.shape != shape:
            raise ValueError(
                f"projection {self.label!r}: kernel of shape {arr.shape}, expected {shape}"
            )
        check_values(f"projection {self.label!r}", "kernel", arr.reshape(-1), "any")
        weights = arr.reshape(-1)[self.kernel_index]
        weights.setflags(write=False)
        self.weights = weights

    def _structured(self) -> StructuredConnector:
        if not isinstance(self.connector, StructuredConnector):
            raise ValueError(
                f"projection {self.label!r} ({self.connector.name}) has no shared weights; "
                "only conv2d, pool2d and dense projections do"
            )
        return self.connector

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return (
            f"Projection({self.label!r}, {self.pre.label} -> {self.post.label}, "
            f"{self.connector.name}, {self.size} synapses, {self.receptor})"
        )


@dataclass(frozen=True, eq=False)
class Recorder:
    """What to record: variables of a population/view, or the weights of a plastic projection."""

    label: str
    target: Population | PopulationView | Projection
    variables: tuple[str, ...]
    interval_steps: int


class Network:
    """A spiking network: populations, projections and recordings, with a time step ``dt`` (s).

    ``seed`` fixes every random draw made while building (connectivity, random weights, delays and
    initial values); ``None`` draws one, readable afterwards as ``network.seed``.

    ``semantics`` selects the per-step update rules every backend must follow (see
    :data:`SEMANTICS`): ``"exact"`` (the default: exact integration, documented in
    :mod:`snn.neurons` and :mod:`snn.plasticity`) or ``"spinnaker"`` (sPyNNaker's discrete update
    order, for reproducing recorded SpiNNaker hardware). A backend that does not implement the
    requested semantics refuses to run the network.
    """

    def __init__(
        self, dt: float = 0.1e-3, seed: int | None = None, semantics: str = "exact"
    ) -> None:
        if semantics not in SEMANTICS:
            raise ValueError(
                f"unknown semantics {semantics!r}; valid choices: {', '.join(SEMANTICS)}"
            )
        dt = float(dt)
        if not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a positive number of seconds, got {dt}")
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.dt = dt
        self.seed = int(seed)
        self.semantics = semantics
        self.populations: list[Population] = []
        self.projections: list[Projection] = []
        self.recorders: list[Recorder] = []

    # -- building -------------------------------------------------------------------------
    def population(
        self,
        shape: int | Sequence[int],
        model: NeuronModel,
        label: str | None = None,
        initial: Mapping[str, ArrayLike | Distribution] | None = None,
    ) -> Population:
        """Add a population of ``shape`` neurons (an int, or a tuple such as (C, H, W))."""
        if not isinstance(model, NeuronModel):
            raise ValueError(
                f"model must be a neuron model such as snn.IF_curr_exp(), got {model!r}"
            )
        shape_t = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
        if not shape_t or any(
            isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1 for s in shape_t
        ):
            raise ValueError(f"population shape must be positive integers, got {shape!r}")
        shape_t = tuple(int(s) for s in shape_t)
        index = len(self.populations)
        label = self._unique_label(label or f"pop{index}", [p.label for p in self.populations])
        size = int(math.prod(shape_t))
        rng = _generator(self.seed, _STREAM_POPULATION, index)
        if isinstance(model, SpikeSourceArray):
            # validates the number of trains and one spike per step now, not at run time
            SpikeSourceArray.lower_trains(model.trains_for(size), self.dt)
            params: dict[str, FloatArray] = {}
        else:
            params = model.realize(size, rng)
        defaults = model.initial_state(params, size)
        pop = Population(self, index, shape_t, model, label, params, defaults)
        pop._rng = rng  # continue the stream that drew the parameters
        self.populations.append(pop)
        if initial:
            pop.initialize(**initial)
        return pop

    def input(self, shape: int | Sequence[int], label: str | None = None) -> Population:
        """Add the input layer of a deep network (:class:`~snn.neurons.FrameInput`): frames of
        ``shape`` (e.g. (2, 128, 128) event-count frames) supplied when the network runs."""
        return self.population(shape, FrameInput(), label=label or "input")

    def connect(
        self,
        pre: Target,
        post: Target | Sequence[Target],
        connector: Connector,
        weight: ArrayLike | Distribution = 0.0,
        delay: ArrayLike | Distribution | None = None,
        receptor: str = "excitatory",
        plasticity: STDP | None = None,
        label: str | None = None,
        substrate: Any = None,
    ) -> Projection:
        """Connect ``pre`` to ``post`` (or to each of a list of posts, returning the last).

        ``weight``: non-negative A (current synapses) or S (conductance synapses); a scalar,
        one value per connection (in the connector's order), an (n_pre, n_post) matrix, or a
        distribution. ``delay``: seconds, a whole multiple of ``dt`` and at least ``dt``
        (default one step). ``receptor``: ``"excitatory"`` or ``"inhibitory"``.
        ``substrate``: where the weights physically live, e.g.
        ``snn.hardware.crossbar.CrossbarSubstrate(...)`` (realised by
        :func:`snn.hardware.crossbar.program_network`); default exact weights.
        """
        if isinstance(post, Sequence) and not isinstance(post, str):
            if not post:
                raise ValueError("connect: the list of post targets is empty")
            projections = [
                self.connect(
                    pre,
                    p,
                    connector,
                    weight,
                    delay,
                    receptor,
                    plasticity,
                    None if label is None else f"{label}{i}",
                    substrate,
                )
                for i, p in enumerate(post)
            ]
            return projections[-1]
        for side, target in (("pre", pre), ("post", post)):
            if not isinstance(target, Population | PopulationView):
                raise ValueError(f"connect: {side} must be a population or view, got {target!r}")
            if target.network is not self:
                raise ValueError(f"connect: {side} {target.label!r} belongs to another network")
        if not isinstance(connector, Connector):
            raise ValueError(f"connect: connector must be a Connector, got {connector!r}")
        if post.model.is_source:
            raise ValueError(
                f"connect: post {post.label!r} is a spike source ({post.model.name}) and "
                "cannot receive synapses"
            )
        if receptor not in _RECEPTORS:
            raise ValueError(
                f"connect: unknown receptor {receptor!r}; valid choices: excitatory, inhibitory"
            )
        if plasticity is not None and not isinstance(plasticity, STDP):
            raise ValueError(
                f"connect: plasticity must be snn.STDP(...) or None, got {plasticity!r}"
            )
        _check_substrate(substrate, connector, plasticity)
        index = len(self.projections)
        label = self._unique_label(label or f"proj{index}", [p.label for p in self.projections])
        owner = f"projection {label!r}"
        rng = _generator(self.seed, _STREAM_PROJECTION, index)
        if isinstance(connector, StructuredConnector):
            proj = self._connect_structured(
                pre, post, connector, weight, delay, receptor, plasticity, index, label, rng
            )
            proj.substrate = substrate
            return proj
        same = pre.parent is post.parent
        pre_v, post_v = connector.connect(pre.indices, post.indices, same, rng)
        k = int(pre_v.size)
        weights = _realize_weights(owner, weight, pre_v, post_v, pre.size, post.size, rng)
        delays = self._realize_delays(owner, delay, k, rng)
        # sort by population indices (not view positions): the CSR over pre neurons needs it
        order = np.lexsort((post.indices[post_v], pre.indices[pre_v]))
        proj = Projection(
            network=self,
            index=index,
            label=label,
            pre=pre,
            post=post,
            connector=connector,
            receptor=_RECEPTORS[receptor],
            plasticity=plasticity,
            pre_idx=pre.indices[pre_v[order]],
            post_idx=post.indices[post_v[order]],
            weights=weights[order],
            delays=delays[order],
            substrate=substrate,
        )
        check_projection(proj)
        self.projections.append(proj)
        return proj

    def _connect_structured(
        self,
        pre: Target,
        post: Target,
        connector: StructuredConnector,
        weight: ArrayLike | Distribution,
        delay: ArrayLike | Distribution | None,
        receptor: str,
        plasticity: STDP | None,
        index: int,
        label: str,
        rng: np.random.Generator,
    ) -> Projection:
        owner = f"projection {label!r}"
        if not (isinstance(pre, Population) and isinstance(post, Population)):
            raise ValueError(
                f"{owner}: {connector.name} connects whole shaped populations, not views"
            )
        if post.model.synapse_type != "voltage":
            raise ValueError(
                f"{owner}: {connector.name} projections feed deep-network neurons (DeltaLIF, "
                f"LeakyIntegrator), not {post.model.name}"
            )
        if plasticity is not None:
            raise ValueError(f"{owner}: {connector.name} projections cannot be plastic")
        if delay is not None and (
            isinstance(delay, Distribution)
            or np.ndim(delay) != 0
            or self._whole_steps(f"{owner}: delay", float(np.asarray(delay, dtype=np.float64))) != 1
        ):
            raise ValueError(
                f"{owner}: deep-network projections have a delay of one step (dt); leave delay=None"
            )
        if _RECEPTORS.get(receptor) != "excitatory":
            raise ValueError(
                f"{owner}: deep-network weights are signed; leave receptor='excitatory'"
            )
        pre_v, post_v, kidx = connector.connect_shaped(pre.shape, post.shape)
        shape = kernel_shape_of(connector, pre.shape, post.shape)
        n = int(math.prod(shape))
        if isinstance(weight, Distribution):
            kernel = realize(owner, "weight", weight, n, rng)
        else:
            arr = np.asarray(weight, dtype=np.float64)
            if arr.ndim == 0:
                kernel = np.full(n, float(arr))
            elif arr.shape == shape:
                kernel = arr.reshape(-1).copy()
            else:
                raise ValueError(
                    f"{owner}: weight of shape {arr.shape}; a {connector.name} projection "
                    f"takes a scalar, an array of its kernel shape {shape} or a distribution"
                )
            check_values(owner, "weight", kernel, "any")
        order = np.lexsort((post_v, pre_v))
        kernel_index = kidx[order]
        kernel_index.setflags(write=False)
        proj = Projection(
            network=self,
            index=index,
            label=label,
            pre=pre,
            post=post,
            connector=connector,
            receptor="excitatory",
            plasticity=None,
            pre_idx=pre_v[order],
            post_idx=post_v[order],
            weights=kernel[kernel_index],
            delays=np.ones(pre_v.size, dtype=np.int64),
            _kernel_index=kernel_index,
        )
        check_projection(proj)
        self.projections.append(proj)
        return proj

    def record(
        self,
        target: Population | PopulationView | Projection,
        *variables: str,
        interval: float | None = None,
        label: str | None = None,
    ) -> Recorder:
        """Record ``"spikes"`` and/or state variables of a population or view, or the
        ``"weights"`` of a plastic projection, every ``interval`` seconds (default: every step)."""
        if not variables:
            raise ValueError("record: name at least one variable, e.g. 'spikes' or 'v'")
        if isinstance(target, Projection):
            if target.network is not self:
                raise ValueError("record: the projection belongs to another network")
            valid: tuple[str, ...] = ("weights",)
            if target.plasticity is None:
                raise ValueError(
                    f"record: projection {target.label!r} is static; its weights do not change "
                    "(read projection.weights instead)"
                )
        elif isinstance(target, Population | PopulationView):
            if target.network is not self:
                raise ValueError("record: the population belongs to another network")
            valid = ("spikes", *target.model.state_variables)
        else:
            raise ValueError(f"record: cannot record {target!r}")
        for v in variables:
            if v not in valid:
                raise ValueError(
                    f"record: {target.label!r} has no recordable variable {v!r}; "
                    f"valid names: {', '.join(valid)}"
                )
        steps = 1 if interval is None else self._whole_steps("record interval", interval)
        label = self._unique_label(
            label or target.label,
            [r.label for r in self.recorders],
            hint="pass label= to record the same target twice",
        )
        rec = Recorder(label, target, tuple(dict.fromkeys(variables)), steps)
        self.recorders.append(rec)
        return rec

    # -- running --------------------------------------------------------------------------
    def run(
        self,
        duration: float,
        backend: str = "numpy",
        seed: int | None = None,
        progress: bool = False,
        **options: Any,
    ) -> Recording:
        """Simulate ``duration`` seconds from the initial state and return the recording.

        ``seed`` drives run-time randomness (Poisson sources); it defaults to the network seed.
        ``backend`` is one of :data:`snn.backends.BACKENDS` (``snn.backends.available()``).
        """
        from snn.backends import simulate

        return simulate(self, duration, backend=backend, seed=seed, progress=progress, **options)

    def n_steps(self, duration: float) -> int:
        """Number of whole steps in ``duration`` seconds (must be a multiple of dt)."""
        return self._whole_steps("duration", duration, minimum=0)

    # -- helpers --------------------------------------------------------------------------
    def _whole_steps(self, what: str, seconds: float, minimum: int = 1) -> int:
        value = float(seconds)
        if not math.isfinite(value):
            raise ValueError(f"{what} must be finite, got {seconds}")
        steps = value / self.dt
        n = round(steps)
        if abs(steps - n) > 1e-6 * max(1.0, abs(steps)):
            raise ValueError(
                f"{what} {value:g} s is not a whole number of steps of dt={self.dt:g} s"
            )
        if n < minimum:
            raise ValueError(
                f"{what} {value:g} s is less than {minimum} step(s) of dt={self.dt:g} s"
            )
        return int(n)

    def _realize_delays(
        self,
        owner: str,
        delay: ArrayLike | Distribution | None,
        k: int,
        rng: np.random.Generator,
    ) -> IndexArray:
        if delay is None:
            return np.ones(k, dtype=np.int64)
        if isinstance(delay, Distribution):
            seconds = realize(owner, "delay", delay, k, rng)
            steps = np.rint(seconds / self.dt).astype(np.int64)
            if k and steps.min() < 1:
                raise ValueError(
                    f"{owner}: a drawn delay of {seconds[steps.argmin()]:g} s rounds to less "
                    f"than one step (dt={self.dt:g} s); bound the distribution, e.g. low={self.dt}"
                )
            return steps
        seconds = realize(owner, "delay", delay, k, None)
        steps_f = seconds / self.dt
        steps = np.rint(steps_f).astype(np.int64)
        off = np.abs(steps_f - steps) > 1e-6 * np.maximum(1.0, np.abs(steps_f))
        if off.any():
            raise ValueError(
                f"{owner}: delay {seconds[off][0]:g} s is not a whole number of steps of "
                f"dt={self.dt:g} s"
            )
        if k and steps.min() < 1:
            raise ValueError(
                f"{owner}: delay {seconds[steps.argmin()]:g} s is less than one step "
                f"(dt={self.dt:g} s); delays must be >= dt"
            )
        return steps

    @staticmethod
    def _unique_label(label: str, existing: list[str], hint: str = "") -> str:
        if not isinstance(label, str) or not label:
            raise ValueError(f"label must be a non-empty string, got {label!r}")
        if label in existing:
            raise ValueError(f"label {label!r} is already used" + (f"; {hint}" if hint else ""))
        return label

    def population_by_label(self, label: str) -> Population:
        for p in self.populations:
            if p.label == label:
                return p
        labels = ", ".join(p.label for p in self.populations)
        raise ValueError(f"no population labelled {label!r}; labels: {labels}")

    def __repr__(self) -> str:
        return (
            f"Network(dt={self.dt:g}, seed={self.seed}, semantics={self.semantics!r}, "
            f"{len(self.populations)} populations, "
            f"{len(self.projections)} projections, {len(self.recorders)} recorders)"
        )


def _realize_weights(
    owner: str,
    weight: ArrayLike | Distribution,
    pre_v: IndexArray,
    post_v: IndexArray,
    n_pre: int,
    n_post: int,
    rng: np.random.Generator,
) -> FloatArray:
    k = int(pre_v.size)
    if not isinstance(weight, Distribution):
        arr = np.asarray(weight, dtype=np.float64)
        if arr.ndim == 2:
            if arr.shape != (n_pre, n_post):
                raise ValueError(
                    f"{owner}: weight matrix has shape {arr.shape}, expected (n_pre, n_post) = "
                    f"({n_pre}, {n_post})"
                )
            weight = arr[pre_v, post_v]
        elif arr.ndim == 1 and arr.shape != (k,):
            raise ValueError(
                f"{owner}: {arr.size} weights given for {k} connections; give a scalar, one "
                f"weight per connection, an ({n_pre}, {n_post}) matrix or a distribution"
            )
    weights = realize(owner, "weight", weight, k, rng)
    if (weights < 0).any():
        raise ValueError(
            f"{owner}: weights must be >= 0 (got {weights.min():g}); inhibition is expressed by "
            "receptor='inhibitory' with positive weights, as in PyNN"
        )
    return weights


def _check_substrate(substrate: Any, connector: Connector, plasticity: STDP | None) -> None:
    if substrate is None:
        return
    from snn.connectors import Pool2d
    from snn.hardware.crossbar.substrate import CrossbarSubstrate

    if not isinstance(substrate, CrossbarSubstrate):
        raise ValueError(
            "connect: substrate must be snn.hardware.crossbar.CrossbarSubstrate(...) or None, "
            f"got {substrate!r}"
        )
    if isinstance(connector, Pool2d):
        raise ValueError("connect: pooling is fixed digital arithmetic; it has no crossbar")
    if plasticity is not None:
        raise ValueError(
            "connect: a crossbar substrate holds programmed (static) weights; it cannot carry STDP"
        )


def check_projection(proj: Projection) -> None:
    """Validate a projection's realised arrays (also used when loading from a file)."""
    owner = f"projection {proj.label!r}"
    k = proj.pre_idx.size
    for name, arr in (
        ("post_idx", proj.post_idx),
        ("weights", proj.weights),
        ("delays", proj.delays),
    ):
        if arr.shape != (k,):
            raise ValueError(f"{owner}: {name} has shape {arr.shape}, expected ({k},)")
    if k:
        if proj.pre_idx.min() < 0 or proj.pre_idx.max() >= proj.pre.parent.size:
            raise ValueError(f"{owner}: pre index out of range")
        if proj.post_idx.min() < 0 or proj.post_idx.max() >= proj.post.parent.size:
            raise ValueError(f"{owner}: post index out of range")
        if proj.delays.min() < 1:
            raise ValueError(f"{owner}: delays must be >= 1 step, got {int(proj.delays.min())}")
    # deep-network neurons take signed voltage jumps; elsewhere the receptor gives the sign
    signed = proj.post.model.synapse_type == "voltage"
    check_values(owner, "weights", proj.weights, "any" if signed else "nonnegative")
    if proj.plasticity is not None and k:
        lo, hi = proj.plasticity.w_min, proj.plasticity.w_max
        if proj.weights.min() < lo or proj.weights.max() > hi:
            raise ValueError(
                f"{owner}: initial weights must lie in the STDP bounds [w_min, w_max] = "
                f"[{lo:g}, {hi:g}], got [{proj.weights.min():g}, {proj.weights.max():g}]"
            )
    for arr in (proj.pre_idx, proj.post_idx, proj.weights, proj.delays):
        arr.setflags(write=False)
