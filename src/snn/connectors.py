"""Connectors: rules that turn a pre and a post population (or view) into a list of synapses.

A connector is an immutable description. ``connect(pre_ids, post_ids, same_population, rng)``
realises it into view-local index pairs in the connector's own order (the order in which
per-connection weights and delays are given); the projection then stores its synapses sorted by
population-local ``(pre, post)``, the order of its weights, delays and recorded weights.
``pre_ids``/``post_ids`` are the population-local indices of the two views, used to recognise
self connections.
"""

from __future__ import annotations

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


def connector_from_dict(name: str, values: dict[str, Any]) -> Connector:
    """Rebuild a connector from its registry name and :meth:`Connector.to_dict` output."""
    cls = CONNECTORS.get(name)
    return cls(**values)
