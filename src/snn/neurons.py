"""Neuron models: parameters in SI units, documented equations and a defined per-step order.

Every model here is a frozen :class:`~snn.parameters.ParameterSet` with

* ``lower(params, dt)``: the per-neuron constants of one time step (propagators, thresholds),
  computed once in NumPy so that every backend uses bit-identical constants;
* ``step(state, consts, step, in_exc, in_inh, uniforms)``: the pure NumPy reference step, the
  ground truth that the Numba, CUDA and Torch lowerings reproduce.

Shared schedule of one step ``m`` (time ``t = m dt``), for every backend:

1. **arrivals**: synaptic input that arrives at step ``m`` (spikes emitted at ``m - delay``) jumps
   the synaptic variable of its receptor (current in A, or conductance in S);
2. **integration** of the sub-threshold dynamics from ``t`` to ``t + dt`` (neurons in their
   refractory period keep ``v``; synaptic and adaptation variables always evolve);
3. **threshold**: ``v > v_thresh`` (strict) on non-refractory neurons emits a spike at step ``m``
   (recorded at time ``m dt``, Brian2's convention);
4. **reset**: ``v = v_reset``; the neuron is refractory during steps ``m+1 .. m+R-1`` where
   ``R = round(tau_refrac / dt)`` (Brian2's ``(t - lastspike) < refractory`` rule).

State is recorded at the start of a step, before arrivals (the first sample is the initial state).
Floating-point evaluation order in ``step`` is part of the contract: the compiled backends evaluate
the same expressions in the same order and reproduce the reference bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from snn.parameters import Param, ParameterSet, check_values
from snn.registry import Registry

FloatArray = NDArray[np.float64]
State = dict[str, NDArray[Any]]
SynapseType = Literal["current", "conductance", "voltage"]

#: ``last_spike`` of a neuron that has not spiked yet (far enough back to never be refractory)
NEVER = -(2**40)

NEURON_MODELS: Registry[type[NeuronModel]] = Registry("neuron model")


class NeuronModel(ParameterSet):
    """Base of all neuron models and spike sources."""

    is_source: ClassVar[bool] = False
    #: what a synaptic weight onto this model means: a current jump (A) or a conductance jump (S)
    synapse_type: ClassVar[SynapseType | None] = None
    #: recordable state variables and their SI units
    state_variables: ClassVar[dict[str, str]] = {}

    #: executed by the layer-synchronous deep-network path (:mod:`snn.deep`), not by the
    #: clock-driven backends
    deep_only: ClassVar[bool] = False

    @property
    def options(self) -> dict[str, Any]:
        """Non-numeric settings (JSON-serialisable), passed back to the constructor on load."""
        return {}

    def initial_state(self, params: dict[str, FloatArray], size: int) -> dict[str, FloatArray]:
        """Default initial values of the state variables (users may override any of them)."""
        return {}

    def lower(self, params: dict[str, FloatArray], dt: float) -> dict[str, NDArray[Any]]:
        raise NotImplementedError

    @staticmethod
    def step(
        state: State,
        consts: dict[str, NDArray[Any]],
        step: int,
        in_exc: FloatArray,
        in_inh: FloatArray,
        uniforms: FloatArray | None,
    ) -> tuple[State, NDArray[np.bool_]]:
        raise NotImplementedError


def refractory_steps(tau_refrac: FloatArray, dt: float) -> NDArray[np.int64]:
    """Number of steps R for which a neuron stays silent after a spike (Brian2's rule)."""
    return np.rint(tau_refrac / dt).astype(np.int64)


def exp_coupling(tau_syn: FloatArray, tau_m: FloatArray, r_m: FloatArray, dt: float) -> FloatArray:
    """Voltage after ``dt`` caused by a unit exponential current, exactly integrated.

    For ``tau_m dv/dt = -v + R I(t)`` with ``I(t) = exp(-t / tau_syn)`` and ``v(0) = 0``::

        v(dt) = R tau_syn / (tau_syn - tau_m) (exp(-dt/tau_syn) - exp(-dt/tau_m))
              = R (dt/tau_m) exp(-dt/tau_m) expm1(x) / x,   x = dt (1/tau_m - 1/tau_syn)

    The second form has no singularity at ``tau_syn == tau_m`` (its limit is ``x -> 0``).
    """
    x = dt * (1.0 / tau_m - 1.0 / tau_syn)
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = np.where(np.abs(x) < 1e-12, 1.0, np.expm1(x) / np.where(x == 0, 1.0, x))
    return r_m * (dt / tau_m) * np.exp(-dt / tau_m) * phi


_LIF_PARAMETERS: dict[str, Param] = {
    "tau_m": Param(20e-3, "s", "membrane time constant", "positive"),
    "cm": Param(1e-9, "F", "membrane capacitance", "positive"),
    "v_rest": Param(-65e-3, "V", "resting potential"),
    "v_reset": Param(-65e-3, "V", "reset potential after a spike"),
    "v_thresh": Param(-50e-3, "V", "spike threshold"),
    "tau_refrac": Param(0.1e-3, "s", "refractory period", "nonnegative"),
    "tau_syn_E": Param(5e-3, "s", "excitatory synaptic time constant", "positive"),
    "tau_syn_I": Param(5e-3, "s", "inhibitory synaptic time constant", "positive"),
    "i_offset": Param(0.0, "A", "constant injected current"),
}


@NEURON_MODELS.register("IF_curr_exp")
class IF_curr_exp(NeuronModel):
    r"""Leaky integrate-and-fire neuron with exponential current synapses (PyNN ``IF_curr_exp``).

    .. math::

        \tau_m \frac{dv}{dt} = (v_{rest} - v) + R (I_E - I_I + i_{offset}),
        \qquad R = \tau_m / c_m,
        \qquad \frac{dI_X}{dt} = -\frac{I_X}{\tau_{syn,X}}

    Weights are current jumps in A (non-negative; the receptor gives the sign). The linear
    system is integrated exactly over each step (as NEST's ``iaf_psc_exp`` and Brian2's
    ``method='exact'``), so the only error is the clock: threshold crossings are detected at step
    ends. Parameters follow PyNN's names and defaults, in SI units.
    """

    name = "IF_curr_exp"
    synapse_type = "current"
    parameters = _LIF_PARAMETERS
    state_variables: ClassVar[dict[str, str]] = {"v": "V", "isyn_exc": "A", "isyn_inh": "A"}

    def initial_state(self, params: dict[str, FloatArray], size: int) -> dict[str, FloatArray]:
        return {
            "v": params["v_rest"].copy(),
            "isyn_exc": np.zeros(size),
            "isyn_inh": np.zeros(size),
        }

    def lower(self, params: dict[str, FloatArray], dt: float) -> dict[str, NDArray[Any]]:
        tau_m, r_m = params["tau_m"], params["tau_m"] / params["cm"]
        return {
            "v_inf": params["v_rest"] + r_m * params["i_offset"],
            "p_mm": np.exp(-dt / tau_m),
            "c_exc": exp_coupling(params["tau_syn_E"], tau_m, r_m, dt),
            "c_inh": -exp_coupling(params["tau_syn_I"], tau_m, r_m, dt),
            "p_exc": np.exp(-dt / params["tau_syn_E"]),
            "p_inh": np.exp(-dt / params["tau_syn_I"]),
            "v_thresh": params["v_thresh"].copy(),
            "v_reset": params["v_reset"].copy(),
            "refrac_steps": refractory_steps(params["tau_refrac"], dt),
        }

    @staticmethod
    def step(
        state: State,
        consts: dict[str, NDArray[Any]],
        step: int,
        in_exc: FloatArray,
        in_inh: FloatArray,
        uniforms: FloatArray | None,
    ) -> tuple[State, NDArray[np.bool_]]:
        c = consts
        i_exc = state["isyn_exc"] + in_exc
        i_inh = state["isyn_inh"] + in_inh
        refractory = (step - state["last_spike"]) < c["refrac_steps"]
        v_free = c["v_inf"] + (state["v"] - c["v_inf"]) * c["p_mm"]
        v_free = v_free + c["c_exc"] * i_exc
        v_free = v_free + c["c_inh"] * i_inh
        v = np.where(refractory, state["v"], v_free)
        spiked = (v > c["v_thresh"]) & ~refractory
        new_state = {
            "v": np.where(spiked, c["v_reset"], v),
            "isyn_exc": i_exc * c["p_exc"],
            "isyn_inh": i_inh * c["p_inh"],
            "last_spike": np.where(spiked, step, state["last_spike"]),
        }
        return new_state, spiked


@NEURON_MODELS.register("IF_cond_exp")
class IF_cond_exp(NeuronModel):
    r"""Leaky integrate-and-fire neuron with exponential conductance synapses (PyNN IF_cond_exp).

    .. math::

        c_m \frac{dv}{dt} = g_L (v_{rest} - v) + g_E (e_{rev,E} - v) + g_I (e_{rev,I} - v)
                            + i_{offset},
        \qquad g_L = c_m / \tau_m,
        \qquad \frac{dg_X}{dt} = -\frac{g_X}{\tau_{syn,X}}

    Weights are conductance jumps in S. Each step integrates ``v`` exactly with the conductances
    held at their start-of-step values (exponential Euler, Brian2's ``exponential_euler``), then
    the conductances decay exactly::

        g = g_L + g_E + g_I,  v_inf = (g_L v_rest + g_E e_E + g_I e_I + i_offset) / g
        v <- v_inf + (v - v_inf) exp(-dt g / c_m)
    """

    name = "IF_cond_exp"
    synapse_type = "conductance"
    parameters: ClassVar[dict[str, Param]] = {
        **_LIF_PARAMETERS,
        "e_rev_E": Param(0.0, "V", "excitatory reversal potential"),
        "e_rev_I": Param(-70e-3, "V", "inhibitory reversal potential"),
    }
    state_variables: ClassVar[dict[str, str]] = {"v": "V", "gsyn_exc": "S", "gsyn_inh": "S"}

    def initial_state(self, params: dict[str, FloatArray], size: int) -> dict[str, FloatArray]:
        return {
            "v": params["v_rest"].copy(),
            "gsyn_exc": np.zeros(size),
            "gsyn_inh": np.zeros(size),
        }

    def lower(self, params: dict[str, FloatArray], dt: float) -> dict[str, NDArray[Any]]:
        g_leak = params["cm"] / params["tau_m"]
        return {
            "g_leak": g_leak,
            "i_leak": g_leak * params["v_rest"] + params["i_offset"],
            "e_exc": params["e_rev_E"].copy(),
            "e_inh": params["e_rev_I"].copy(),
            "k_mem": -dt / params["cm"],
            "p_exc": np.exp(-dt / params["tau_syn_E"]),
            "p_inh": np.exp(-dt / params["tau_syn_I"]),
            "v_thresh": params["v_thresh"].copy(),
            "v_reset": params["v_reset"].copy(),
            "refrac_steps": refractory_steps(params["tau_refrac"], dt),
        }

    @staticmethod
    def step(
        state: State,
        consts: dict[str, NDArray[Any]],
        step: int,
        in_exc: FloatArray,
        in_inh: FloatArray,
        uniforms: FloatArray | None,
    ) -> tuple[State, NDArray[np.bool_]]:
        from snn.arith import exp_arith  # here: this change is local to IF_cond_exp.step

        c = consts
        g_exc = state["gsyn_exc"] + in_exc
        g_inh = state["gsyn_inh"] + in_inh
        refractory = (step - state["last_spike"]) < c["refrac_steps"]
        g_total = c["g_leak"] + g_exc + g_inh
        v_inf = (c["i_leak"] + g_exc * c["e_exc"] + g_inh * c["e_inh"]) / g_total
        # exp_arith, not np.exp: the same bits on every CPU and in the compiled backends
        v_free = v_inf + (state["v"] - v_inf) * exp_arith(c["k_mem"] * g_total)
        v = np.where(refractory, state["v"], v_free)
        spiked = (v > c["v_thresh"]) & ~refractory
        new_state = {
            "v": np.where(spiked, c["v_reset"], v),
            "gsyn_exc": g_exc * c["p_exc"],
            "gsyn_inh": g_inh * c["p_inh"],
            "last_spike": np.where(spiked, step, state["last_spike"]),
        }
        return new_state, spiked


@NEURON_MODELS.register("AdaptiveLIF")
class AdaptiveLIF(NeuronModel):
    r"""``IF_curr_exp`` with spike-frequency adaptation: an adaptation current and threshold.

    .. math::

        \tau_m \frac{dv}{dt} = (v_{rest} - v) + R (I_E - I_I + i_{offset} - w),
        \qquad \tau_w \frac{dw}{dt} = -w,
        \qquad \tau_\theta \frac{d\theta}{dt} = -\theta

    A spike emits when ``v > v_thresh + theta``; then ``v <- v_reset``, ``w <- w + b`` and
    ``theta <- theta + delta_theta``. Set ``b = 0`` for threshold adaptation only, or
    ``delta_theta = 0`` for current adaptation only (the spike-triggered adaptation current of
    Brette & Gerstner's AdEx with ``a = 0``, which keeps the sub-threshold system linear and
    exactly integrable: ``w`` enters ``v`` like an inhibitory synaptic current with ``tau_w``).
    """

    name = "AdaptiveLIF"
    synapse_type = "current"
    parameters: ClassVar[dict[str, Param]] = {
        **_LIF_PARAMETERS,
        "tau_w": Param(100e-3, "s", "adaptation current time constant", "positive"),
        "b": Param(0.05e-9, "A", "adaptation current increment per spike", "nonnegative"),
        "tau_theta": Param(100e-3, "s", "threshold adaptation time constant", "positive"),
        "delta_theta": Param(0.0, "V", "threshold increment per spike", "nonnegative"),
    }
    state_variables: ClassVar[dict[str, str]] = {
        "v": "V",
        "isyn_exc": "A",
        "isyn_inh": "A",
        "w": "A",
        "theta": "V",
    }

    def initial_state(self, params: dict[str, FloatArray], size: int) -> dict[str, FloatArray]:
        return {
            "v": params["v_rest"].copy(),
            "isyn_exc": np.zeros(size),
            "isyn_inh": np.zeros(size),
            "w": np.zeros(size),
            "theta": np.zeros(size),
        }

    def lower(self, params: dict[str, FloatArray], dt: float) -> dict[str, NDArray[Any]]:
        consts = IF_curr_exp.lower(self, params, dt)  # type: ignore[arg-type]
        tau_m, r_m = params["tau_m"], params["tau_m"] / params["cm"]
        consts.update(
            c_w=-exp_coupling(params["tau_w"], tau_m, r_m, dt),
            p_w=np.exp(-dt / params["tau_w"]),
            b=params["b"].copy(),
            p_theta=np.exp(-dt / params["tau_theta"]),
            delta_theta=params["delta_theta"].copy(),
        )
        return consts

    @staticmethod
    def step(
        state: State,
        consts: dict[str, NDArray[Any]],
        step: int,
        in_exc: FloatArray,
        in_inh: FloatArray,
        uniforms: FloatArray | None,
    ) -> tuple[State, NDArray[np.bool_]]:
        c = consts
        i_exc = state["isyn_exc"] + in_exc
        i_inh = state["isyn_inh"] + in_inh
        refractory = (step - state["last_spike"]) < c["refrac_steps"]
        v_free = c["v_inf"] + (state["v"] - c["v_inf"]) * c["p_mm"]
        v_free = v_free + c["c_exc"] * i_exc
        v_free = v_free + c["c_inh"] * i_inh
        v_free = v_free + c["c_w"] * state["w"]
        v = np.where(refractory, state["v"], v_free)
        theta = state["theta"] * c["p_theta"]
        spiked = (v > c["v_thresh"] + theta) & ~refractory
        new_state = {
            "v": np.where(spiked, c["v_reset"], v),
            "isyn_exc": i_exc * c["p_exc"],
            "isyn_inh": i_inh * c["p_inh"],
            "w": state["w"] * c["p_w"] + np.where(spiked, c["b"], 0.0),
            "theta": theta + np.where(spiked, c["delta_theta"], 0.0),
            "last_spike": np.where(spiked, step, state["last_spike"]),
        }
        return new_state, spiked


@NEURON_MODELS.register("SpikeSourcePoisson")
class SpikeSourcePoisson(NeuronModel):
    """Independent Poisson spike trains, at most one spike per step.

    Each step a neuron spikes with probability ``p = 1 - exp(-rate dt)`` while
    ``start <= t < start + duration``. Draws come from a generator seeded per population and run
    (one uniform per neuron and step, drawn whether or not the source is active), so every
    backend sees the same spikes for the same seed.
    """

    name = "SpikeSourcePoisson"
    is_source = True
    parameters: ClassVar[dict[str, Param]] = {
        "rate": Param(1.0, "Hz", "firing rate", "nonnegative"),
        "start": Param(0.0, "s", "start of firing", "nonnegative"),
        "duration": Param(math.inf, "s", "duration of firing", "nonnegative_or_inf"),
    }

    def lower(self, params: dict[str, FloatArray], dt: float) -> dict[str, NDArray[Any]]:
        start = np.rint(params["start"] / dt)
        stop = np.where(
            np.isinf(params["duration"]),
            2.0**62,
            np.rint((params["start"] + np.minimum(params["duration"], 1e12)) / dt),
        )
        return {
            "p_spike": -np.expm1(-params["rate"] * dt),
            "start_step": start.astype(np.int64),
            "stop_step": np.minimum(stop, 2.0**62).astype(np.int64),
        }

    @staticmethod
    def step(
        state: State,
        consts: dict[str, NDArray[Any]],
        step: int,
        in_exc: FloatArray,
        in_inh: FloatArray,
        uniforms: FloatArray | None,
    ) -> tuple[State, NDArray[np.bool_]]:
        if uniforms is None:
            raise ValueError("SpikeSourcePoisson.step needs this step's uniform draws")
        active = (consts["start_step"] <= step) & (step < consts["stop_step"])
        return state, (uniforms < consts["p_spike"]) & active


@NEURON_MODELS.register("SpikeSourceArray")
class SpikeSourceArray(NeuronModel):
    """Spikes at given times: one sequence of times (s) per neuron, or one shared by all.

    Times are rounded to the nearest step; two spikes of one neuron in the same step, negative
    or non-finite times are errors.
    """

    name = "SpikeSourceArray"
    is_source = True
    parameters: ClassVar[dict[str, Param]] = {}

    def __init__(self, spike_times: ArrayLike | Sequence[ArrayLike] = (), **unknown: Any) -> None:
        if unknown:
            raise ValueError(
                f"SpikeSourceArray: unknown parameter(s) {', '.join(sorted(unknown))}; "
                "valid names: spike_times"
            )
        super().__init__()
        trains = _as_trains(spike_times)
        object.__setattr__(self, "_trains", trains)

    @property
    def spike_times(self) -> list[FloatArray]:
        return list(self._trains)

    def trains_for(self, size: int) -> list[FloatArray]:
        """One array of spike times per neuron (a single shared train is repeated)."""
        trains: list[FloatArray] = self._trains
        if len(trains) == 1 and size != 1:
            return [trains[0]] * size
        if len(trains) != size:
            raise ValueError(
                f"SpikeSourceArray has {len(trains)} spike trains for a population of {size}; "
                f"give one train per neuron or a single train shared by all"
            )
        return trains

    def lower(self, params: dict[str, FloatArray], dt: float) -> dict[str, NDArray[Any]]:
        raise NotImplementedError("SpikeSourceArray is lowered with lower_trains(trains, dt)")

    @staticmethod
    def lower_trains(trains: list[FloatArray], dt: float) -> dict[str, NDArray[Any]]:
        """Spike steps sorted by (step, neuron) as two parallel arrays."""
        steps_list, ids_list = [], []
        for i, times in enumerate(trains):
            steps = np.rint(times / dt).astype(np.int64)
            uniq, counts = np.unique(steps, return_counts=True)
            if (counts > 1).any():
                s = int(uniq[counts > 1][0])
                raise ValueError(
                    f"SpikeSourceArray neuron {i}: more than one spike time falls in step {s} "
                    f"(t = {s * dt:g} s, dt = {dt:g} s); at most one spike per step is possible"
                )
            steps_list.append(uniq)
            ids_list.append(np.full(uniq.size, i, dtype=np.int64))
        steps_all = np.concatenate(steps_list) if steps_list else np.zeros(0, np.int64)
        ids_all = np.concatenate(ids_list) if ids_list else np.zeros(0, np.int64)
        order = np.lexsort((ids_all, steps_all))
        return {
            "spike_steps": steps_all[order],
            "spike_ids": ids_all[order],
            "size": np.array([len(trains)], dtype=np.int64),
        }

    @staticmethod
    def step(
        state: State,
        consts: dict[str, NDArray[Any]],
        step: int,
        in_exc: FloatArray,
        in_inh: FloatArray,
        uniforms: FloatArray | None,
    ) -> tuple[State, NDArray[np.bool_]]:
        steps = consts["spike_steps"]
        lo, hi = np.searchsorted(steps, [step, step + 1])
        spiked = np.zeros(consts["size"][0], dtype=bool)
        spiked[consts["spike_ids"][lo:hi]] = True
        return state, spiked

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpikeSourceArray):
            return NotImplemented
        return len(self._trains) == len(other._trains) and all(
            np.array_equal(a, b) for a, b in zip(self._trains, other._trains, strict=True)
        )

    def __repr__(self) -> str:
        return f"SpikeSourceArray({len(self._trains)} trains)"


