"""Connectors: rules that turn a pre and a post population (or view) into a list of synapses.

A connector is an immutable description. ``connect(pre_ids, post_ids, same_population, rng)``
realises it into view-local index pairs in the connector's own order (the order in which
per-connection weights and delays are given); the projection then stores its synapses sorted by
population-local ``(pre, post)``, the order of its weights, delays and recorded weights.
``pre_ids``/``post_ids`` are the population-local indices of the two views, used to recognise
self connections.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from snn.registry import Registry

IndexArray = NDArray[np.int64]

CONNECTORS: Registry[type[Connector]] = Registry("connector")


class Connector:
    """Base class; subclasses are frozen dataclasses registered in :data:`CONNECTORS`."""

    name: ClassVar[str]

    def connect(
        self,
        pre_ids: IndexArray,
        post_ids: IndexArray,
        same_population: bool,
        rng: np.random.Generator,
    ) -> tuple[IndexArray, IndexArray]:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable parameters (the registry name is stored beside them)."""
        # dataclasses.fields() leaves out ClassVars such as ``name`` (__dataclass_fields__ has them)
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


def _self_mask(
    pre_ids: IndexArray, post_ids: IndexArray, same_population: bool
) -> NDArray[np.bool_]:
    """Dense (n_pre, n_post) mask that is False where pre and post are the same neuron."""
    if not same_population:
        return np.ones((pre_ids.size, post_ids.size), dtype=bool)
    return pre_ids[:, None] != post_ids[None, :]


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}")


@CONNECTORS.register("one_to_one")
@dataclass(frozen=True)
class OneToOne(Connector):
    """Neuron i of the pre view to neuron i of the post view; the sizes must be equal."""

    name: ClassVar[str] = "one_to_one"

    def connect(
        self,
        pre_ids: IndexArray,
        post_ids: IndexArray,
        same_population: bool,
        rng: np.random.Generator,
    ) -> tuple[IndexArray, IndexArray]:
        if pre_ids.size != post_ids.size:
            raise ValueError(
                f"OneToOne needs pre and post of equal size, got {pre_ids.size} and "
                f"{post_ids.size}; use a view (pop[a:b]) of matching size or FromList"
            )
        idx = np.arange(pre_ids.size, dtype=np.int64)
        return idx, idx.copy()


@CONNECTORS.register("all_to_all")
@dataclass(frozen=True)
class AllToAll(Connector):
    """Every pre neuron to every post neuron (optionally without self connections)."""

    allow_self_connections: bool = True
    name: ClassVar[str] = "all_to_all"

    def __post_init__(self) -> None:
        _check_bool("allow_self_connections", self.allow_self_connections)

    def connect(
        self,
        pre_ids: IndexArray,
        post_ids: IndexArray,
        same_population: bool,
        rng: np.random.Generator,
    ) -> tuple[IndexArray, IndexArray]:
        if self.allow_self_connections:
            mask = np.ones((pre_ids.size, post_ids.size), dtype=bool)
        else:
            mask = _self_mask(pre_ids, post_ids, same_population)
        pre, post = np.nonzero(mask)
        return pre.astype(np.int64), post.astype(np.int64)


