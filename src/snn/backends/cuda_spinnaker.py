"""The ``spinnaker`` semantics on CUDA: sPyNNaker's discrete update rules in one persistent kernel.

:class:`snn.backends.cuda_backend.CudaSimulator` runs a network built with
``semantics="spinnaker"`` with the kernel of this module instead of its exact-semantics one
(with which it shares the device functions of samples, sources, arrivals, spike recording and
the overflow stop). The kernel evaluates the pure per-neuron and per-synapse functions
of :mod:`snn.backends.spinnaker_semantics` (rewritten here as scalar device functions, as the
Numba backend's ``_run_spinnaker`` does on the CPU) in the order of the NumPy reference's
``_SpinnakerSchedule.step``, so that spikes, state traces and plastic weights equal the
reference's bit for bit (float64 only: the semantics take no ``precision``).

Step ``m`` (``par = m % 2``), with the exact kernel's grid-stride ownership (the thread that owns
neuron ``j`` does everything of ``j`` in both phases) and one grid barrier:

A. **per neuron** ``j``: write the samples due at ``m`` (state, and the weights of ``j``'s
   incoming plastic synapses); a source spikes as in the exact kernel; an ``IF_curr_exp``
   neuron reads and clears its ring entries of slot ``m % L`` (densely: ``+0.0`` when nothing
   arrived, as the reference's array expression) and takes :func:`_if_curr_exp_step`
   (``if_curr_exp_step``); if it spiked, it appends ``(m, trace)`` to its post-spike history of
   every plastic projection onto it (:func:`_add_post_spike`, ``add_post_spikes``) and, as a
   presynaptic row of every plastic projection from it, saves the row's (time, trace) before
   this spike in the slot ``par`` of ``pre_before_*``, then advances them
   (:func:`_add_spike_to_trace`); sets its flag of parity ``par``; records the spike;
B. grid barrier; then **delivery by gather**: the thread owning target ``j`` walks ``j``'s
   incoming synapses of *all* projections in (projection declaration order, synapse order),
   the reference's order of additions into a ring entry; for each whose presynaptic flag of
   ``par`` is set, a static synapse adds its weight into ``ring[(m + d) % L]``, a plastic one
   is first updated by :func:`_stdp_pre_spike_update` (``stdp_pre_spike_update``: ``j``'s post
   history, the pre row's time and trace before this spike from ``pre_before_*[par]``) and
   adds the updated weight.

Why this is race-free with one barrier: every piece of state has one owner thread (neuron state,
ring entries and post histories: their neuron's; a synapse's weight: its target's) except the
pre rows' saved (time, trace) and the flags, which their owner writes in phase A of step ``m``
and other threads read in phase B of ``m``; they are double-buffered by the step's parity, so
phase A of ``m + 1`` (which may overlap phase B of ``m`` on other threads) writes the other
slot, and the next write of this slot (step ``m + 2``) comes after the barrier of ``m + 1``.

Arithmetic: the fixed-point parts are int64 as in NumPy (arithmetic ``>> 11``, Python's ``%``
for the int16 wrap; numba-cuda's signed ``%`` and ``>>`` have NumPy's semantics); every float64
product is ``_mul_exact`` (``libdevice.dmul_rn``, never fused into an FMA); ``np.minimum`` and
``np.maximum`` with the weight bounds are comparisons that keep a NaN weight, as NumPy's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numba import cuda
from numpy.typing import NDArray

from snn.backends import spinnaker_semantics as spinn
from snn.backends.cuda_backend import (
    C_REC,
    C_TOTAL,
    SLICE,
    _cat,
    _mul_exact,
    _record_spike,
    _sliced_ell,
    _stable_order,
    _stop_before_overflow,
    _take_arrivals,
    _write_state_samples,
    _write_weight_samples,
    source_step,
)
from snn.backends.numba_backend import POISSON, SPIKE_ARRAY, SPINNAKER_FLOAT_CONSTS
from snn.compiled import CompiledNetwork

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

#: rows of ``fconst`` for ``IF_curr_exp`` (``spinn.lower_if_curr_exp``; the Numba backend's order)
#: and of ``iconst`` (refractory steps)
FLOAT_CONSTS = SPINNAKER_FLOAT_CONSTS
INT_CONSTS = ("refrac_steps",)
V_REST, R_M, EXP_TC, I_OFFSET, V_THRESH, V_RESET, INIT_EXC, INIT_INH, DECAY_EXC, DECAY_INH = (
    FLOAT_CONSTS.index(name)
    for name in (
        "v_rest", "r_m", "exp_tc", "i_offset", "v_thresh", "v_reset",
        "init_exc", "init_inh", "decay_exc", "decay_inh",
    )
)  # fmt: skip

#: columns of the rule tables, one row per plastic projection ``q`` in declaration order:
#: ``rule_f[q]`` (float64) amplitudes and bounds (A); ``rule_i[q]`` (int64) the offsets and
#: lengths of its ``lut_plus``/``lut_minus`` in ``lut``, ``depress_at_zero_lag``, and the bases
#: of its pre rows (``pre_* [base + global pre neuron]``) and post histories
#: (``post_count[base + global post neuron]``, 16 entries each in ``post_times``/``post_traces``)
RULE_A_PLUS, RULE_A_MINUS, RULE_W_MIN, RULE_W_MAX, N_RULE_F = range(5)
RULE_LP_OFF, RULE_LP_LEN, RULE_LM_OFF, RULE_LM_LEN, RULE_ZERO_LAG = range(5)
RULE_PRE_BASE, RULE_POST_BASE, N_RULE_I = 5, 6, 7

# sPyNNaker's STDP fixed point, as module constants the kernel freezes
STDP_FIXED_POINT = spinn.STDP_FIXED_POINT
STDP_FIXED_POINT_ONE = spinn.STDP_FIXED_POINT_ONE
STDP_FIXED_POINT_ONE_F = float(spinn.STDP_FIXED_POINT_ONE)
MAX_POST_SYNAPTIC_EVENTS = spinn.MAX_POST_SYNAPTIC_EVENTS

#: the device arrays of the kernel, in the order of its parameters after the eight scalars
#: (``CudaSimulator`` passes them by these names)
KERNEL_ARRAYS = (
    "code", "column", "fconst", "iconst", "p_spike", "draw_col", "draws", "rng_states",
    "ssa_ptr", "ssa_end", "ssa_steps", "state", "refract_timer", "ring", "flags",
    "syn_ptr", "syn_count", "syn_pre", "syn_w", "syn_dr", "syn_rule",
    "rule_f", "rule_i", "lut",
    "pre_time", "pre_trace", "pre_before_time", "pre_before_trace", "pre_rule_ptr", "pre_rule",
    "post_times", "post_traces", "post_count", "post_rule_ptr", "post_rule",
    "rec_mask", "rec", "samp_ptr", "samp_channel", "samp_column", "channels", "samples",
    "counters", "wsamp_ptr", "wsamp_channel", "wsamp_column", "wsamp_syn",
)  # fmt: skip


# ------------------------------------------------------------------------------------------------
# device functions: snn.backends.spinnaker_semantics for one neuron or one synapse


@cuda.jit(device=True)
def _lut_decay(lut: Any, lut_off: Any, lut_len: Any, lag: Any) -> Any:
    """``spinn.lut_decay``: ``lut[lag]`` for ``0 <= lag < len``, else 0."""
    if lag >= 0 and lag < lut_len:
        return lut[lut_off + lag]
    return 0


@cuda.jit(device=True)
def _fixed_mul(a: Any, b: Any) -> Any:
    """``spinn.fixed_mul``: ``(a b) >> 11`` on int64 (an arithmetic shift, as NumPy's)."""
    return (a * b) >> STDP_FIXED_POINT


@cuda.jit(device=True)
def _add_spike_to_trace(
    time: Any, last_time: Any, last_trace: Any, lut: Any, lut_off: Any, lut_len: Any
) -> Any:
    """``spinn.add_spike_to_trace`` for one trace, wrapped to int16 as ``spinn.as_int16``."""
    decayed = _fixed_mul(last_trace, _lut_decay(lut, lut_off, lut_len, time - last_time))
    return ((decayed + STDP_FIXED_POINT_ONE + 32768) % 65536) - 32768


@cuda.jit(device=True)
def _if_curr_exp_step(
    state: Any, refract_timer: Any, j: Any, in_e: Any, in_i: Any, fconst: Any, iconst: Any, k: Any
) -> Any:
    """``spinn.if_curr_exp_step`` for neuron ``j`` (constants in column ``k``); returns whether
    it spiked.

    .. math::

        I \\leftarrow I + a\\,\\mathrm{init},\\quad
        \\alpha = (I_e - I_i + i_\\mathrm{offset}) R + v_\\mathrm{rest},\\quad
        v \\leftarrow \\alpha - e^{-dt/\\tau_m} (\\alpha - v)

    (or ``v`` held and the timer counted down while refractory), spike when
    ``v >= v_thresh``, reset, timer ``ceil(tau_refrac / dt)``, ``I <- I exp(-dt / tau_syn)``.
    """
    i_exc = state[1, j] + _mul_exact(in_e, fconst[INIT_EXC, k])
    i_inh = state[2, j] + _mul_exact(in_i, fconst[INIT_INH, k])
    timer = refract_timer[j]
    v = state[0, j]
    if timer <= 0:
        alpha = (
            _mul_exact((i_exc - i_inh) + fconst[I_OFFSET, k], fconst[R_M, k]) + fconst[V_REST, k]
        )
        v = alpha - _mul_exact(fconst[EXP_TC, k], alpha - v)
    else:
        timer = timer - 1
    spiked = v >= fconst[V_THRESH, k]
    state[0, j] = fconst[V_RESET, k] if spiked else v
    state[1, j] = _mul_exact(i_exc, fconst[DECAY_EXC, k])
    state[2, j] = _mul_exact(i_inh, fconst[DECAY_INH, k])
    refract_timer[j] = iconst[0, k] if spiked else timer
    return spiked


@cuda.jit(device=True)
def _add_post_spike(
    post_times: Any,
    post_traces: Any,
    post_count: Any,
    u: Any,
    time: Any,
    lut: Any,
    lut_off: Any,
    lut_len: Any,
) -> None:
    """``spinn.add_post_spikes`` for history ``u``: append ``(time, trace)``, the trace the last
    stored one decayed plus 1; a full buffer drops its oldest real entry (index 1) and keeps the
    placeholder (index 0)."""
    cap = MAX_POST_SYNAPTIC_EVENTS
    h = u * cap
    n_events = post_count[u]
    last = h + n_events - 1
    trace = _add_spike_to_trace(time, post_times[last], post_traces[last], lut, lut_off, lut_len)
    if n_events >= cap:
        for e in range(h + 1, h + cap - 1):
            post_times[e] = post_times[e + 1]
            post_traces[e] = post_traces[e + 1]
        entry = h + cap - 1
    else:
        entry = h + n_events
    post_times[entry] = time
    post_traces[entry] = trace
    post_count[u] = min(n_events + 1, cap)


@cuda.jit(device=True)
def _stdp_pre_spike_update(
    w: Any,
    u: Any,
    d: Any,
    time: Any,
    t_last: Any,
    last_trace: Any,
    post_times: Any,
    post_traces: Any,
    post_count: Any,
    rule_f: Any,
    rule_i: Any,
    lut: Any,
    q: Any,
) -> Any:
    """``spinn.stdp_pre_spike_update`` for one synapse (weight ``w`` in A, post history ``u``,
    delay ``d`` steps) whose pre neuron spikes at ``time``; its previous spike was at ``t_last``
    with trace ``last_trace``. Returns the new weight, the one delivered.

    Potentiation by the history's real entries in ``(t_last - d, time - d]`` with a positive lag
    to the previous pre spike (an integer sum, then ``min(w + A+ sum / 2048, w_max)``);
    depression by the latest entry at or before ``time - d`` (lag 0 included unless the rule
    says otherwise), ``max(w - A- o / 2048, w_min)``.
    """
    cap = MAX_POST_SYNAPTIC_EVENTS
    h = u * cap
    n_events = post_count[u]
    begin = t_last - d if t_last >= d else 0
    end = time - d if time >= d else 0
    lp_off, lp_len = rule_i[q, RULE_LP_OFF], rule_i[q, RULE_LP_LEN]
    total = 0
    paired = False
    for e in range(h + 1, h + n_events):
        t_post = post_times[e]
        if t_post > begin and t_post <= end:
            lag_plus = t_post + d - t_last
            if lag_plus > 0:
                paired = True
                total += _fixed_mul(last_trace, _lut_decay(lut, lp_off, lp_len, lag_plus))
    if paired:
        w_max = rule_f[q, RULE_W_MAX]
        w_new = w + _mul_exact(rule_f[q, RULE_A_PLUS], float(total)) / STDP_FIXED_POINT_ONE_F
        w = w_max if w_new > w_max else w_new
    prev = -1
    for e in range(n_events - 1, -1, -1):
        if post_times[h + e] <= end:
            prev = e
            break
    if prev >= 1:
        lag_minus = time - (post_times[h + prev] + d)
        if rule_i[q, RULE_ZERO_LAG] != 0 or lag_minus > 0:
            decay = _lut_decay(lut, rule_i[q, RULE_LM_OFF], rule_i[q, RULE_LM_LEN], lag_minus)
            o1 = _fixed_mul(post_traces[h + prev], decay)
            w_min = rule_f[q, RULE_W_MIN]
            w_new = w - _mul_exact(rule_f[q, RULE_A_MINUS], float(o1)) / STDP_FIXED_POINT_ONE_F
            w = w_min if w_new < w_min else w_new
    return w


# ------------------------------------------------------------------------------------------------
# the kernel


def _build_kernel(device_rng: bool) -> Any:
    """The persistent step kernel of the ``spinnaker`` semantics (module docstring), with
    Poisson uniforms read from the chunk's host draws or drawn from per-neuron device
    generators (``device_rng``: the exact kernel's ``poisson_rng="device"``)."""
    source = source_step(device_rng)

    @cuda.jit
    def run_spinnaker_steps(
        m_start: int,
        m_end: int,
        m0: int,
        n: int,
        ring_length: int,
        n_poisson: int,
        n_recorded: int,
        capacity: int,
        code: Any,  # (N,) model code of each neuron
        column: Any,  # (N,) its column in fconst / iconst
        fconst: Any,  # (N_FLOAT_CONSTS, columns): FLOAT_CONSTS for IF_curr_exp
        iconst: Any,  # (N_INT_CONSTS, columns): refrac_steps; Poisson: -, start, stop step
        p_spike: Any,  # (columns,) float64, Poisson
        draw_col: Any,  # (N,) column of a Poisson neuron in the chunk's draws
        draws: Any,  # (k * n_poisson,) float64 uniforms of the chunk (host RNG)
        rng_states: Any,  # (n_poisson,) xoroshiro128+ state of each Poisson neuron (device RNG)
        ssa_ptr: Any,  # (N,) next spike of a SpikeSourceArray neuron in ssa_steps
        ssa_end: Any,
        ssa_steps: Any,
        state: Any,  # (N_STATE_ROWS, N): v, isyn_exc, isyn_inh
        refract_timer: Any,  # (N,) int64 steps left
        ring: Any,  # (L * 2 * N,)
        flags: Any,  # (2 * N,) spiked at the latest step of that parity
        syn_ptr: Any,  # gather table of all synapses (sliced ELL): offset of each slice,
        syn_count: Any,  # (N,) in-degree; per entry the global pre neuron,
        syn_pre: Any,
        syn_w: Any,  # the weight (float64; updated for plastic synapses),
        syn_dr: Any,  # delay * 2 + receptor, and the rule row q (-1: static)
        syn_rule: Any,
        rule_f: Any,  # (Q, N_RULE_F) float64
        rule_i: Any,  # (Q, N_RULE_I) int64
        lut: Any,  # int64: every rule's lut_plus, then its lut_minus
        pre_time: Any,  # per (plastic projection, pre neuron): last spike step and trace,
        pre_trace: Any,
        pre_before_time: Any,  # and both before the latest spike of each parity (2 per row)
        pre_before_trace: Any,
        pre_rule_ptr: Any,  # (N + 1,) CSR over neurons: plastic projections from the neuron
        pre_rule: Any,
        post_times: Any,  # per (plastic projection, post neuron): 16-entry history,
        post_traces: Any,
        post_count: Any,  # and its used entries (placeholder included)
        post_rule_ptr: Any,  # (N + 1,) CSR over neurons: plastic projections onto the neuron
        post_rule: Any,
        rec_mask: Any,  # (N,) 1: spikes recorded
        rec: Any,  # (2 * capacity,) recorded (step, neuron) pairs
        samp_ptr: Any,  # (N + 1,) CSR over neurons: sample entries
        samp_channel: Any,
        samp_column: Any,
        channels: Any,  # (C, 5): state row, interval, first step, offset, width
        samples: Any,
        counters: Any,  # (N_COUNTERS,) int64
        wsamp_ptr: Any,  # (N + 1,) CSR over post neurons: weight sample entries
        wsamp_channel: Any,
        wsamp_column: Any,
        wsamp_syn: Any,  # position of the sampled synapse in the syn_* table
    ) -> None:
        grid = cuda.cg.this_grid()
        tid: int = cuda.grid(1)  # type: ignore[call-arg]
        stride = cuda.gridsize(1)
        total = 0  # recorded spikes written by this launch (the same in every thread)
        for m in range(m_start, m_end):
            slot = m % ring_length
            par = m % 2
            c3 = m % 3
            base = total
            # -- A: samples, populations, post histories, pre rows, spikes ---------------------
            for j in range(tid, n, stride):
                _write_state_samples(
                    samples, state, j, m, samp_ptr, samp_channel, samp_column, channels
                )
                _write_weight_samples(
                    samples, syn_w, j, m, wsamp_ptr, wsamp_channel, wsamp_column, wsamp_syn,
                    channels,
                )  # fmt: skip
                kind = code[j]
                k = column[j]
                if kind == POISSON or kind == SPIKE_ARRAY:
                    spiked = source(
                        kind, j, k, m, m0, n_poisson, p_spike, iconst, draw_col, draws,
                        rng_states, ssa_ptr, ssa_end, ssa_steps,
                    )  # fmt: skip
                else:  # IF_curr_exp (spinn.check_supported refused the others)
                    in_e, in_i = _take_arrivals(ring, slot, n, j)
                    spiked = _if_curr_exp_step(
                        state, refract_timer, j, in_e, in_i, fconst, iconst, k
                    )
                    if spiked:
                        for e in range(post_rule_ptr[j], post_rule_ptr[j + 1]):
                            r = post_rule[e]
                            _add_post_spike(
                                post_times,
                                post_traces,
                                post_count,
                                rule_i[r, RULE_POST_BASE] + j,
                                m,
                                lut,
                                rule_i[r, RULE_LM_OFF],
                                rule_i[r, RULE_LM_LEN],
                            )
                if spiked:
                    # j's rows of plastic projections: keep (time, trace) before this spike
                    # for this step's deliveries (slot par), then advance them
                    for e in range(pre_rule_ptr[j], pre_rule_ptr[j + 1]):
                        r = pre_rule[e]
                        row = rule_i[r, RULE_PRE_BASE] + j
                        t_last = pre_time[row]
                        last_trace = pre_trace[row]
                        pre_before_time[2 * row + par] = t_last
                        pre_before_trace[2 * row + par] = last_trace
                        pre_trace[row] = _add_spike_to_trace(
                            m,
                            t_last,
                            last_trace,
                            lut,
                            rule_i[r, RULE_LP_OFF],
                            rule_i[r, RULE_LP_LEN],
                        )
                        pre_time[row] = m
                flags[par * n + j] = 1 if spiked else 0
                if spiked and rec_mask[j]:
                    _record_spike(rec, counters, base, c3, m, j)
            grid.sync()
            # every thread reads the same final count of step m; the entry reset here was last
            # read before this barrier and is next written after the next one
            total += counters[C_REC + c3]
            if tid == 0:
                counters[C_REC + (m + 2) % 3] = 0
            # -- B: delivery of step m's spikes, gathered by target ----------------------------
            for j in range(tid, n, stride):
                first = syn_ptr[j // SLICE] + j % SLICE
                for q in range(syn_count[j]):
                    s = first + q * SLICE
                    pre = syn_pre[s]
                    if flags[par * n + pre]:
                        dr = syn_dr[s]
                        d = dr >> 1
                        w = syn_w[s]
                        r = syn_rule[s]
                        if r >= 0:
                            row = rule_i[r, RULE_PRE_BASE] + pre
                            w = _stdp_pre_spike_update(
                                w,
                                rule_i[r, RULE_POST_BASE] + j,
                                d,
                                m,
                                pre_before_time[2 * row + par],
                                pre_before_trace[2 * row + par],
                                post_times,
                                post_traces,
                                post_count,
                                rule_f,
                                rule_i,
                                lut,
                                r,
                            )
                            syn_w[s] = w
                        target = (((m + d) % ring_length) * 2 + (dr & 1)) * n + j
                        ring[target] = ring[target] + w
            if _stop_before_overflow(counters, tid, m, m_end, total, n_recorded, capacity):
                break
        if tid == 0:
            counters[C_TOTAL] = total

    return run_spinnaker_steps


_KERNELS: dict[bool, Any] = {}


def kernel(device_rng: bool) -> Any:
    """The (cached) kernel for host (``False``) or device (``True``) Poisson uniforms."""
    if device_rng not in _KERNELS:
        _KERNELS[device_rng] = _build_kernel(device_rng)
    return _KERNELS[device_rng]


# ------------------------------------------------------------------------------------------------
# host side


@dataclasses.dataclass(frozen=True)
class SynapseTables:
    """All synapses and the plastic state of a ``spinnaker`` network, as the kernel reads them.

    ``arrays`` holds the kernel's synapse, rule, pre-row and post-history arrays by their
    :data:`KERNEL_ARRAYS` names; ``weight_sites`` maps a plastic projection's index to the
    global post neuron and table position of each of its synapses (storage order), for its
    weight recorders.
    """

    arrays: dict[str, NDArray[Any]]
    weight_sites: dict[int, tuple[IntArray, IntArray]]


def lower_synapses(c: CompiledNetwork, pop_off: IntArray, n: int) -> SynapseTables:
    """One gather table of every synapse, each target's in (projection declaration order,
    synapse order), the reference's order of additions; the STDP rules lowered by
    ``spinn.SpinnakerSTDP.lower``, as the reference does, and their initial state (pre rows at
    time 0 with trace 0, histories holding their placeholder alone)."""
    projs, pops = c.projections, c.populations
    plastic = [pr for pr in projs if pr.stdp is not None]
    rule_of = {pr.index: q for q, pr in enumerate(plastic)}
    post = _cat([pr.post_idx + pop_off[pr.post] for pr in projs], np.int64)
    pre = _cat([pr.pre_idx + pop_off[pr.pre] for pr in projs], np.int32)
    dr = _cat([pr.delays * 2 + pr.receptor for pr in projs], np.int32)
    rule = _cat([np.full(pr.weights.size, rule_of.get(pr.index, -1)) for pr in projs], np.int32)
    weights = _cat([pr.weights for pr in projs], np.float64)
    order = _stable_order(post.astype(np.uint32))
    where, slice_offset, count, size = _sliced_ell(post[order], n)
    position = np.zeros(post.size, np.int64)
    position[order] = where
    tables = [np.zeros(size, a.dtype) for a in (pre, dr, rule, weights)]
    for table, values in zip(tables, (pre, dr, rule, weights), strict=True):
        table[where] = values[order]
    weight_sites: dict[int, tuple[IntArray, IntArray]] = {}
    start = 0
    for pr in projs:
        synapses = slice(start, start + pr.weights.size)
        if pr.stdp is not None:
            weight_sites[pr.index] = (post[synapses], position[synapses])
        start = synapses.stop

    rule_f = np.zeros((max(1, len(plastic)), N_RULE_F))
    rule_i = np.zeros((max(1, len(plastic)), N_RULE_I), np.int64)
    luts: list[IntArray] = []
    n_lut = n_pre = n_post = 0
    pre_rows: list[tuple[IntArray, int]] = []
    post_rows: list[tuple[IntArray, int]] = []
    for q, pr in enumerate(plastic):
        if pr.stdp is None:  # never: filtered above (narrows the type)
            continue
        stdp = spinn.SpinnakerSTDP.lower(pr.stdp, c.dt)
        lp, lm = stdp.lut_plus.size, stdp.lut_minus.size
        rule_f[q] = (stdp.A_plus, stdp.A_minus, stdp.w_min, stdp.w_max)
        rule_i[q] = (
            n_lut,
            lp,
            n_lut + lp,
            lm,
            int(stdp.depress_at_zero_lag),
            n_pre - int(pop_off[pr.pre]),
            n_post - int(pop_off[pr.post]),
        )
        luts += [stdp.lut_plus, stdp.lut_minus]
        n_lut += lp + lm
        pre_size, post_size = pops[pr.pre].size, pops[pr.post].size
        pre_rows.append((int(pop_off[pr.pre]) + np.arange(pre_size), q))
        post_rows.append((int(pop_off[pr.post]) + np.arange(post_size), q))
        n_pre += pre_size
        n_post += post_size
    pre_rule_ptr, pre_rule = _rules_per_neuron(pre_rows, n)
    post_rule_ptr, post_rule = _rules_per_neuron(post_rows, n)
    cap = MAX_POST_SYNAPTIC_EVENTS
    arrays: dict[str, NDArray[Any]] = {
        "syn_ptr": slice_offset,
        "syn_count": count,
        "syn_pre": tables[0],
        "syn_dr": tables[1],
        "syn_rule": tables[2],
        "syn_w": tables[3],
        "rule_f": rule_f,
        "rule_i": rule_i,
        "lut": _cat(luts, np.int64),
        "pre_time": np.zeros(n_pre, np.int64),
        "pre_trace": np.zeros(n_pre, np.int64),
        "pre_before_time": np.zeros(2 * n_pre, np.int64),
        "pre_before_trace": np.zeros(2 * n_pre, np.int64),
        "pre_rule_ptr": pre_rule_ptr,
        "pre_rule": pre_rule,
        "post_times": np.zeros(n_post * cap, np.int64),
        "post_traces": np.zeros(n_post * cap, np.int64),
        "post_count": np.ones(n_post, np.int64),
        "post_rule_ptr": post_rule_ptr,
        "post_rule": post_rule,
    }
    return SynapseTables(arrays, weight_sites)


def _rules_per_neuron(
    rows: list[tuple[IntArray, int]], n: int
) -> tuple[IntArray, NDArray[np.int32]]:
    """CSR over neurons of the rule rows ``q`` each neuron belongs to (declaration order)."""
    neuron = _cat([neurons for neurons, _ in rows], np.int64)
    q = _cat([np.full(neurons.size, q) for neurons, q in rows], np.int32)
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(neuron, minlength=n), out=ptr[1:])
    return ptr, q[np.argsort(neuron, kind="stable")]