def _as_trains(spike_times: ArrayLike | Sequence[ArrayLike]) -> list[FloatArray]:
    """Normalise spike times to a list of sorted 1-D float arrays, validating values."""
    if isinstance(spike_times, np.ndarray) and spike_times.ndim <= 1:
        raw: list[Any] = [spike_times]
    elif isinstance(spike_times, Sequence) and all(np.ndim(x) == 0 for x in spike_times):
        raw = [np.asarray(spike_times, dtype=np.float64)]
    else:
        raw = list(spike_times)  # type: ignore[arg-type]
    trains = []
    for i, t in enumerate(raw):
        arr = np.sort(np.asarray(t, dtype=np.float64).reshape(-1))
        check_values("SpikeSourceArray", f"spike_times[{i}]", arr, "nonnegative")
        arr.setflags(write=False)
        trains.append(arr)
    return trains


#: PyNN-style short alias
LIF = IF_curr_exp

#: reset rules of :class:`DeltaLIF`
RESETS = ("subtract", "zero")


@NEURON_MODELS.register("DeltaLIF")
class DeltaLIF(NeuronModel):
    r"""Leaky integrate-and-fire neuron with instantaneous (delta) synapses, for deep SNNs.

    The discrete-time LIF of surrogate-gradient training (snnTorch ``Leaky``, Norse's
    ``LIFBoxCell``, Cordone et al. 2021), in SI units. Per step ``m``:

    .. math::

        v_m = \beta\, v_{m-1} + I_m + v_{bias}, \qquad \beta = e^{-dt/\tau_m}, \qquad
        s_m = [\,v_m > v_{thresh}\,]

    then the reset: ``"subtract"`` (soft reset, :math:`v_m \leftarrow v_m - s_m v_{thresh}`) or
    ``"zero"`` (:math:`v_m \leftarrow (1 - s_m) v_m`). :math:`I_m` is the weighted sum of the
    presynaptic outputs of step ``m - 1`` (weights are signed voltage jumps in V; every
    projection onto a deep network has a delay of one step). ``learn`` names the parameters a
    torch lowering trains (any of ``tau_m``, ``v_thresh``, ``v_bias``); it is part of the model
    description so that training and export agree on it.
    """

    name = "DeltaLIF"
    synapse_type = "voltage"
    deep_only = True
    parameters: ClassVar[dict[str, Param]] = {
        "tau_m": Param(20e-3, "s", "membrane time constant", "positive"),
        "v_thresh": Param(1.0, "V", "spike threshold (above the resting potential 0)", "positive"),
        "v_bias": Param(0.0, "V", "constant input added every step"),
    }
    state_variables: ClassVar[dict[str, str]] = {"v": "V"}
    learnable: ClassVar[tuple[str, ...]] = ("tau_m", "v_thresh", "v_bias")

    def __init__(
        self, reset: str = "subtract", learn: Sequence[str] = ("v_bias",), **values: Any
    ) -> None:
        super().__init__(**values)
        if reset not in RESETS:
            raise ValueError(
                f"{type(self).__name__}: unknown reset {reset!r}; "
                f"valid choices: {', '.join(RESETS)}"
            )
        if isinstance(learn, str):
            learn = (learn,)
        learn_t = tuple(learn)
        bad = [x for x in learn_t if x not in self.learnable]
        if bad:
            raise ValueError(
                f"{type(self).__name__}: cannot learn {', '.join(map(repr, bad))}; "
                f"learnable parameters: {', '.join(self.learnable)}"
            )
        object.__setattr__(self, "reset", reset)
        object.__setattr__(self, "learn", learn_t)

    @property
    def options(self) -> dict[str, Any]:
        return {"reset": self.reset, "learn": list(self.learn)}

    def replace(self, **values: Any) -> DeltaLIF:
        return type(self)(reset=self.reset, learn=self.learn, **{**self._values, **values})

    def initial_state(self, params: dict[str, FloatArray], size: int) -> dict[str, FloatArray]:
        return {"v": np.zeros(size)}

    def lower(self, params: dict[str, FloatArray], dt: float) -> dict[str, NDArray[Any]]:
        return {
            "beta": np.exp(-dt / params["tau_m"]),
            "v_thresh": params["v_thresh"].copy(),
            "v_bias": params["v_bias"].copy(),
        }

    def __eq__(self, other: object) -> bool:
        result = super().__eq__(other)
        if result is not True:
            return result
        return self.options == other.options  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, reset={self.reset!r}, learn={self.learn!r})"


