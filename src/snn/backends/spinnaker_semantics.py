r"""SpiNNaker semantics: sPyNNaker's discrete update rules as pure NumPy step functions.

A network built with ``snn.Network(dt, semantics="spinnaker")`` is simulated with the rules that
sPyNNaker (the PyNN implementation for SpiNNaker, versions 6 and 7) applies on the board, so that
the same inputs give the same spikes as the hardware, millisecond for millisecond. The rules were
read from sPyNNaker's C sources (``neural_modelling/src/neuron/...``, cited per rule below) and
checked against the spikes Casanueva-Morato et al. recorded on a SpiNNaker board for their CA3
memory (``conformance/ca3_cam_spinnaker``; ``tests/test_ca3_conformance.py``).

Supported: ``IF_curr_exp`` neurons, ``SpikeSourceArray`` and ``SpikeSourcePoisson`` sources, static
synapses and pair STDP with additive weight dependence. Anything else (``IF_cond_exp``,
``AdaptiveLIF``, multiplicative STDP) is refused by :func:`check_supported` with a ``ValueError``.

One time step ``m`` (time ``t = m dt``; sPyNNaker's ``time`` counter equals ``m``):

1. **arrivals** (``synapse_types_exponential_impl.h``, ``synapse_types_add_neuron_input``): the
   weights that arrive at step ``m`` (spikes emitted at step ``m - delay``; the ring buffer slot
   ``time + delay`` written when the spike was processed) are added to the synaptic current, each
   scaled by ``init = tau_syn / dt (1 - exp(-dt / tau_syn))``;
2. **membrane** (``neuron_model_lif_impl.h``, ``neuron_model_state_update`` and
   ``lif_neuron_closed_form``): if the refractory timer is ``<= 0``, the membrane follows the
   closed form with the summed current held over the step::

       alpha = (I_exc - I_inh + i_offset) R + v_rest,     R = tau_m / c_m
       v     = alpha - exp(-dt / tau_m) (alpha - v)

   otherwise ``v`` is held and the timer counts down by one;
3. **threshold** (``threshold_type_static.h``): ``v >= v_thresh`` (not strict) emits a spike at
   step ``m``; then ``v = v_reset`` and the timer is set to ``ceil(tau_refrac / dt)``
   (``neuron_model_has_spiked``; ``T_refract = lif_ceil_accum(T_refract_ms / ts)``), so with
   ``tau_refrac = dt`` the step after a spike is silent;
4. **synaptic decay** (``synapse_types_shape_input``): ``I <- I exp(-dt / tau_syn)``;
5. **post-synaptic events** (``synapse_dynamics_process_post_synaptic_event``): each neuron that
   spiked appends ``(m, trace)`` to its post-spike history, a buffer of
   ``MAX_POST_SYNAPTIC_EVENTS = 16`` entries whose first entry is a placeholder at time 0
   (``post_events.h``: when full, the oldest real entry is dropped);
6. **pre-synaptic spikes** of step ``m`` are processed: a static synapse adds its weight to the
   slot ``m + delay``; a plastic synapse is first updated lazily (:func:`stdp_pre_spike_update`)
   and then adds its *updated* weight to that slot.

STDP (``synapse_dynamics_stdp_mad_impl.c`` ``plasticity_update_synapse``,
``timing_pair_impl.h``, ``weight_additive_one_term_impl.h``, ``post_events.h``). A synapse's weight
changes only when its presynaptic neuron spikes. With ``d`` the synapse's delay, all of it
dendritic (``delay_axonal`` is always 0 and ``backprop_delay`` is on, sPyNNaker's default), the
update for a pre spike at time ``t`` whose previous pre spike was at ``t_last`` is:

* **potentiation** by every post spike of the history with ``t_last - d < t_post <= t - d``, in
  time order, each by ``A_+ r`` with ``r = last_pre_trace * lut_+[t_post + d - t_last]`` (only when
  that lag is ``> 0``) and the weight clamped to ``w_max`` after each term;
* **depression** by the latest post spike with ``t_post <= t - d`` (when there is one that is not
  the placeholder) by ``A_- o`` with ``o = post_trace(t_post) * lut_-[t - (t_post + d)]``, then
  clamped to ``w_min``. **There is no ``lag > 0`` test here**: a post spike exactly ``d`` steps
  before the pre spike depresses with its full trace (``lut_-[0] = 1``). This rule (present in the
  ``int16_lut`` versions of ``timing_pair_impl.h``, sPyNNaker 6/7; older versions skipped lag 0)
  is what reproduces the hardware's forgetting after an overwrite: the old content, recalled by
  the cue's first spike of the learn, is wiped at the cue's next spike 2 ms later (lag 0 after
  the 1 ms delay), and likewise the old content's links back to the cue;
* the weight delivered for the spike is the updated one; potentiation terms are non-negative,
  so clamping after each equals ``min(w + sum, w_max)``;
* traces are all-to-all: ``trace <- trace * lut[dt_steps] + 1`` at each spike;
* additive weight dependence: ``A_+`` and ``A_-`` are in weight units and are **not** multiplied
  by ``w_max`` (sPyNNaker 7 ``weight_dependence_additive.py`` writes ``A_plus *
  global_weight_scale``; sPyNNaker <= 5 pre-multiplied by ``w_max``).

Fixed point. Traces and decays are computed as on the board: ``lut[k] = floor(2048 exp(-k dt /
tau))`` for ``k < L``, ``L = ln(2048) tau / dt`` rounded up to an even integer, and 0 beyond
(``common.py`` ``get_exp_lut_array``), products ``(a b) >> 11`` (``STDP_FIXED_MUL_16X16``) and
16-bit trace storage. Membrane, currents and weights are float64 here, where the board uses s16.15
``accum`` values and 16-bit ring-buffer weights; this only matters for inputs that land within about
``2^-15`` of the threshold, and no row of the recorded tables depends on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from snn.compiled import CompiledNetwork, CompiledSTDP

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
State = dict[str, NDArray[Any]]

#: fractional bits of sPyNNaker's STDP fixed-point numbers (``stdp_typedefs.h``)
STDP_FIXED_POINT = 11
#: 1.0 in that format
STDP_FIXED_POINT_ONE = 1 << STDP_FIXED_POINT
#: length of each neuron's post-spike history, placeholder included (``post_events.h``)
MAX_POST_SYNAPTIC_EVENTS = 16

#: neuron models this mode implements (sources are handled by their own ``step``)
SUPPORTED_NEURON_MODELS = ("IF_curr_exp", "SpikeSourceArray", "SpikeSourcePoisson")


def check_supported(compiled: CompiledNetwork) -> None:
    """Raise ``ValueError`` naming the first feature the SpiNNaker semantics do not implement."""
    for pop in compiled.populations:
        if pop.model.name not in SUPPORTED_NEURON_MODELS:
            raise ValueError(
                f"the 'spinnaker' semantics do not implement neuron model {pop.model.name!r} "
                f"(population {pop.label!r}); supported: {', '.join(SUPPORTED_NEURON_MODELS)}. "
                "Use semantics='exact' for this network"
            )
    for proj in compiled.projections:
        if proj.stdp is not None and (proj.stdp.multiplicative or proj.stdp.vogels):
            kind = "multiplicative STDP" if proj.stdp.multiplicative else "InhibitorySTDP"
            raise ValueError(
                f"the 'spinnaker' semantics do not implement {kind} (projection "
                f"{proj.label!r}); supported: STDP(weight_dependence='additive'). "
                f"Use semantics='exact' for {kind}"
            )


# -- fixed-point helpers -------------------------------------------------------------------------
def exp_decay_lut(tau: float, dt: float) -> IntArray:
    """sPyNNaker's STDP decay table ``floor(2048 exp(-k dt / tau))`` (``get_exp_lut_array``).

    Its length is ``ln(2048) tau / dt`` rounded up to an even number; lags beyond it decay to 0.
    """
    ratio = dt / tau
    size_f = math.log(STDP_FIXED_POINT_ONE) / ratio
    half, extra = divmod(size_f, 2.0)
    size = (int(half) + (1 if extra > 0 else 0)) * 2
    values = np.floor(np.exp(-np.arange(size, dtype=np.float64) * ratio) * STDP_FIXED_POINT_ONE)
    return values.astype(np.int64)


def lut_decay(lut: IntArray, lags: IntArray) -> IntArray:
    """``lut[lag]`` for non-negative lags, 0 beyond the table (``maths_lut_exponential_decay``)."""
    lags = np.asarray(lags, dtype=np.int64)
    inside = (lags >= 0) & (lags < lut.size)
    return np.where(inside, lut[np.clip(lags, 0, lut.size - 1)], 0)


def fixed_mul(a: IntArray, b: IntArray) -> IntArray:
    """Product of two STDP fixed-point numbers, ``(a b) >> 11`` (``STDP_FIXED_MUL_16X16``)."""
    return (np.asarray(a, dtype=np.int64) * np.asarray(b, dtype=np.int64)) >> STDP_FIXED_POINT


def as_int16(values: IntArray) -> IntArray:
    """Wrap to the 16-bit trace storage (``pre_trace_t``/``post_trace_t`` are ``int16_t``)."""
    return ((np.asarray(values, dtype=np.int64) + 32768) % 65536) - 32768


def add_spike_to_trace(
    time: int, last_time: IntArray, last_trace: IntArray, lut: IntArray
) -> IntArray:
    """Trace after a spike at ``time``: ``last_trace lut[time - last_time] + 1`` (fixed point).

    ``timing_add_pre_spike`` / ``timing_add_post_spike`` of ``timing_pair_impl.h``.
    """
    decayed = fixed_mul(last_trace, lut_decay(lut, time - np.asarray(last_time, dtype=np.int64)))
    return as_int16(decayed + STDP_FIXED_POINT_ONE)


# -- IF_curr_exp ---------------------------------------------------------------------------------
def lower_if_curr_exp(params: Mapping[str, FloatArray], dt: float) -> dict[str, NDArray[Any]]:
    """Per-neuron constants of one step of ``IF_curr_exp`` under the SpiNNaker semantics (SI).

    ``init_*`` is the synaptic input scaling ``tau_syn / dt (1 - exp(-dt / tau_syn))``,
    ``decay_*`` the synaptic decay ``exp(-dt / tau_syn)``, ``exp_tc = exp(-dt / tau_m)`` and
    ``refrac_steps = ceil(tau_refrac / dt)``.
    """
    tau_e, tau_i = params["tau_syn_E"], params["tau_syn_I"]
    ratio = params["tau_refrac"] / dt
    # ceil, tolerant of the float error of e.g. 0.3e-3 / 0.1e-3 = 2.9999999999999996
    refrac = np.ceil(ratio - 1e-9 * np.maximum(1.0, ratio)).astype(np.int64)
    return {
        "v_rest": np.asarray(params["v_rest"], dtype=np.float64).copy(),
        "r_m": params["tau_m"] / params["cm"],
        "exp_tc": np.exp(-dt / params["tau_m"]),
        "i_offset": np.asarray(params["i_offset"], dtype=np.float64).copy(),
        "v_thresh": np.asarray(params["v_thresh"], dtype=np.float64).copy(),
        "v_reset": np.asarray(params["v_reset"], dtype=np.float64).copy(),
        "refrac_steps": np.maximum(refrac, 0),
        "init_exc": tau_e / dt * -np.expm1(-dt / tau_e),
        "init_inh": tau_i / dt * -np.expm1(-dt / tau_i),
        "decay_exc": np.exp(-dt / tau_e),
        "decay_inh": np.exp(-dt / tau_i),
    }


def if_curr_exp_initial_state(initial: Mapping[str, NDArray[Any]], size: int) -> State:
    """State of an ``IF_curr_exp`` population: ``v`` (V), currents (A), refractory timer (steps)."""
    return {
        "v": np.array(initial["v"], dtype=np.float64),
        "isyn_exc": np.array(initial["isyn_exc"], dtype=np.float64),
        "isyn_inh": np.array(initial["isyn_inh"], dtype=np.float64),
        "refract_timer": np.zeros(size, dtype=np.int64),
    }


def if_curr_exp_step(
    state: State, consts: Mapping[str, NDArray[Any]], in_exc: FloatArray, in_inh: FloatArray
) -> tuple[State, NDArray[np.bool_]]:
    """One SpiNNaker step of ``IF_curr_exp`` (steps 1-4 of the module docstring).

    ``in_exc``/``in_inh`` are the summed weights (A) arriving at this step. Returns the new state
    and the neurons that spiked.
    """
    c = consts
    i_exc = state["isyn_exc"] + in_exc * c["init_exc"]
    i_inh = state["isyn_inh"] + in_inh * c["init_inh"]
    timer = state["refract_timer"]
    free = timer <= 0
    alpha = (i_exc - i_inh + c["i_offset"]) * c["r_m"] + c["v_rest"]
    v = np.where(free, alpha - c["exp_tc"] * (alpha - state["v"]), state["v"])
    timer = np.where(free, timer, timer - 1)
    spiked = v >= c["v_thresh"]
    new_state = {
        "v": np.where(spiked, c["v_reset"], v),
        "isyn_exc": i_exc * c["decay_exc"],
        "isyn_inh": i_inh * c["decay_inh"],
        "refract_timer": np.where(spiked, c["refrac_steps"], timer),
    }
    return new_state, spiked


# -- STDP ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpinnakerSTDP:
    """Pair STDP with additive weight dependence as sPyNNaker applies it (weights in A)."""

    A_plus: float
    A_minus: float
    w_min: float
    w_max: float
    lut_plus: IntArray
    lut_minus: IntArray
    #: depress also when the last post spike is exactly one delay before the pre spike (lag 0),
    #: as sPyNNaker 6/7 do; False gives the ``time_since_last_post > 0`` test of older versions,
    #: which misses the hardware's content-to-cue forgetting (kept for that comparison)
    depress_at_zero_lag: bool = True

    @classmethod
    def lower(cls, rule: CompiledSTDP, dt: float) -> SpinnakerSTDP:
        if rule.multiplicative or rule.vogels:
            raise ValueError(
                "the 'spinnaker' semantics do not implement multiplicative STDP or "
                "InhibitorySTDP; supported: STDP(weight_dependence='additive')"
            )
        return cls(
            A_plus=rule.A_plus,
            A_minus=rule.A_minus,
            w_min=rule.w_min,
            w_max=rule.w_max,
            lut_plus=exp_decay_lut(rule.tau_plus, dt),
            lut_minus=exp_decay_lut(rule.tau_minus, dt),
        )


class PostHistory(NamedTuple):
    """Post-spike histories of a population: ``times``/``traces`` (n, 16), ``n_events`` (n,).

    Entry 0 is the placeholder at time 0 with trace 0 (``post_events_init_buffers``);
    ``n_events`` is the number of used entries, placeholder included.
    """

    times: IntArray
    traces: IntArray
    n_events: IntArray

    @classmethod
    def empty(cls, size: int) -> PostHistory:
        shape = (size, MAX_POST_SYNAPTIC_EVENTS)
        return cls(
            np.zeros(shape, np.int64), np.zeros(shape, np.int64), np.ones(size, dtype=np.int64)
        )


def add_post_spikes(
    history: PostHistory, neurons: IntArray, time: int, lut_minus: IntArray
) -> PostHistory:
    """Append a post spike at ``time`` for ``neurons`` (``post_events_add``); returns a new history.

    The new trace decays the neuron's last stored trace and adds 1. A full buffer drops its oldest
    real entry (index 1) and keeps the placeholder.
    """
    times, traces, count = history.times.copy(), history.traces.copy(), history.n_events.copy()
    if neurons.size == 0:
        return PostHistory(times, traces, count)
    last = count[neurons] - 1
    new_trace = add_spike_to_trace(time, times[neurons, last], traces[neurons, last], lut_minus)
    full = count[neurons] >= MAX_POST_SYNAPTIC_EVENTS
    if full.any():
        f = neurons[full]
        times[f, 1:-1] = times[f, 2:]
        traces[f, 1:-1] = traces[f, 2:]
    slot = np.where(full, MAX_POST_SYNAPTIC_EVENTS - 1, count[neurons])
    times[neurons, slot] = time
    traces[neurons, slot] = new_trace
    count[neurons] = np.minimum(count[neurons] + 1, MAX_POST_SYNAPTIC_EVENTS)
    return PostHistory(times, traces, count)


def stdp_pre_spike_update(
    weights: FloatArray,
    post: IntArray,
    delays: IntArray,
    time: int,
    last_pre_time: IntArray,
    last_pre_trace: IntArray,
    history: PostHistory,
    rule: SpinnakerSTDP,
) -> FloatArray:
    """New weights of plastic synapses whose presynaptic neuron spikes at ``time``.

    One entry per synapse: its weight (A), post neuron, delay (steps, all dendritic) and the time
    and trace of the previous spike of its pre neuron (before this one; 0 and 0 if none).
    Implements ``plasticity_update_synapse`` (see the module docstring); the returned weight is
    the one delivered for this spike.
    """
    times = history.times[post]  # (k, 16)
    traces = history.traces[post]
    used = np.arange(MAX_POST_SYNAPTIC_EVENTS)[None, :] < history.n_events[post][:, None]
    real = used & (np.arange(MAX_POST_SYNAPTIC_EVENTS)[None, :] >= 1)
    d = delays[:, None]
    t_last = last_pre_time[:, None]
    begin = np.where(t_last >= d, t_last - d, 0)
    end = np.where(time >= d, time - d, 0)
    window = real & (times > begin) & (times <= end)

    # potentiation: each windowed post spike pairs with the previous pre spike's trace
    lag_plus = times + d - t_last
    pairs = window & (lag_plus > 0)
    r1 = fixed_mul(last_pre_trace[:, None], lut_decay(rule.lut_plus, np.where(pairs, lag_plus, 0)))
    potentiation = rule.A_plus * np.where(pairs, r1, 0).sum(axis=1) / STDP_FIXED_POINT_ONE
    w = np.where(pairs.any(axis=1), np.minimum(weights + potentiation, rule.w_max), weights)

    # depression by the latest post spike at or before time - d (its full trace at lag 0; a
    # negative lag, possible only before step d, wraps to a huge unsigned lag on the board: 0)
    before = used & (times <= end)
    prev = MAX_POST_SYNAPTIC_EVENTS - 1 - np.argmax(before[:, ::-1], axis=1)
    has_prev = before.any(axis=1) & (prev >= 1)
    rows = np.arange(post.size)
    lag_minus = time - (times[rows, prev] + delays)
    if not rule.depress_at_zero_lag:
        has_prev &= lag_minus > 0
    o1 = fixed_mul(traces[rows, prev], lut_decay(rule.lut_minus, lag_minus))
    depression = rule.A_minus * o1 / STDP_FIXED_POINT_ONE
    w = np.where(has_prev, np.maximum(w - depression, rule.w_min), w)
    return np.asarray(w, dtype=np.float64)