@CONNECTORS.register("fixed_probability")
@dataclass(frozen=True)
class FixedProbability(Connector):
    """Each pair is connected independently with probability ``p``.

    Draws one uniform per candidate pair, pre-major, in blocks of pre neurons, so memory stays
    bounded for large populations.
    """

    p: float
    allow_self_connections: bool = True
    name: ClassVar[str] = "fixed_probability"

    def __post_init__(self) -> None:
        if not (isinstance(self.p, int | float) and 0.0 <= float(self.p) <= 1.0):
            raise ValueError(f"FixedProbability: p must be a probability in [0, 1], got {self.p!r}")
        _check_bool("allow_self_connections", self.allow_self_connections)

    def connect(
        self,
        pre_ids: IndexArray,
        post_ids: IndexArray,
        same_population: bool,
        rng: np.random.Generator,
    ) -> tuple[IndexArray, IndexArray]:
        n_pre, n_post = pre_ids.size, post_ids.size
        block = max(1, 2**22 // max(n_post, 1))
        pres, posts = [], []
        for start in range(0, n_pre, block):
            stop = min(n_pre, start + block)
            mask = rng.random((stop - start, n_post)) < self.p
            if same_population and not self.allow_self_connections:
                mask &= _self_mask(pre_ids[start:stop], post_ids, True)
            pre, post = np.nonzero(mask)
            pres.append(pre + start)
            posts.append(post)
        pre_all = np.concatenate(pres) if pres else np.zeros(0, np.int64)
        post_all = np.concatenate(posts) if posts else np.zeros(0, np.int64)
        return pre_all.astype(np.int64), post_all.astype(np.int64)


@CONNECTORS.register("fixed_in_degree")
@dataclass(frozen=True)
class FixedInDegree(Connector):
    """Each post neuron receives exactly ``n`` connections from randomly chosen pre neurons."""

    n: int
    allow_self_connections: bool = True
    with_replacement: bool = False
    name: ClassVar[str] = "fixed_in_degree"

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int | np.integer) or self.n < 0:
            raise ValueError(f"FixedInDegree: n must be a non-negative integer, got {self.n!r}")
        _check_bool("allow_self_connections", self.allow_self_connections)
        _check_bool("with_replacement", self.with_replacement)

    def connect(
        self,
        pre_ids: IndexArray,
        post_ids: IndexArray,
        same_population: bool,
        rng: np.random.Generator,
    ) -> tuple[IndexArray, IndexArray]:
        n = int(self.n)
        pres, posts = [], []
        for j in range(post_ids.size):
            candidates = np.arange(pre_ids.size, dtype=np.int64)
            if same_population and not self.allow_self_connections:
                candidates = candidates[pre_ids != post_ids[j]]
            if not self.with_replacement and n > candidates.size:
                raise ValueError(
                    f"FixedInDegree: n={n} exceeds the {candidates.size} available pre neurons "
                    f"of post neuron {j}; lower n or set with_replacement=True"
                )
            if candidates.size == 0 and n > 0:
                raise ValueError(f"FixedInDegree: post neuron {j} has no possible pre neuron")
            chosen = rng.choice(candidates, size=n, replace=self.with_replacement)
            pres.append(chosen)
            posts.append(np.full(n, j, dtype=np.int64))
        if not pres:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(pres), np.concatenate(posts)


@CONNECTORS.register("from_list")
@dataclass(frozen=True, eq=False)
class FromList(Connector):
    """Explicit ``(pre, post)`` pairs of view-local indices, as an array of shape (k, 2).

    Per-connection weights or delays given with the projection refer to the order of this list.
    """

    connections: NDArray[np.int64]
    name: ClassVar[str] = "from_list"

    def __init__(self, connections: ArrayLike) -> None:
        arr = np.asarray(connections)
        if arr.size == 0:
            arr = np.zeros((0, 2), dtype=np.int64)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError(f"FromList needs an array of shape (k, 2), got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                raise ValueError("FromList indices must be whole numbers")
        arr = arr.astype(np.int64)
        arr.setflags(write=False)
        object.__setattr__(self, "connections", arr)

    def connect(
        self,
        pre_ids: IndexArray,
        post_ids: IndexArray,
        same_population: bool,
        rng: np.random.Generator,
    ) -> tuple[IndexArray, IndexArray]:
        pre, post = self.connections[:, 0], self.connections[:, 1]
        for side, idx, size in (("pre", pre, pre_ids.size), ("post", post, post_ids.size)):
            bad = (idx < 0) | (idx >= size)
            if bad.any():
                raise ValueError(
                    f"FromList: {side} index {int(idx[bad][0])} is out of range for a "
                    f"{side} of size {size}"
                )
        return pre.copy(), post.copy()

    def to_dict(self) -> dict[str, Any]:
        return {"connections": self.connections.tolist()}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FromList):
            return NotImplemented
        return np.array_equal(self.connections, other.connections)

    __hash__ = None  # type: ignore[assignment]


