r"""Synaptic plasticity: pair-based STDP with additive or multiplicative weight dependence.

PyNN's ``STDPMechanism(SpikePairRule(tau_plus, tau_minus, A_plus, A_minus),
AdditiveWeightDependence(w_min, w_max))`` in one frozen object, :class:`STDP`.

All-to-all pairing through exponential traces that jump by 1 at each event:

* a **pre event** of a synapse happens when its presynaptic spike *arrives* (emission step plus
  the synapse's delay, so the whole delay is axonal). It first depresses the weight by the post
  trace, then the (depressed) weight is delivered, then the synapse's pre trace jumps by 1;
* a **post event** happens in the step the postsynaptic neuron spikes, after arrivals, so a pre
  event and a post event in the same step count as pre-before-post (lag 0). It potentiates every
  plastic synapse onto the neuron by its pre trace, then the post trace jumps by 1.

With lag ``dt_lag = t_post - t_arrival`` one pair changes the weight by

.. math::

    \Delta w = +A_+ f_+(w) e^{-\Delta t / \tau_+}  \; (\Delta t \ge 0), \qquad
    \Delta w = -A_- f_-(w) e^{\Delta t / \tau_-} \; (\Delta t < 0)

* additive: ``f_+ = f_- = 1`` (``A_plus``, ``A_minus`` in weight units: A or S);
* multiplicative: ``f_+ = w_max - w``, ``f_- = w - w_min`` (``A_plus``, ``A_minus``
  dimensionless),

and the weight is clipped to ``[w_min, w_max]`` after every update. Traces decay by factors read
from a table ``exp(-k dt / tau)`` computed once in NumPy, so every backend agrees bit for bit.

:class:`InhibitorySTDP` is the inhibitory plasticity rule of Vogels, Sprekeler, Zenke, Clopath &
Gerstner (Science 334:1569, 2011), which drives each postsynaptic neuron towards a target rate
``rho0`` (used on inhibitory projections): the same traces and event order with
``tau_plus = tau_minus = tau``, and

* at a pre event: ``w <- w + eta (x_post - alpha)``, ``alpha = 2 rho0 tau`` (potentiation by
  the post trace, a constant depression per presynaptic spike);
* at a post event: ``w <- w + eta x_pre``,

each clipped to ``[w_min, w_max]``. A neuron firing above ``rho0`` receives more inhibition, one
firing below less: the expected change per pre spike vanishes when the post rate is ``rho0``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from snn.parameters import Param, ParameterSet
from snn.registry import Registry

WeightDependence = Literal["additive", "multiplicative", "vogels"]

PLASTICITY_RULES: Registry[type[ParameterSet]] = Registry("plasticity rule")
WEIGHT_DEPENDENCES = ("additive", "multiplicative")


@PLASTICITY_RULES.register("stdp")
class STDP(ParameterSet):
    """Pair-based STDP (see module docstring for the exact event order)."""

    name = "stdp"
    parameters: ClassVar[dict[str, Param]] = {
        "tau_plus": Param(20e-3, "s", "potentiation trace time constant", "positive"),
        "tau_minus": Param(20e-3, "s", "depression trace time constant", "positive"),
        "A_plus": Param(0.01, "weight unit or 1", "potentiation amplitude", "nonnegative"),
        "A_minus": Param(0.012, "weight unit or 1", "depression amplitude", "nonnegative"),
        "w_min": Param(0.0, "weight unit", "lower weight bound", "nonnegative"),
        "w_max": Param(1.0, "weight unit", "upper weight bound", "nonnegative"),
    }

    def __init__(self, weight_dependence: str = "additive", **values: float) -> None:
        if weight_dependence not in WEIGHT_DEPENDENCES:
            raise ValueError(
                f"STDP: unknown weight_dependence {weight_dependence!r}; "
                f"valid choices: {', '.join(WEIGHT_DEPENDENCES)}"
            )
        super().__init__(**values)
        for key in self.parameters:
            if not isinstance(self._values[key], float):
                raise ValueError(f"STDP: {key} must be a scalar (one rule per projection)")
        if self.w_max < self.w_min:
            raise ValueError(f"STDP: w_max ({self.w_max}) must be >= w_min ({self.w_min})")
        object.__setattr__(self, "_weight_dependence", weight_dependence)

    @property
    def weight_dependence(self) -> WeightDependence:
        return self._weight_dependence

    def replace(self, **values: object) -> STDP:
        merged = {**self._values, **values}
        wd = merged.pop("weight_dependence", self.weight_dependence)
        return STDP(str(wd), **merged)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, STDP):
            return NotImplemented
        return self.weight_dependence == other.weight_dependence and self._values == other._values

    __hash__ = None

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"STDP(weight_dependence={self.weight_dependence!r}, {inner})"

    def decay_table(self, tau: float, dt: float) -> NDArray[np.float64]:
        """``exp(-k dt / tau)`` for k = 0 .. K, K the first lag where it underflows to 0."""
        n = int(np.ceil(746.0 * tau / dt)) + 2
        table = np.exp(-np.arange(n, dtype=np.float64) * dt / tau)
        table[-1] = 0.0
        return table

    def pair_change(self, w: float, lag_steps: int, dt: float) -> float:
        """Weight after one isolated pre/post pair with ``lag = t_post - t_arrival`` in steps.

        The closed form the simulators are tested against (clipping included).
        """
        if lag_steps >= 0:
            trace = float(np.exp(-lag_steps * dt / self.tau_plus))
            f = 1.0 if self.weight_dependence == "additive" else self.w_max - w
            w = w + self.A_plus * f * trace
        else:
            trace = float(np.exp(lag_steps * dt / self.tau_minus))
            f = 1.0 if self.weight_dependence == "additive" else w - self.w_min
            w = w - self.A_minus * f * trace
        return float(min(max(w, self.w_min), self.w_max))


@PLASTICITY_RULES.register("inhibitory_stdp")
class InhibitorySTDP(STDP):
    """Vogels et al. 2011 inhibitory STDP towards a target rate (see the module docstring).

    ``eta`` is in weight units (A or S) per unit of trace; the rule has no weight dependence
    (``weight_dependence == "vogels"``, stored as such). As sPyNNaker's ``Vogels2011Rule`` with
    ``alpha = 2 rho0 tau``.
    """

    name = "inhibitory_stdp"
    parameters: ClassVar[dict[str, Param]] = {
        "tau": Param(20e-3, "s", "pre and post trace time constant", "positive"),
        "eta": Param(1e-12, "weight unit", "learning rate", "nonnegative"),
        "rho0": Param(5.0, "Hz", "target firing rate of the postsynaptic neuron", "nonnegative"),
        "w_min": Param(0.0, "weight unit", "lower weight bound", "nonnegative"),
        "w_max": Param(1e-9, "weight unit", "upper weight bound", "nonnegative"),
    }

    def __init__(self, weight_dependence: str = "vogels", **values: float) -> None:
        if weight_dependence != "vogels":
            raise ValueError(
                f"InhibitorySTDP: weight_dependence must be 'vogels' (the rule has none), got "
                f"{weight_dependence!r}"
            )
        ParameterSet.__init__(self, **values)
        for key in self.parameters:
            if not isinstance(self._values[key], float):
                raise ValueError(
                    f"InhibitorySTDP: {key} must be a scalar (one rule per projection)"
                )
        if self.w_max < self.w_min:
            raise ValueError(
                f"InhibitorySTDP: w_max ({self.w_max}) must be >= w_min ({self.w_min})"
            )
        object.__setattr__(self, "_weight_dependence", "vogels")

    # the pair rule's names, as the simulators read them
    @property
    def tau_plus(self) -> float:
        return float(self._values["tau"])

    @property
    def tau_minus(self) -> float:
        return float(self._values["tau"])

    @property
    def A_plus(self) -> float:
        return float(self._values["eta"])

    @property
    def A_minus(self) -> float:
        return float(self._values["eta"])

    @property
    def alpha(self) -> float:
        """The depression factor ``2 rho0 tau`` (dimensionless)."""
        return 2.0 * float(self._values["rho0"]) * float(self._values["tau"])

    def replace(self, **values: object) -> InhibitorySTDP:
        merged = {**self._values, **values}
        merged.pop("weight_dependence", None)
        return InhibitorySTDP(**merged)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"InhibitorySTDP({inner})"

    def pair_change(self, w: float, lag_steps: int, dt: float) -> float:
        """Weight after one isolated pre/post pair, ``lag = t_post - t_arrival`` in steps.

        Both events change the weight: the first one with a zero trace of the other side.
        """
        eta, alpha = self.A_plus, self.alpha
        trace = float(np.exp(-abs(lag_steps) * dt / self.tau_plus))

        def clip(x: float) -> float:
            return float(min(max(x, self.w_min), self.w_max))

        if lag_steps >= 0:  # pre event first (post trace 0), then the post event
            return clip(clip(w + eta * (0.0 - alpha)) + eta * trace)
        return clip(clip(w + eta * 0.0) + eta * (trace - alpha))