@NEURON_MODELS.register("LeakyIntegrator")
class LeakyIntegrator(DeltaLIF):
    r"""A non-spiking :class:`DeltaLIF` readout: :math:`v_m = \beta v_{m-1} + I_m + v_{bias}`.

    A deep network's prediction is the class whose readout membrane potential, averaged over
    the run's steps, is largest.
    """

    name = "LeakyIntegrator"
    parameters: ClassVar[dict[str, Param]] = {
        "tau_m": Param(20e-3, "s", "membrane time constant", "positive"),
        "v_bias": Param(0.0, "V", "constant input added every step"),
    }
    learnable: ClassVar[tuple[str, ...]] = ("tau_m", "v_bias")

    def lower(self, params: dict[str, FloatArray], dt: float) -> dict[str, NDArray[Any]]:
        return {
            "beta": np.exp(-dt / params["tau_m"]),
            "v_thresh": np.full(params["tau_m"].shape, np.inf),
            "v_bias": params["v_bias"].copy(),
        }


@NEURON_MODELS.register("FrameInput")
class FrameInput(NeuronModel):
    """The input layer of a deep network: graded values given per step when it runs.

    Its output at step ``m`` is frame ``m`` of the input (event counts or signed polarities per
    pixel, shape ``(T, *population.shape)``; zero after the last frame), which its projections
    weight like spikes.
    """

    name = "FrameInput"
    is_source = True
    deep_only = True
    parameters: ClassVar[dict[str, Param]] = {}

    def lower(self, params: dict[str, FloatArray], dt: float) -> dict[str, NDArray[Any]]:
        return {}