class StructuredConnector(Connector):
    """A connector with shared weights over shaped populations (deep SNN layers).

    ``connect_shaped(pre_shape, post_shape)`` realises its synapses as population-local
    ``(pre, post)`` index pairs plus, per synapse, an index into the flattened shared weight
    array of shape ``kernel_shape(pre_shape)`` (the ``weight`` given to ``Network.connect`` is a
    scalar, an array of that shape, or a distribution drawn once per shared weight). Indices
    follow C order over ``(C, H, W)``, as torch's tensors do.
    """

    #: whether a torch lowering trains the shared weights
    trainable: ClassVar[bool] = True

    def output_shape(self, pre_shape: tuple[int, ...]) -> tuple[int, ...]:
        raise NotImplementedError

    def kernel_shape(self, pre_shape: tuple[int, ...]) -> tuple[int, ...]:
        raise NotImplementedError

    def connect_shaped(
        self, pre_shape: tuple[int, ...], post_shape: tuple[int, ...]
    ) -> tuple[IndexArray, IndexArray, IndexArray]:
        raise NotImplementedError

    def check_shapes(self, pre_shape: tuple[int, ...], post_shape: tuple[int, ...]) -> None:
        expected = self.output_shape(pre_shape)
        if tuple(post_shape) != expected:
            raise ValueError(
                f"{type(self).__name__}: a pre population of shape {tuple(pre_shape)} gives an "
                f"output of shape {expected}, but the post population has shape "
                f"{tuple(post_shape)}"
            )

    def connect(
        self,
        pre_ids: IndexArray,
        post_ids: IndexArray,
        same_population: bool,
        rng: np.random.Generator,
    ) -> tuple[IndexArray, IndexArray]:
        raise ValueError(
            f"{type(self).__name__} connects shaped populations: use Network.connect with whole "
            "populations (not views)"
        )


