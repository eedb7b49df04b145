"""Parameter values: scalars, per-element arrays and seeded random distributions.

A parameter of a neuron model, a weight or a delay may be given as

* a scalar, which broadcasts over the population or projection;
* an array with one value per neuron (or per connection);
* a :class:`Distribution`, drawn once, when the population or projection is created, from the
  network's seeded generator, so the realised values are part of the saved model.

:class:`ParameterSet` is the immutable base of every model that carries named parameters
(neuron models, connectors, plasticity rules). Unknown names raise an error that lists the valid
ones, in the manner of PyNN's ``NonExistentParameterError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from snn.registry import Registry

Check = Literal["any", "positive", "nonnegative", "probability", "nonnegative_or_inf"]

DISTRIBUTIONS: Registry[type[Distribution]] = Registry("distribution")


class Distribution:
    """A seeded random distribution of parameter values (drawn with a numpy Generator)."""

    name: ClassVar[str]

    def sample(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        raise NotImplementedError

    def to_dict(self) -> dict[str, float]:
        raise NotImplementedError


@DISTRIBUTIONS.register("uniform")
@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform on ``[low, high)``."""

    low: float
    high: float
    name: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        _finite("low", self.low)
        _finite("high", self.high)
        if not self.high >= self.low:
            raise ValueError(f"Uniform needs high >= low, got low={self.low}, high={self.high}")

    def sample(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        return rng.uniform(self.low, self.high, size)

    def to_dict(self) -> dict[str, float]:
        return {"low": self.low, "high": self.high}


@DISTRIBUTIONS.register("normal")
@dataclass(frozen=True)
class Normal(Distribution):
    """Normal with ``mean`` and ``std``, clipped to ``[low, high]`` (defaults: unbounded)."""

    mean: float
    std: float
    low: float = -math.inf
    high: float = math.inf
    name: ClassVar[str] = "normal"

    def __post_init__(self) -> None:
        _finite("mean", self.mean)
        _finite("std", self.std)
        if self.std < 0:
            raise ValueError(f"Normal needs std >= 0, got {self.std}")
        if not self.high >= self.low:
            raise ValueError(f"Normal needs high >= low, got low={self.low}, high={self.high}")

    def sample(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        return np.clip(rng.normal(self.mean, self.std, size), self.low, self.high)

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "std": self.std, "low": self.low, "high": self.high}


def distribution_from_dict(name: str, values: dict[str, float]) -> Distribution:
    """Rebuild a distribution from its registry name and parameters (used by the HDF5 reader)."""
    cls = DISTRIBUTIONS.get(name)
    return cls(**values)


def _finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")


def check_values(owner: str, name: str, values: NDArray[np.float64], check: Check) -> None:
    """Raise ValueError naming ``owner.name`` if ``values`` are NaN/inf or violate ``check``."""
    if values.size == 0:
        return
    bad = np.isnan(values) if check == "nonnegative_or_inf" else ~np.isfinite(values)
    if bad.any():
        first = values[bad][0]
        raise ValueError(f"{owner}: {name} must be finite, got {first} (NaN and inf are rejected)")
    if check == "positive" and not (values > 0).all():
        raise ValueError(f"{owner}: {name} must be > 0, got {values[values <= 0][0]}")
    if check in ("nonnegative", "nonnegative_or_inf") and not (values >= 0).all():
        raise ValueError(f"{owner}: {name} must be >= 0, got {values[values < 0][0]}")
    if check == "probability" and not ((values >= 0) & (values <= 1)).all():
        raise ValueError(f"{owner}: {name} must lie in [0, 1], got {values}")


def realize(
    owner: str,
    name: str,
    value: ArrayLike | Distribution,
    size: int,
    rng: np.random.Generator | None,
    check: Check = "any",
) -> NDArray[np.float64]:
    """Turn a scalar, array or distribution into a float64 array of ``size`` values."""
    if isinstance(value, Distribution):
        if rng is None:
            raise ValueError(f"{owner}: {name} is a distribution but no generator was given")
        out = value.sample(rng, size).astype(np.float64)
    else:
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 0:
            out = np.full(size, float(arr))
        elif arr.shape == (size,):
            out = arr.copy()
        else:
            raise ValueError(
                f"{owner}: {name} has shape {arr.shape}; give a scalar or {size} values"
            )
    check_values(owner, name, out, check)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class Param:
    """Declaration of one model parameter: default, SI unit, meaning and validity check."""

    default: float
    unit: str
    doc: str
    check: Check = "any"


class ParameterSet:
    """Immutable named parameters with declared defaults, units and checks.

    Subclasses declare ``parameters: ClassVar[dict[str, Param]]``. Values may be scalars, arrays
    (one per element) or distributions; they are validated here (names, NaN/inf, sign) and realised
    to arrays by :meth:`realize` once the number of elements is known.
    """

    name: ClassVar[str]
    parameters: ClassVar[dict[str, Param]] = {}

    def __init__(self, **values: Any) -> None:
        unknown = sorted(set(values) - set(self.parameters))
        if unknown:
            raise ValueError(
                f"{type(self).__name__}: unknown parameter(s) {', '.join(unknown)}; "
                f"valid names: {', '.join(self.parameters)}"
            )
        stored: dict[str, float | NDArray[np.float64] | Distribution] = {}
        for key, spec in self.parameters.items():
            raw = values.get(key, spec.default)
            if isinstance(raw, Distribution):
                stored[key] = raw
                continue
            arr = np.asarray(raw, dtype=np.float64)
            if arr.ndim > 1:
                raise ValueError(
                    f"{type(self).__name__}: {key} must be a scalar or 1-D, got shape {arr.shape}"
                )
            check_values(type(self).__name__, key, arr.reshape(-1), spec.check)
            if arr.ndim == 0:
                stored[key] = float(arr)
            else:
                arr = arr.copy()
                arr.setflags(write=False)
                stored[key] = arr
        object.__setattr__(self, "_values", stored)

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; build a new one instead")

    def __getattr__(self, key: str) -> Any:
        values = self.__dict__.get("_values", {})
        if key in values:
            return values[key]
        raise AttributeError(f"{type(self).__name__} has no attribute {key!r}")

    @property
    def values(self) -> dict[str, float | NDArray[np.float64] | Distribution]:
        return dict(self._values)

    def realize(self, size: int, rng: np.random.Generator | None) -> dict[str, NDArray[np.float64]]:
        """All parameters as float64 arrays of ``size`` values (distributions drawn from rng)."""
        return {
            key: realize(type(self).__name__, key, self._values[key], size, rng, spec.check)
            for key, spec in self.parameters.items()
        }

    def replace(self, **values: Any) -> ParameterSet:
        merged = {**self._values, **values}
        return type(self)(**merged)

    def __repr__(self) -> str:
        def show(v: object) -> str:
            if isinstance(v, np.ndarray):
                return f"array(shape={v.shape})"
            return repr(v)

        inner = ", ".join(f"{k}={show(v)}" for k, v in self._values.items())
        return f"{type(self).__name__}({inner})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        for key in self.parameters:
            a, b = self._values[key], other._values[key]
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if not np.array_equal(np.asarray(a), np.asarray(b)):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]
