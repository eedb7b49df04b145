r"""Surrogate gradients of the spike nonlinearity :math:`s = H(v - v_{thresh})`.

The forward pass is the exact Heaviside step (strict: :math:`H(0) = 0`, as the threshold test
``v > v_thresh`` of every backend); the backward pass replaces :math:`\delta(x)` by a smooth
pseudo-derivative :math:`\sigma'(x)` of unit area (``scale`` sets its width, in 1/V):

==================  ==========================================================  =================
name                :math:`\sigma'(x)`                                          as in
==================  ==========================================================  =================
``fast_sigmoid``    :math:`1 / (1 + k|x|)^2` (unscaled, as in SuperSpike)       Zenke & Ganguli
``atan``            :math:`(k/2) / (1 + (\pi k x / 2)^2)`                        Fang et al. 2021
``sigmoid``         :math:`k\, \mathrm{sig}(kx)(1 - \mathrm{sig}(kx))`             snnTorch
``triangle``        :math:`\max(0, 1 - |x| / w)` with :math:`w = 1/k`              Esser et al. 2016
==================  ==========================================================  =================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from snn.registry import Registry

SURROGATES: Registry[Callable[[torch.Tensor, float], torch.Tensor]] = Registry("surrogate")


@SURROGATES.register("fast_sigmoid")
def fast_sigmoid(x: torch.Tensor, k: float) -> torch.Tensor:
    return 1.0 / (1.0 + k * x.abs()) ** 2


@SURROGATES.register("atan")
def atan(x: torch.Tensor, k: float) -> torch.Tensor:
    return (k / 2.0) / (1.0 + (math.pi / 2.0 * k * x) ** 2)


@SURROGATES.register("sigmoid")
def sigmoid(x: torch.Tensor, k: float) -> torch.Tensor:
    sig = torch.sigmoid(k * x)
    return k * sig * (1.0 - sig)


@SURROGATES.register("triangle")
def triangle(x: torch.Tensor, k: float) -> torch.Tensor:
    return torch.clamp(1.0 - k * x.abs(), min=0.0)


#: default widths (k) of each surrogate
DEFAULT_SCALES = {"fast_sigmoid": 10.0, "atan": 2.0, "sigmoid": 5.0, "triangle": 1.0}


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, name: str, k: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.name, ctx.k = name, k
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (x,) = ctx.saved_tensors
        return grad * SURROGATES.get(ctx.name)(x, ctx.k), None, None


def spike(x: torch.Tensor, name: str = "fast_sigmoid", scale: float | None = None) -> torch.Tensor:
    """Heaviside of ``x`` forward, the named surrogate's derivative backward."""
    SURROGATES.get(name)
    k = DEFAULT_SCALES[name] if scale is None else float(scale)
    return _Spike.apply(x, name, k)


def check_surrogate(name: str, scale: float | None) -> float:
    """Validate a surrogate name and width; return the width to use."""
    if name not in SURROGATES:
        raise ValueError(f"unknown surrogate {name!r}; valid choices: {', '.join(SURROGATES)}")
    k = DEFAULT_SCALES.get(name, 1.0) if scale is None else float(scale)
    if not (math.isfinite(k) and k > 0):
        raise ValueError(f"surrogate scale must be a positive number, got {scale!r}")
    return k