def _positive_int(owner: str, name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _chw(owner: str, shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ValueError(
            f"{owner} needs a pre population of shape (C, H, W), got shape {tuple(shape)}"
        )
    return int(shape[0]), int(shape[1]), int(shape[2])


def _window_synapses(
    c_in: int,
    h: int,
    w: int,
    c_out: int,
    h_out: int,
    w_out: int,
    k: int,
    stride: int,
    padding: int,
    depthwise: bool,
) -> tuple[IndexArray, IndexArray, IndexArray]:
    """Synapses of a k x k window convolution (full, or depthwise with one shared weight)."""
    oy, ox, ky, kx = np.meshgrid(
        np.arange(h_out), np.arange(w_out), np.arange(k), np.arange(k), indexing="ij"
    )
    iy = oy * stride - padding + ky
    ix = ox * stride - padding + kx
    inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    oy, ox, ky, kx, iy, ix = (a[inside].astype(np.int64) for a in (oy, ox, ky, kx, iy, ix))
    out_pos = oy * w_out + ox
    in_pos = iy * w + ix
    if depthwise:
        ch = np.arange(c_in, dtype=np.int64)[:, None]
        pre = (ch * h * w + in_pos[None, :]).ravel()
        post = (ch * h_out * w_out + out_pos[None, :]).ravel()
        return pre, post, np.zeros(pre.size, dtype=np.int64)
    co = np.arange(c_out, dtype=np.int64)[:, None, None]
    ci = np.arange(c_in, dtype=np.int64)[None, :, None]
    shape = (c_out, c_in, out_pos.size)
    pre = np.broadcast_to(ci * h * w + in_pos[None, None, :], shape).ravel()
    post = np.broadcast_to(co * h_out * w_out + out_pos[None, None, :], shape).ravel()
    kidx = np.broadcast_to(((co * c_in + ci) * k + ky[None, None, :]) * k + kx, shape).ravel()
    return pre, post, kidx


@CONNECTORS.register("conv2d")
@dataclass(frozen=True)
class Conv2d(StructuredConnector):
    """2-D convolution (cross-correlation, as ``torch.nn.Conv2d``) of a (C_in, H, W) population.

    The post population has shape ``(out_channels, H_out, W_out)`` with
    ``H_out = (H + 2 padding - kernel_size) // stride + 1``; shared weights have shape
    ``(out_channels, C_in, kernel_size, kernel_size)``. Zero padding adds no synapses.
    """

    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    name: ClassVar[str] = "conv2d"

    def __post_init__(self) -> None:
        _positive_int("Conv2d", "out_channels", self.out_channels)
        _positive_int("Conv2d", "kernel_size", self.kernel_size)
        _positive_int("Conv2d", "stride", self.stride)
        _positive_int("Conv2d", "padding", self.padding, minimum=0)

    def output_shape(self, pre_shape: tuple[int, ...]) -> tuple[int, ...]:
        _, h, w = _chw("Conv2d", pre_shape)
        k, s, p = self.kernel_size, self.stride, self.padding
        if h + 2 * p < k or w + 2 * p < k:
            raise ValueError(
                f"Conv2d: kernel_size {k} is larger than the padded input {h + 2 * p}x{w + 2 * p}"
            )
        return (self.out_channels, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)

    def kernel_shape(self, pre_shape: tuple[int, ...]) -> tuple[int, ...]:
        c, _, _ = _chw("Conv2d", pre_shape)
        return (self.out_channels, c, self.kernel_size, self.kernel_size)

    def connect_shaped(
        self, pre_shape: tuple[int, ...], post_shape: tuple[int, ...]
    ) -> tuple[IndexArray, IndexArray, IndexArray]:
        self.check_shapes(pre_shape, post_shape)
        c, h, w = _chw("Conv2d", pre_shape)
        _, h_out, w_out = post_shape
        return _window_synapses(
            c,
            h,
            w,
            self.out_channels,
            h_out,
            w_out,
            self.kernel_size,
            self.stride,
            self.padding,
            depthwise=False,
        )


@CONNECTORS.register("pool2d")
@dataclass(frozen=True)
class Pool2d(StructuredConnector):
    """Sum pooling over ``kernel_size`` x ``kernel_size`` windows, channel by channel.

    All synapses share one weight (shape ``(1,)``), not trained: ``1 / kernel_size**2`` gives
    average pooling; a weight above the threshold of a ``DeltaLIF(reset="zero")`` post layer
    gives spike max-pooling (the post neuron fires when any input in its window fired).
    ``stride`` defaults to ``kernel_size``.
    """

    kernel_size: int
    stride: int | None = None
    name: ClassVar[str] = "pool2d"
    trainable: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _positive_int("Pool2d", "kernel_size", self.kernel_size)
        if self.stride is not None:
            _positive_int("Pool2d", "stride", self.stride)

    @property
    def step(self) -> int:
        return self.kernel_size if self.stride is None else int(self.stride)

    def output_shape(self, pre_shape: tuple[int, ...]) -> tuple[int, ...]:
        c, h, w = _chw("Pool2d", pre_shape)
        k, s = self.kernel_size, self.step
        if h < k or w < k:
            raise ValueError(f"Pool2d: kernel_size {k} is larger than the input {h}x{w}")
        return (c, (h - k) // s + 1, (w - k) // s + 1)

    def kernel_shape(self, pre_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (1,)

    def connect_shaped(
        self, pre_shape: tuple[int, ...], post_shape: tuple[int, ...]
    ) -> tuple[IndexArray, IndexArray, IndexArray]:
        self.check_shapes(pre_shape, post_shape)
        c, h, w = _chw("Pool2d", pre_shape)
        _, h_out, w_out = post_shape
        return _window_synapses(
            c, h, w, c, h_out, w_out, self.kernel_size, self.step, 0, depthwise=True
        )


@CONNECTORS.register("dense")
@dataclass(frozen=True)
class Dense(StructuredConnector):
    """Every pre neuron (flattened in C order) to every post neuron, as ``torch.nn.Linear``.

    Shared weights have shape ``(n_post, n_pre)``: one weight per synapse, in torch's layout.
    """

    name: ClassVar[str] = "dense"

    def output_shape(self, pre_shape: tuple[int, ...]) -> tuple[int, ...]:
        raise ValueError("Dense: any post shape is valid; it has no single output shape")

    def check_shapes(self, pre_shape: tuple[int, ...], post_shape: tuple[int, ...]) -> None:
        return None

    def kernel_shape(self, pre_shape: tuple[int, ...]) -> tuple[int, ...]:
        raise ValueError("Dense: the kernel shape depends on the post population")

    def dense_kernel_shape(self, n_pre: int, n_post: int) -> tuple[int, ...]:
        return (n_post, n_pre)

    def connect_shaped(
        self, pre_shape: tuple[int, ...], post_shape: tuple[int, ...]
    ) -> tuple[IndexArray, IndexArray, IndexArray]:
        n_pre, n_post = math.prod(pre_shape), math.prod(post_shape)
        pre = np.repeat(np.arange(n_pre, dtype=np.int64), n_post)
        post = np.tile(np.arange(n_post, dtype=np.int64), n_pre)
        return pre, post, post * n_pre + pre


def kernel_shape_of(
    connector: StructuredConnector, pre_shape: tuple[int, ...], post_shape: tuple[int, ...]
) -> tuple[int, ...]:
    """Shape of the shared weights of ``connector`` between populations of these shapes."""
    if isinstance(connector, Dense):
        return connector.dense_kernel_shape(math.prod(pre_shape), math.prod(post_shape))
    return connector.kernel_shape(pre_shape)


def connector_from_dict(name: str, values: dict[str, Any]) -> Connector:
    """Rebuild a connector from its registry name and :meth:`Connector.to_dict` output."""
    cls = CONNECTORS.get(name)
    return cls(**values)
