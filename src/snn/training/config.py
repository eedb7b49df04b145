"""What a training run is: the frozen :class:`TrainConfig` and the registries it names.

Everything here imports without PyTorch (the command line builds its parser from it); the
surrogate names are checked against :data:`snn.deep.surrogate.SURROGATES` when a config is made.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from snn.models.dvs import cordone_network, csnn_network
from snn.network import Network
from snn.registry import Registry

#: builders of the networks ``snn train`` can train: ``builder(input_shape=(C, H, W),
#: n_classes=..., seed=..., **model_options) -> Network``
MODELS: Registry[Callable[..., Network]] = Registry("model")
MODELS.add("cordone", cordone_network)
MODELS.add("csnn", csnn_network)

#: optimizers by name (the torch classes are looked up in :mod:`snn.training.loop`)
OPTIMIZER_NAMES: tuple[str, ...] = ("adam", "radam")

#: keyword arguments of a model builder that the trainer sets itself
_BUILDER_OWN = ("input_shape", "n_classes", "seed")


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"TrainConfig: {name} must be a positive integer, got {value!r}")


def _nonnegative(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"TrainConfig: {name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"TrainConfig: {name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class TrainConfig:
    r"""Hyper-parameters of a training run; stored in every checkpoint.

    * ``model``: a name in :data:`MODELS`; ``model_options``: extra keyword arguments of its
      builder (e.g. ``{"channels": 8}`` for ``csnn``, ``{"tau_m": 20e-3}`` in seconds);
    * ``epochs``: length of the cosine schedule, in epochs; ``batch_size``: samples per step
      and per process (under ``torchrun`` the global batch is ``batch_size x world_size``);
    * ``optimizer``: ``"adam"`` or ``"radam"``; ``lr``: peak learning rate; ``lr_min``: the floor
      of the cosine schedule, :math:`\eta_e = \eta_{min} + (\eta - \eta_{min})
      (1 + \cos(\pi e / E)) / 2` for epoch :math:`e = 0, \dots, E - 1`; ``weight_decay``: L2
      coefficient (Adam's, coupled);
    * ``surrogate`` / ``surrogate_scale``: the spike function's pseudo-derivative and its width
      in 1/V (None: the surrogate's default; :mod:`snn.deep.surrogate`); ``detach_reset``;
    * ``seed``: initial weights, shuffling and every random number generator;
    * ``data``: JSON-ready description of the input pipeline (time bins, downsampling,
      representation, ...); not interpreted here, but a resumed run must match it.
    """

    model: str = "cordone"
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 30
    batch_size: int = 16
    optimizer: str = "adam"
    lr: float = 1e-3
    lr_min: float = 0.0
    weight_decay: float = 0.0
    surrogate: str = "fast_sigmoid"
    surrogate_scale: float | None = None
    detach_reset: bool = True
    seed: int = 0
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        builder = MODELS.get(self.model)  # ValueError listing the valid names
        accepted = set(inspect.signature(builder).parameters) - set(_BUILDER_OWN)
        unknown = set(self.model_options) - accepted
        if unknown:
            raise ValueError(
                f"TrainConfig: model {self.model!r} takes no option(s) {sorted(unknown)}; "
                f"valid: {sorted(accepted)}"
            )
        if self.optimizer not in OPTIMIZER_NAMES:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; valid choices: {', '.join(OPTIMIZER_NAMES)}"
            )
        from snn.deep.surrogate import check_surrogate

        check_surrogate(self.surrogate, self.surrogate_scale)
        _positive_int("epochs", self.epochs)
        _positive_int("batch_size", self.batch_size)
        _nonnegative("lr", self.lr)
        _nonnegative("lr_min", self.lr_min)
        _nonnegative("weight_decay", self.weight_decay)
        if not self.lr > 0:
            raise ValueError(f"TrainConfig: lr must be > 0, got {self.lr!r}")
        if self.lr_min > self.lr:
            raise ValueError(f"TrainConfig: lr_min {self.lr_min!r} exceeds lr {self.lr!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"TrainConfig: seed must be an integer >= 0, got {self.seed!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict``/``list``/scalar fields (what a checkpoint stores)."""
        return _plain(asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; missing fields take defaults, unknown ones raise."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"TrainConfig: unknown field(s) {sorted(unknown)}; valid: {sorted(known)}"
            )
        return cls(**dict(data))

    def lr_at(self, epoch: int) -> float:
        """The cosine schedule's learning rate during ``epoch`` (0-based)."""
        return self.lr_min + (self.lr - self.lr_min) * cosine_factor(epoch, self.epochs)


def cosine_factor(epoch: int, epochs: int) -> float:
    r""":math:`(1 + \cos(\pi \min(e, E) / E)) / 2`: 1 at the first epoch, towards 0 at the end."""
    return 0.5 * (1.0 + math.cos(math.pi * min(epoch, epochs) / epochs))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(v) for v in value]
    return value


#: config fields a resumed run may change (the cosine schedule then spans the new length)
RESUMABLE_CHANGES: tuple[str, ...] = ("epochs",)


def config_differences(stored: Mapping[str, Any], current: TrainConfig) -> list[str]:
    """``"name: stored -> current"`` for every field that a resumed run must not change."""
    now = current.to_dict()
    names = sorted(set(stored) | set(now))
    return [
        f"{name}: {stored.get(name)!r} -> {now.get(name)!r}"
        for name in names
        if name not in RESUMABLE_CHANGES and _plain(stored.get(name)) != now.get(name)
    ]


def build_network(config: TrainConfig, input_shape: Sequence[int], n_classes: int) -> Network:
    """The untrained frontend network of ``config`` for frames of ``input_shape`` (C, H, W)."""
    builder = MODELS.get(config.model)
    try:
        return builder(
            input_shape=tuple(int(s) for s in input_shape),
            n_classes=n_classes,
            seed=config.seed,
            **config.model_options,
        )
    except ValueError as exc:
        raise ValueError(
            f"model {config.model!r} cannot take frames of shape {tuple(input_shape)} "
            f"(C, H, W): {exc}"
        ) from exc
