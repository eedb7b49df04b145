"""The Numba CPU backend: the NumPy reference's semantics, bit for bit, in compiled loops.

Every run is advanced in chunks of steps; each chunk is one call of the jitted
:func:`_run_steps`, which loops over steps, populations and projections without returning to
Python (every helper is inlined into it: one compiled function, one set of compiler flags;
:func:`_run_steps_fast` is the same code with fast-math flags, for the non-default, non-exact
``fastmath=True`` option). Same seed, same network: the same spikes, state traces and weights as
:mod:`snn.backends.numpy_backend` (compared with ``np.array_equal`` in the tests).

One step ``m`` (``slot = m % L``, ``L`` the ring length), in the reference's order:

1. **sample** the recorders due at ``m`` (``m % interval == 0``): state rows of the recorded
   neurons and plastic weights, before arrivals;
2. **plastic arrivals**, per plastic projection in declaration order, synapses in storage order
   (sorted by pre, then post) whose presynaptic spike of step ``m - delay`` arrives now: depress
   by the post trace, clip, add the weight into the ring slot, bump the pre trace;
3. **apply arrivals**: every (receptor, neuron) entry on the slot's touched list is added to its
   synaptic variable (``isyn += arrivals``) and cleared;
4. **populations** in declaration order: the model's update in blocks of :data:`BLOCK` neurons
   (branch-free loops that LLVM vectorises), then the block's spikes are compacted in ascending
   neuron order (and only then is ``last_spike`` written); Poisson sources read this step's
   uniforms, spike arrays advance a pointer;
5. **post events**, per plastic projection: potentiate the synapses onto neurons that spiked by
   their pre traces, clip, bump the post trace;
6. **static delivery**, per static projection in declaration order: for each neuron that spiked
   (ascending), its CSR row of synapses (ascending post) adds ``w`` into ``ring[(m + d) % L]``
   (projections whose delays, or weights, are all equal take a specialised loop);
7. remember the step's spikes in the history used by plastic arrivals.

Floating-point parity with the reference rests on these facts:

* the constants (propagators, decay tables) come from :mod:`snn.compiled`, and the kernels
  evaluate the model's expressions in the same order, without fastmath (LLVM neither
  reassociates nor contracts to FMA then);
* ``IF_cond_exp``'s ``exp(k_mem g)`` is :func:`snn.arith.exp_arith_kernel` on both sides: the
  reference evaluates it on arrays, the kernel inlines the same Python source (its three helpers,
  bit reinterpretation and a clamp, have Numba overloads here that give the same values). It is
  plain ``+ - *`` arithmetic, so the result does not depend on the CPU (``np.exp`` would: libm on
  CPUs without AVX-512F, NumPy's own SIMD ``exp`` with it) and it vectorises (libm does not);
* every kernel is compiled with ``error_model="numpy"``: division is IEEE division as in NumPy
  (no zero-divisor test, which would also keep LLVM from vectorising the ``IF_cond_exp`` loop);
* ring entries receive the same additions in the same order (emission step, projection order,
  synapse order, then plastic arrivals), starting from ``+0.0``;
* arrivals are applied **sparsely**: the reference adds the arrivals array to every neuron's
  synaptic variable, we add it only to touched neurons and add ``+0.0`` to every synaptic
  variable inside the model loop. ``x + 0.0 == x`` bit for bit except that ``-0.0`` becomes
  ``+0.0``, which is what the reference's ``x + 0.0`` gives to untouched neurons; a touched
  sum ``x + a`` (``a`` a sum of non-negative weights starting at ``+0.0``) is never ``-0.0``.
  Adding a zero weight is a no-op, so only non-zero weights are added, and an entry equal to
  ``0.0`` is one not yet touched in that slot.

Poisson uniforms are drawn on the host, per chunk, from the same per-population generators and in
the same order as the reference (``rng.random((k, size))`` is ``k`` calls of
``rng.random(size)``).

**SpiNNaker semantics.** A network with ``semantics="spinnaker"`` runs in its own kernel,
:func:`_run_spinnaker` (same ``cache=True``, ``error_model="numpy"``, no fastmath; the exact
kernel above is untouched by it), which follows the reference's ``_SpinnakerSchedule.step``
(:mod:`snn.backends.numpy_backend`) and evaluates the pure functions of
:mod:`snn.backends.spinnaker_semantics` per neuron and per synapse, with their expressions in the
same order. Per step ``m``:

1. **sample** as above;
2. **populations** in declaration order: ``IF_curr_exp`` in blocks, ``if_curr_exp_step`` with its
   constants from ``lower_if_curr_exp`` (arrival scaling ``I + a init``, closed-form membrane or
   refractory countdown, ``v >= v_thresh``, reset, timer ``ceil(tau_refrac / dt)``, decay); the
   ring slot is read **densely** (every neuron adds its entry, ``+0.0`` when nothing arrived,
   exactly the reference's array expression) and cleared, so no touched lists are kept; sources
   as above;
3. **post events**, per plastic projection: each neuron that spiked appends ``(m, trace)`` to its
   16-entry history (``add_post_spikes``: placeholder kept, oldest real entry dropped when full);
4. **delivery**, per projection in declaration order (static and plastic interleaved, as the
   reference): for each spiking pre neuron (ascending), its CSR row (ascending post); a static
   synapse adds its weight into ``ring[(m + d) % L]``, a plastic one is first updated by
   ``stdp_pre_spike_update`` (potentiation summed in integers, then ``A+ sum / 2048``;
   depression by the latest entry at or before ``m - d``, lag 0 included unless the rule's
   ``depress_at_zero_lag`` is off) and adds its updated weight; then the row's pre trace
   advances (``add_spike_to_trace``; it is read only by that row).

The fixed-point parts are int64 arithmetic as in NumPy: ``(a b) >> 11`` is an arithmetic shift
(wrapped, negative 16-bit traces round down as there), ``% 65536`` has Python's sign rule in Numba
as in NumPy. The STDP rules are lowered by ``SpinnakerSTDP.lower`` at construction, as the
reference does. Unsupported features (``IF_cond_exp``, ``AdaptiveLIF``, multiplicative STDP) are
refused at construction by ``check_supported``, with the reference's ``ValueError``;
``fastmath=True`` is refused too.

**Precision.** Option ``precision="float32"`` (:mod:`snn.backends.precision`) lowers state,
constants, weights and ring to float32 and ``last_spike`` to int32 (its "never" clamped to
``-2**30``, the same comparisons); the same kernels compile for those types (literal zeros are
typed by :func:`_zero`, ``exp`` dispatches to :func:`snn.arith.exp_arith32_kernel`, plasticity
computes in float64 and re-reads the stored weight before delivering it) and agree bit for bit
with the reference run in float32.

Performance notes (Vogels-Abbott networks, one AVX2 core shared with other work; see
``benchmarks/numba_kernels.py``): the model loops are vectorised 4-wide in float64 and 8-wide in
float32 (checked with ``inspect_asm``: an integer spike count in the loop or an int64
``last_spike`` beside float32 data halved the width, so the loops count nothing and the
refractory test compares ``last_spike`` with a per-block bound of its own type);
``IF_curr_exp`` costs about 0.7-1.1 ns per neuron and step in float64 and is bound by memory
traffic at N = 40000 (48 bytes of state read and written per neuron and step, plus the
refractory test's 8); ``IF_cond_exp`` costs about 4 ns, most of it the 13-term ``exp`` and the
division, which without FMA (the reference has none) take about 40 vector instructions per 4
neurons (float32: a 7-term ``exp``, 8 lanes, about 2x faster). Delivery costs 2.5-4 ns per
synaptic event when the ring fits in L2 and about 10 ns at N = 40000 (random accesses to a
1.3 MB ring from L3). Indices in the delivery loops are unsigned so that Numba emits no
negative-index wraparound. ``parallel=True`` is not used: on 2 shared cores it was 3-60x slower.
Numba's on-disk cache does not notice edits of :mod:`snn.arith`; delete this module's cache
files after changing it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit, types
from numba.extending import overload
from numpy.typing import NDArray

from snn import arith
from snn.backends import spinnaker_semantics as spinn
from snn.backends.precision import precision_dtype
from snn.compiled import CompiledNetwork
from snn.network import run_generator
from snn.recording import Recording, RecordingCollector

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

#: LLVM fast-math flags of the ``fastmath=True`` option: fused multiply-add contraction and no
#: signed zeros. Not ``reassoc``/``fast``: reassociation would fold ``(x + S) - S`` to ``x`` and
#: break the rounding trick of :func:`snn.arith.exp_arith_kernel`.
FAST_FLAGS = {"contract", "nsz"}

#: options of the kernel entry points. ``_nrt=False`` compiles them without Numba's reference
#: counting: the kernels allocate nothing (every array comes from the host, which keeps it
#: alive), but each array view made in the step loop cost an atomic increment and decrement,
#: 18 % of the CUBA N = 4000 loop (measured with perf); without them that loop is 1.3-1.5x faster
KERNEL_OPTIONS: dict[str, Any] = {"cache": True, "error_model": "numpy", "_nrt": False}

#: neurons per model block: spikes are compacted per block, and only in blocks that spiked
BLOCK = 4096

# STDP rule codes (the pair rule's weight dependences; Vogels et al. 2011's inhibitory rule)
STDP_ADDITIVE, STDP_MULTIPLICATIVE, STDP_VOGELS = 0, 1, 2

# model codes dispatched on inside the kernel
IF_CURR_EXP, IF_COND_EXP, ADAPTIVE_LIF, POISSON, SPIKE_ARRAY = 0, 1, 2, 3, 4
MODEL_CODES = {
    "IF_curr_exp": IF_CURR_EXP,
    "IF_cond_exp": IF_COND_EXP,
    "AdaptiveLIF": ADAPTIVE_LIF,
    "SpikeSourcePoisson": POISSON,
    "SpikeSourceArray": SPIKE_ARRAY,
}

#: rows of the float constant table ``fconst[row, neuron]``, per model (rows are model-specific)
FLOAT_CONSTS: dict[int, tuple[str, ...]] = {
    IF_CURR_EXP: ("v_inf", "p_mm", "c_exc", "c_inh", "p_exc", "p_inh", "v_thresh", "v_reset"),
    IF_COND_EXP: (
        "g_leak", "i_leak", "e_exc", "e_inh", "k_mem", "p_exc", "p_inh", "v_thresh", "v_reset"
    ),
    ADAPTIVE_LIF: (
        "v_inf", "p_mm", "c_exc", "c_inh", "p_exc", "p_inh", "v_thresh", "v_reset",
        "c_w", "p_w", "b", "p_theta", "delta_theta",
    ),
    POISSON: ("p_spike",),
    SPIKE_ARRAY: (),
}  # fmt: skip
N_FLOAT_CONSTS = 13
#: rows of the integer constant table ``iconst[row, neuron]``, per model
INT_CONSTS: dict[int, tuple[str, ...]] = {
    IF_CURR_EXP: ("refrac_steps",),
    IF_COND_EXP: ("refrac_steps",),
    ADAPTIVE_LIF: ("refrac_steps",),
    POISSON: ("start_step", "stop_step"),
    SPIKE_ARRAY: (),
}
N_INT_CONSTS = 2
#: rows of the state table ``state[row, neuron]``: v, synaptic variable per receptor, w, theta
STATE_ROWS = {
    "v": 0,
    "isyn_exc": 1,
    "gsyn_exc": 1,
    "isyn_inh": 2,
    "gsyn_inh": 2,
    "w": 3,
    "theta": 4,
}
N_STATE_ROWS = 5

#: rows of ``fconst`` for ``IF_curr_exp`` under the ``spinnaker`` semantics
#: (:func:`snn.backends.spinnaker_semantics.lower_if_curr_exp`; ``iconst`` row 0: refrac_steps)
SPINNAKER_FLOAT_CONSTS = (
    "v_rest", "r_m", "exp_tc", "i_offset", "v_thresh", "v_reset",
    "init_exc", "init_inh", "decay_exc", "decay_inh",
)  # fmt: skip
# sPyNNaker's STDP fixed point, as module constants the kernels freeze
STDP_FIXED_POINT = spinn.STDP_FIXED_POINT
STDP_FIXED_POINT_ONE = spinn.STDP_FIXED_POINT_ONE
STDP_FIXED_POINT_ONE_F = float(spinn.STDP_FIXED_POINT_ONE)
MAX_POST_SYNAPTIC_EVENTS = spinn.MAX_POST_SYNAPTIC_EVENTS

# sample channel kinds
SAMPLE_STATE, SAMPLE_WEIGHTS = 0, 1

#: most Poisson uniforms (float64) drawn ahead per chunk, and most steps per chunk
MAX_DRAWS_PER_CHUNK = 1 << 21
MAX_STEPS_PER_CHUNK = 10_000


class _Net(NamedTuple):
    """The network's structure and constants (read-only in the kernel); ``N`` neurons in all."""

    n_neurons: int
    ring_length: int
    # populations
    pop_off: IntArray
    pop_size: IntArray
    pop_model: IntArray
    pop_uniform: IntArray  # 1 when every constant is the same for all neurons (scalar path)
    pop_draw_col: IntArray  # first column of a Poisson population in the chunk's draws
    pop_ssa_lo: IntArray  # spike-array entries of a SpikeSourceArray population
    pop_ssa_hi: IntArray
    fconst: FloatArray  # (N_FLOAT_CONSTS, N)
    iconst: IntArray  # (N_INT_CONSTS, N)
    ssa_steps: IntArray
    ssa_ids: IntArray
    # projections (declaration order); synapse arrays concatenated, CSR rows per projection
    proj_pre: IntArray  # population index
    proj_post: IntArray
    proj_pre_off: IntArray
    proj_pre_size: IntArray
    proj_post_off: IntArray
    proj_receptor: IntArray
    proj_syn_off: IntArray
    proj_row_off: IntArray
    proj_plastic: IntArray
    proj_delay: IntArray  # the delay (steps) of every synapse, or 0 when they differ
    proj_uniform_weight: IntArray  # 1 when every weight is the same (static projections)
    proj_weight: FloatArray  # that weight
    row_ptr: IntArray  # CSR pointers, projection-local synapse numbers
    row_abs: IntArray  # the same plus the projection's synapse offset
    syn_post: IntArray
    syn_target: NDArray[np.uint32]  # receptor * N + global post neuron: a ring entry
    syn_delay: IntArray
    # plastic projections (declaration order)
    pl_proj: IntArray
    pl_trace_off: IntArray  # into pre_trace / pre_last (one per synapse)
    pl_post_off: IntArray  # into post_trace / post_last (one per post neuron)
    pl_col_off: IntArray  # into col_order
    pl_colptr_off: IntArray  # into col_ptr
    pl_max_delay: IntArray
    pl_kind: IntArray  # STDP_ADDITIVE, STDP_MULTIPLICATIVE or STDP_VOGELS
    pl_alpha: FloatArray  # Vogels' depression factor 2 rho0 tau (0 for the pair rule)
    pl_a_plus: FloatArray
    pl_a_minus: FloatArray
    pl_w_min: FloatArray
    pl_w_max: FloatArray
    pl_dp_off: IntArray
    pl_dp_len: IntArray
    pl_dm_off: IntArray
    pl_dm_len: IntArray
    col_order: IntArray
    col_ptr: IntArray
    decay: FloatArray
    # recording
    record_mask: NDArray[np.uint8]  # neurons whose spikes are recorded
    n_recorded: int
    ch_kind: IntArray
    ch_row: IntArray
    ch_interval: IntArray
    ch_idx_ptr: IntArray
    ch_idx: IntArray


class _State(NamedTuple):
    """Mutable simulation state."""

    state: FloatArray  # (N_STATE_ROWS, N)
    state_flat: FloatArray  # the same memory, flat
    #: step of each neuron's last spike (sources included); int32 in float32 precision
    last_spike: NDArray[np.signedinteger[Any]]
    ring: FloatArray  # (L * 2 * N,): slot, receptor, neuron
    touched: NDArray[np.uint32]  # (L * (2N + 1),): per slot, the touched entries (receptor * N + j)
    touched_count: IntArray  # (L,)
    syn_w: FloatArray
    pre_trace: FloatArray
    pre_last: IntArray
    post_trace: FloatArray
    post_last: IntArray
    history: NDArray[np.uint8]  # (L * N,) spiked at the step of that slot (plastic only)
    history_ids: IntArray  # (L * N,) which entries of a history slot are set
    history_count: IntArray  # (L,)
    ssa_ptr: IntArray
    spikes: IntArray  # this step's spikes, global ids, per population ascending
    spk_lo: IntArray
    spk_hi: IntArray
    block_flags: NDArray[np.uint8]  # (BLOCK,) spiked flags of the block being updated
    block_flags64: NDArray[np.uint64]  # the same memory, as 64-bit words
    block_words: IntArray  # (BLOCK // 8,) scratch: indices of the non-zero words


class _SpinNet(NamedTuple):
    """Constants of the ``spinnaker`` semantics beyond :class:`_Net` (plastic projections)."""

    proj_plastic_index: IntArray  # per projection: its plastic number q, or -1 (static)
    pl_pre_off: IntArray  # into pre_time / pre_trace (one per pre neuron: a synaptic row)
    pl_post_off: IntArray  # into post_count (one per post neuron; times/traces: 16 per neuron)
    pl_a_plus: FloatArray
    pl_a_minus: FloatArray
    pl_w_min: FloatArray
    pl_w_max: FloatArray
    pl_zero_lag: IntArray  # 1: depress at lag 0 (SpinnakerSTDP.depress_at_zero_lag)
    pl_lp_off: IntArray  # lut_plus / lut_minus of each plastic projection in ``lut``
    pl_lp_len: IntArray
    pl_lm_off: IntArray
    pl_lm_len: IntArray
    lut: IntArray  # sPyNNaker's fixed-point decay tables (int64 values)


class _SpinState(NamedTuple):
    """Mutable state of the ``spinnaker`` semantics beyond :class:`_State`."""

    refract_timer: IntArray  # (N,) steps left of each neuron's refractory period
    pre_time: IntArray  # last spike step of each pre neuron, per plastic projection (0 at first)
    pre_trace: IntArray  # its fixed-point trace (0 at first)
    post_times: IntArray  # (n_post * 16,) post-spike history per plastic projection and neuron
    post_traces: IntArray
    post_count: IntArray  # (n_post,) used entries, placeholder included


class _Buffers(NamedTuple):
    """Recording buffers of one chunk."""

    spike_steps: IntArray
    spike_ids: IntArray
    counters: IntArray  # [recorded spikes]
    samples: FloatArray
    ch_out_off: IntArray
    ch_written: IntArray


# ------------------------------------------------------------------------------------------------
# kernels


@overload(arith.float_bits, inline="always")
def _float_bits_impl(x):
    return lambda x: np.float64(x).view(np.int64)


@overload(arith.bits_float, inline="always")
def _bits_float_impl(bits):
    return lambda bits: np.int64(bits).view(np.float64)


@overload(arith.clamp, inline="always")
def _clamp_impl(x, lo, hi):
    return lambda x, lo, hi: min(max(x, lo), hi)


@overload(arith.float_bits32, inline="always")
def _float_bits32_impl(x):
    return lambda x: np.float32(x).view(np.int32)


@overload(arith.bits_float32, inline="always")
def _bits_float32_impl(bits):
    return lambda bits: np.int32(bits).view(np.float32)


_exp64 = njit(inline="always")(arith.exp_arith_kernel)
_exp32 = njit(inline="always")(arith.exp_arith32_kernel)


def _exp(x):  # pragma: no cover (compiled via the overload)
    """:func:`snn.arith.exp_arith`: the reference's own source, compiled for a float scalar."""
    raise NotImplementedError


@overload(_exp, inline="always")
def _exp_impl(x):
    if x == types.float32:
        return lambda x: _exp32(x)
    return lambda x: _exp64(x)


def _zero(a):  # pragma: no cover (compiled via the overload)
    """``0.0`` of ``a``'s float type (``a``: an array or a scalar), so float32 stays float32."""
    raise NotImplementedError


@overload(_zero, inline="always")
def _zero_impl(a):
    dtype = a.dtype if isinstance(a, types.Array) else a
    if dtype == types.float32:
        return lambda a: np.float32(0.0)
    return lambda a: 0.0


def _refractory_bound(m, r, last):  # pragma: no cover (compiled via the overload)
    """``m - r`` in ``last``'s integer type for a population-wide ``r`` (unused otherwise)."""
    raise NotImplementedError


@overload(_refractory_bound, inline="always")
def _refractory_bound_impl(m, r, last):
    if isinstance(r, types.Array):
        return lambda m, r, last: 0
    if last.dtype == types.int32:
        return lambda m, r, last: np.int32(m - r)
    return lambda m, r, last: m - r


def _refractory(last_j, m, r, j, bound):  # pragma: no cover (compiled via the overload)
    """The reference's ``(m - last_spike) < refrac_steps``, as ``last_spike > m - refrac_steps``.

    The same truth value for integers (no overflow: ``m < 2**31``, ``last_spike >= -2**40``);
    with a population-wide ``r`` the bound is computed once per block, so the loop compares
    ``last_spike`` (int32 in float32 precision) with a scalar of its own width and the loop
    vectorises at the float width.
    """
    raise NotImplementedError


@overload(_refractory, inline="always")
def _refractory_impl(last_j, m, r, j, bound):
    if isinstance(r, types.Array):
        return lambda last_j, m, r, j, bound: last_j > m - r[j]
    return lambda last_j, m, r, j, bound: last_j > bound


def _elem(c, j):  # pragma: no cover (compiled via the overload)
    """``c[j]`` for a per-neuron constant array, ``c`` for a population-wide scalar."""
    raise NotImplementedError


@overload(_elem, inline="always")
def _elem_impl(c, j):
    if isinstance(c, types.Array):
        return lambda c, j: c[j]
    return lambda c, j: c


@njit(cache=True, inline="always", error_model="numpy")
def _if_curr_exp_block(m, v, syn_e, syn_i, last, fired, c, ic):
    """``IF_curr_exp.step`` on one block; ``c``/``ic`` hold scalars or per-neuron slices.

    ``v_free = v_inf + (v - v_inf) p_mm + c_exc I_E + c_inh I_I`` (left to right), kept when not
    refractory; spike when ``v > v_thresh``; ``I_X <- I_X p_X``. Sets ``fired`` and counts
    nothing: an integer count in the loop halved the float32 vector width (the caller scans the
    flags instead). The same holds for the other models' blocks.
    """
    bound = _refractory_bound(m, ic[0], last)
    for j in range(v.size):
        i_exc = syn_e[j] + _zero(syn_e)
        i_inh = syn_i[j] + _zero(syn_i)
        v_old = v[j]
        last_j = last[j]
        refractory = _refractory(last_j, m, ic[0], j, bound)
        v_inf = _elem(c[0], j)
        v_free = v_inf + (v_old - v_inf) * _elem(c[1], j)
        v_free = v_free + _elem(c[2], j) * i_exc
        v_free = v_free + _elem(c[3], j) * i_inh
        v_new = v_old if refractory else v_free
        spiked = (v_new > _elem(c[6], j)) > refractory
        v[j] = _elem(c[7], j) if spiked else v_new
        syn_e[j] = i_exc * _elem(c[4], j)
        syn_i[j] = i_inh * _elem(c[5], j)
        fired[j] = np.uint8(spiked)


@njit(cache=True, inline="always", error_model="numpy")
def _if_cond_exp_block(m, v, syn_e, syn_i, last, fired, c, ic):
    """``IF_cond_exp.step`` on one block (exponential Euler, ``exp`` from :mod:`snn.arith`).

    ``g = (g_leak + g_E) + g_I``, ``v_inf = ((i_leak + g_E e_E) + g_I e_I) / g``,
    ``v_free = v_inf + (v - v_inf) exp(k_mem g)``; ``g_X <- g_X p_X``. ``last_spike`` is only
    read here (the caller writes it for the neurons that spiked), as in the other models.
    """
    bound = _refractory_bound(m, ic[0], last)
    for j in range(v.size):
        g_exc = syn_e[j] + _zero(syn_e)
        g_inh = syn_i[j] + _zero(syn_i)
        v_old = v[j]
        last_j = last[j]
        refractory = _refractory(last_j, m, ic[0], j, bound)
        g_total = _elem(c[0], j) + g_exc + g_inh
        v_inf = (_elem(c[1], j) + g_exc * _elem(c[2], j) + g_inh * _elem(c[3], j)) / g_total
        v_free = v_inf + (v_old - v_inf) * _exp(_elem(c[4], j) * g_total)
        v_new = v_old if refractory else v_free
        spiked = (v_new > _elem(c[7], j)) > refractory
        v[j] = _elem(c[8], j) if spiked else v_new
        syn_e[j] = g_exc * _elem(c[5], j)
        syn_i[j] = g_inh * _elem(c[6], j)
        fired[j] = np.uint8(spiked)


@njit(cache=True, inline="always", error_model="numpy")
def _adaptive_lif_block(m, v, syn_e, syn_i, w, theta, last, fired, c, ic):
    """``AdaptiveLIF.step`` on one block: IF_curr_exp plus ``c_w w``, threshold ``+ theta``.

    ``theta <- theta p_theta`` before the threshold test; on a spike ``w += b``,
    ``theta += delta_theta`` (``+ 0.0`` otherwise, as the reference's ``np.where``).
    """
    bound = _refractory_bound(m, ic[0], last)
    for j in range(v.size):
        i_exc = syn_e[j] + _zero(syn_e)
        i_inh = syn_i[j] + _zero(syn_i)
        v_old = v[j]
        w_old = w[j]
        last_j = last[j]
        refractory = _refractory(last_j, m, ic[0], j, bound)
        v_inf = _elem(c[0], j)
        v_free = v_inf + (v_old - v_inf) * _elem(c[1], j)
        v_free = v_free + _elem(c[2], j) * i_exc
        v_free = v_free + _elem(c[3], j) * i_inh
        v_free = v_free + _elem(c[8], j) * w_old
        v_new = v_old if refractory else v_free
        theta_new = theta[j] * _elem(c[11], j)
        spiked = (v_new > _elem(c[6], j) + theta_new) > refractory
        v[j] = _elem(c[7], j) if spiked else v_new
        syn_e[j] = i_exc * _elem(c[4], j)
        syn_i[j] = i_inh * _elem(c[5], j)
        w[j] = w_old * _elem(c[9], j) + (_elem(c[10], j) if spiked else _zero(w))
        theta[j] = theta_new + (_elem(c[12], j) if spiked else _zero(theta))
        fired[j] = np.uint8(spiked)


@njit(cache=True, inline="always", error_model="numpy")
def _poisson_block(m, uniforms, fired, c, ic):
    """``SpikeSourcePoisson.step``: spike when ``u < p_spike`` and ``start <= m < stop``."""
    n_fired = np.int64(0)
    for j in range(uniforms.size):
        active = (_elem(ic[0], j) <= m) & (m < _elem(ic[1], j))
        spiked = (uniforms[j] < _elem(c[0], j)) & active
        fired[j] = np.uint8(spiked)
        n_fired += np.int64(spiked)
    return n_fired


@njit(cache=True, inline="always", error_model="numpy")
def _float_scalars(fc, col):
    return (
        fc[0, col], fc[1, col], fc[2, col], fc[3, col], fc[4, col], fc[5, col], fc[6, col],
        fc[7, col], fc[8, col], fc[9, col], fc[10, col], fc[11, col], fc[12, col],
    )  # fmt: skip


@njit(cache=True, inline="always", error_model="numpy")
def _float_rows(fc, lo, hi):
    return (
        fc[0, lo:hi], fc[1, lo:hi], fc[2, lo:hi], fc[3, lo:hi], fc[4, lo:hi], fc[5, lo:hi],
        fc[6, lo:hi], fc[7, lo:hi], fc[8, lo:hi], fc[9, lo:hi], fc[10, lo:hi], fc[11, lo:hi],
        fc[12, lo:hi],
    )  # fmt: skip


@njit(cache=True, inline="always", error_model="numpy")
def _neuron_block(m, model, uniform, lo, hi, net, st, draws_row):
    """Run the model update of neurons ``lo:hi`` (global ids) of one population.

    Returns the number of spikes of a Poisson block, ``-1`` (unknown: scan the flags) otherwise.
    """
    s = st.state
    fired = st.block_flags[: hi - lo]
    fc, ic = net.fconst, net.iconst
    if model == POISSON:
        if uniform:
            return _poisson_block(
                m, draws_row, fired, _float_scalars(fc, lo), (ic[0, lo], ic[1, lo])
            )
        return _poisson_block(
            m, draws_row, fired, _float_rows(fc, lo, hi), (ic[0, lo:hi], ic[1, lo:hi])
        )
    v, se, si, last = s[0, lo:hi], s[1, lo:hi], s[2, lo:hi], st.last_spike[lo:hi]
    if model == IF_CURR_EXP:
        if uniform:
            _if_curr_exp_block(m, v, se, si, last, fired, _float_scalars(fc, lo), (ic[0, lo],))
        else:
            _if_curr_exp_block(m, v, se, si, last, fired, _float_rows(fc, lo, hi), (ic[0, lo:hi],))
    elif model == IF_COND_EXP:
        if uniform:
            _if_cond_exp_block(m, v, se, si, last, fired, _float_scalars(fc, lo), (ic[0, lo],))
        else:
            _if_cond_exp_block(m, v, se, si, last, fired, _float_rows(fc, lo, hi), (ic[0, lo:hi],))
    else:
        w, theta = s[3, lo:hi], s[4, lo:hi]
        if uniform:
            _adaptive_lif_block(
                m, v, se, si, w, theta, last, fired, _float_scalars(fc, lo), (ic[0, lo],)
            )
        else:
            _adaptive_lif_block(
                m, v, se, si, w, theta, last, fired, _float_rows(fc, lo, hi), (ic[0, lo:hi],)
            )
    return np.int64(-1)


@njit(cache=True, inline="always", error_model="numpy")
def _emit(m, g, n_spk, st, net, buf):
    """Append neuron ``g``'s spike of step ``m`` to the step's list (and the recording)."""
    st.spikes[n_spk] = g
    st.last_spike[g] = m
    if net.record_mask[g]:
        k = buf.counters[0]
        buf.spike_steps[k] = m
        buf.spike_ids[k] = g
        buf.counters[0] = k + 1
    return n_spk + 1


@njit(cache=True, inline="always", error_model="numpy")
def _emit_flagged(m, lo, size, n_spk, st, net, buf):
    """Emit the neurons ``lo + j`` whose block flag ``j < size`` is set, in ascending order.

    Two passes: a tight branch-free loop lists the non-zero 64-bit words (8 flags each; most are
    zero), then only those words are scanned. One loop with the rare emit inside kept its
    counters on the stack (the emit's registers), which cost more than the scan itself.
    """
    words, found = st.block_flags64, st.block_words
    n_words = 0
    for k in range((size + 7) // 8):
        found[n_words] = k
        n_words += words[k] != 0
    flags = st.block_flags
    for q in range(n_words):
        k = found[q]
        for j in range(8 * k, min(8 * k + 8, size)):
            if flags[j]:
                n_spk = _emit(m, lo + j, n_spk, st, net, buf)
    return n_spk


@njit(cache=True, inline="always", error_model="numpy")
def _update_populations(m, draw_row, net, st, buf, draws):
    """Step 4: every population in declaration order; fills the step's spike lists."""
    n_spk = 0
    for p in range(net.pop_off.size):
        off, size, model = net.pop_off[p], net.pop_size[p], net.pop_model[p]
        st.spk_lo[p] = n_spk
        if model == SPIKE_ARRAY:
            ptr, hi = st.ssa_ptr[p], net.pop_ssa_hi[p]
            while ptr < hi and net.ssa_steps[ptr] < m:
                ptr += 1
            while ptr < hi and net.ssa_steps[ptr] == m:
                n_spk = _emit(m, off + net.ssa_ids[ptr], n_spk, st, net, buf)
                ptr += 1
            st.ssa_ptr[p] = ptr
        else:
            uniform = net.pop_uniform[p] != 0
            for b0 in range(0, size, BLOCK):
                b1 = min(b0 + BLOCK, size)
                lo, hi = off + b0, off + b1
                col = net.pop_draw_col[p]
                n_fired = _neuron_block(
                    m, model, uniform, lo, hi, net, st, draws[draw_row, col + b0 : col + b1]
                )
                if n_fired:
                    n_spk = _emit_flagged(m, lo, b1 - b0, n_spk, st, net, buf)
        st.spk_hi[p] = n_spk
    return n_spk


@njit(cache=True, inline="always", error_model="numpy")
def _add_to_ring(slot, idx, weight, st, n2):
    """Add a non-zero weight to ring entry ``idx`` (receptor * N + neuron) of ``slot``.

    The entry is appended to the slot's touched list when it was ``0.0`` (untouched; weights are
    non-negative, so at most ``2N`` appends per slot). A branch, not a branch-free append: the
    latter makes every append wait for the previous ring load, which was slower.
    """
    pos = slot * n2 + idx
    x = st.ring[pos]
    if x == 0.0:
        k = st.touched_count[slot]
        st.touched[slot * (n2 + 1) + k] = idx
        st.touched_count[slot] = k + 1
    st.ring[pos] = x + weight


@njit(cache=True, inline="always", error_model="numpy")
def _plastic_arrivals(m, slot, net, st):
    """Step 2: depress, deliver and bump the pre trace of synapses whose spike arrives now."""
    n, ring_length = net.n_neurons, net.ring_length
    for q in range(net.pl_proj.size):
        p = net.pl_proj[q]
        pre_off, syn_off, row_off = net.proj_pre_off[p], net.proj_syn_off[p], net.proj_row_off[p]
        rec_base = net.proj_receptor[p] * n + net.proj_post_off[p]
        tr_off, post_off = net.pl_trace_off[q], net.pl_post_off[q]
        a_minus, w_min, w_max = net.pl_a_minus[q], net.pl_w_min[q], net.pl_w_max[q]
        kind, alpha = net.pl_kind[q], net.pl_alpha[q]
        dp_off, dp_last = net.pl_dp_off[q], net.pl_dp_len[q] - 1
        dm_off, dm_last = net.pl_dm_off[q], net.pl_dm_len[q] - 1
        for i in range(net.proj_pre_size[p]):
            g = pre_off + i
            if m - st.last_spike[g] > net.pl_max_delay[q]:
                continue
            for s in range(net.row_ptr[row_off + i], net.row_ptr[row_off + i + 1]):
                h = slot - net.syn_delay[syn_off + s]
                if h < 0:
                    h += ring_length
                if not st.history[h * n + g]:
                    continue
                post = net.syn_post[syn_off + s]
                lag = min(m - st.post_last[post_off + post], dm_last)
                x_post = st.post_trace[post_off + post] * net.decay[dm_off + lag]
                w = np.float64(st.syn_w[syn_off + s])  # plasticity arithmetic is float64
                if kind == STDP_VOGELS:
                    w_new = w + a_minus * (x_post - alpha)
                elif kind == STDP_MULTIPLICATIVE:
                    w_new = w - a_minus * (w - w_min) * x_post
                else:
                    w_new = w - a_minus * x_post
                st.syn_w[syn_off + s] = min(max(w_new, w_min), w_max)
                w = st.syn_w[syn_off + s]  # as stored (rounded to float32 in that precision)
                if w != 0.0:
                    _add_to_ring(slot, rec_base + post, w, st, 2 * n)
                t = tr_off + s
                lag_pre = min(m - st.pre_last[t], dp_last)
                st.pre_trace[t] = st.pre_trace[t] * net.decay[dp_off + lag_pre] + 1.0
                st.pre_last[t] = m


@njit(cache=True, inline="always", error_model="numpy")
def _apply_arrivals(slot, net, st):
    """Step 3: ``syn[receptor, j] += ring[slot, receptor, j]`` for touched entries; clear them."""
    n2 = 2 * net.n_neurons
    base, tbase = np.uint64(slot * n2), np.uint64(slot * (n2 + 1))
    # state rows 1 and 2 are the receptors' synaptic variables: row 1 + receptor
    syn = st.state_flat[net.n_neurons : 3 * net.n_neurons]
    ring, touched = st.ring, st.touched
    for k in range(np.uint64(st.touched_count[slot])):
        idx = touched[tbase + k]
        syn[idx] = syn[idx] + ring[base + idx]
        ring[base + idx] = 0.0
    st.touched_count[slot] = 0


@njit(cache=True, inline="always", error_model="numpy")
def _post_events(m, net, st):
    """Step 5: potentiate synapses onto neurons that spiked; bump their post traces."""
    for q in range(net.pl_proj.size):
        p = net.pl_proj[q]
        post_pop = net.proj_post[p]
        lo, hi = st.spk_lo[post_pop], st.spk_hi[post_pop]
        if lo == hi:
            continue
        syn_off, post_off_n = net.proj_syn_off[p], net.proj_post_off[p]
        tr_off, post_off = net.pl_trace_off[q], net.pl_post_off[q]
        a_plus, w_min, w_max = net.pl_a_plus[q], net.pl_w_min[q], net.pl_w_max[q]
        multiplicative = net.pl_kind[q] == STDP_MULTIPLICATIVE
        dp_off, dp_last = net.pl_dp_off[q], net.pl_dp_len[q] - 1
        dm_off, dm_last = net.pl_dm_off[q], net.pl_dm_len[q] - 1
        col_off, cp_off = net.pl_col_off[q], net.pl_colptr_off[q]
        for k in range(lo, hi):
            j = st.spikes[k] - post_off_n
            for c in range(net.col_ptr[cp_off + j], net.col_ptr[cp_off + j + 1]):
                s = net.col_order[col_off + c]
                t = tr_off + s
                lag = min(m - st.pre_last[t], dp_last)
                x_pre = st.pre_trace[t] * net.decay[dp_off + lag]
                w = np.float64(st.syn_w[syn_off + s])  # plasticity arithmetic is float64
                if multiplicative:
                    dw = a_plus * (w_max - w) * x_pre
                else:
                    dw = a_plus * x_pre
                st.syn_w[syn_off + s] = min(max(w + dw, w_min), w_max)
        for k in range(lo, hi):
            u = post_off + st.spikes[k] - post_off_n
            lag_post = min(m - st.post_last[u], dm_last)
            st.post_trace[u] = st.post_trace[u] * net.decay[dm_off + lag_post] + 1.0
            st.post_last[u] = m


@njit(cache=True, inline="always", error_model="numpy")
def _deliver_rows_fixed(t, lo, hi, pre_off, row_off, uniform_w, w_all, net, st):
    """Static delivery of one projection whose synapses all have the same delay (ring slot ``t``).

    The hot loop of the step: per synapse one index load, one ring read-modify-write and, when
    the entry was untouched, an append to the slot's touched list (plus a weight load for
    non-uniform weights). Indices are unsigned so that Numba adds no negative-index wraparound.
    """
    n2 = 2 * net.n_neurons
    rbase, tbase = np.uint64(t * n2), np.uint64(t * (n2 + 1))
    cnt = np.uint64(st.touched_count[t])
    ring, touched, target, syn_w = st.ring, st.touched, net.syn_target, st.syn_w
    for k in range(lo, hi):
        i = row_off + st.spikes[k] - pre_off
        s0, s1 = np.uint64(net.row_abs[i]), np.uint64(net.row_abs[i + 1])
        if uniform_w:
            for s in range(s0, s1):
                idx = target[s]
                pos = rbase + idx
                x = ring[pos]
                if x == 0.0:
                    touched[tbase + cnt] = idx
                    cnt += np.uint64(1)
                ring[pos] = x + w_all
        else:
            for s in range(s0, s1):
                w = syn_w[s]
                if w != 0.0:
                    idx = target[s]
                    pos = rbase + idx
                    x = ring[pos]
                    if x == 0.0:
                        touched[tbase + cnt] = idx
                        cnt += np.uint64(1)
                    ring[pos] = x + w
    st.touched_count[t] = np.int64(cnt)


@njit(cache=True, inline="always", error_model="numpy")
def _deliver_static(slot, net, st):
    """Step 6: add each spiking neuron's CSR row of static weights into the future ring slots."""
    n2, ring_length = 2 * net.n_neurons, net.ring_length
    for p in range(net.proj_pre_off.size):
        if net.proj_plastic[p]:
            continue
        pre_pop = net.proj_pre[p]
        lo, hi = st.spk_lo[pre_pop], st.spk_hi[pre_pop]
        if lo == hi:
            continue
        pre_off, row_off = net.proj_pre_off[p], net.proj_row_off[p]
        uniform_w = net.proj_uniform_weight[p] != 0
        w_all = net.proj_weight[p]
        if uniform_w and w_all == 0.0:
            continue  # adding +0.0 weights changes nothing
        delay = net.proj_delay[p]
        if delay > 0:
            t = slot + delay
            if t >= ring_length:
                t -= ring_length
            _deliver_rows_fixed(t, lo, hi, pre_off, row_off, uniform_w, w_all, net, st)
            continue
        for k in range(lo, hi):
            i = row_off + st.spikes[k] - pre_off
            for s in range(net.row_abs[i], net.row_abs[i + 1]):
                w = st.syn_w[s]
                if w != 0.0:
                    t = slot + net.syn_delay[s]
                    if t >= ring_length:
                        t -= ring_length
                    _add_to_ring(t, net.syn_target[s], w, st, n2)


@njit(cache=True, inline="always", error_model="numpy")
def _remember_spikes(slot, n_spk, net, st):
    """Step 7: history slot ``m % L`` now holds the spikes of step ``m`` (plastic arrivals)."""
    n = net.n_neurons
    base = slot * n
    for k in range(st.history_count[slot]):
        st.history[base + st.history_ids[base + k]] = 0
    for k in range(n_spk):
        g = st.spikes[k]
        st.history[base + g] = 1
        st.history_ids[base + k] = g
    st.history_count[slot] = n_spk


@njit(cache=True, inline="always", error_model="numpy")
def _sample(m, net, st, buf):
    """Step 1: copy the recorded values of every channel due at step ``m``."""
    for c in range(net.ch_kind.size):
        if m % net.ch_interval[c]:
            continue
        lo, hi = net.ch_idx_ptr[c], net.ch_idx_ptr[c + 1]
        out = buf.ch_out_off[c] + buf.ch_written[c] * (hi - lo)
        if net.ch_kind[c] == SAMPLE_STATE:
            row = net.ch_row[c] * net.n_neurons
            for k in range(lo, hi):
                buf.samples[out + k - lo] = st.state_flat[row + net.ch_idx[k]]
        else:
            for k in range(lo, hi):
                buf.samples[out + k - lo] = st.syn_w[net.ch_idx[k]]
        buf.ch_written[c] += 1


@njit(cache=True, inline="always", error_model="numpy")
def _advance(m_start, m_stop, draw_base, net, st, buf, draws):
    """Advance steps ``m_start .. m_stop - 1`` (see the module docstring for one step).

    Returns the first step not done: ``m_stop``, or earlier when the spike recording buffer could
    overflow in the next step (the host grows it and calls again).
    """
    plastic = net.pl_proj.size > 0
    for m in range(m_start, m_stop):
        if buf.spike_steps.size - buf.counters[0] < net.n_recorded:
            return m
        slot = m % net.ring_length
        _sample(m, net, st, buf)
        if plastic:
            _plastic_arrivals(m, slot, net, st)
        _apply_arrivals(slot, net, st)
        n_spk = _update_populations(m, m - draw_base, net, st, buf, draws)
        if plastic:
            _post_events(m, net, st)
        _deliver_static(slot, net, st)
        if plastic:
            _remember_spikes(slot, n_spk, net, st)
    return m_stop


@njit(**KERNEL_OPTIONS)
def _run_steps(m_start, m_stop, draw_base, net, st, buf, draws):
    """The exact kernel: :func:`_advance` compiled without fastmath (the default)."""
    return _advance(m_start, m_stop, draw_base, net, st, buf, draws)


@njit(**KERNEL_OPTIONS, fastmath=FAST_FLAGS)
def _run_steps_fast(m_start, m_stop, draw_base, net, st, buf, draws):
    """The non-exact kernel of the ``fastmath=True`` option (see :class:`NumbaSimulator`)."""
    return _advance(m_start, m_stop, draw_base, net, st, buf, draws)


# ------------------------------------------------------------------------------------------------
# SpiNNaker semantics: the step functions of snn.backends.spinnaker_semantics, per neuron and per
# synapse, in the order of the reference's _SpinnakerSchedule.step (module docstring, last list)


@njit(cache=True, inline="always", error_model="numpy")
def _lut_decay(lut, lut_off, lut_len, lag):
    """``spinn.lut_decay``: ``lut[lag]`` for ``0 <= lag < len``, else 0."""
    if lag >= 0 and lag < lut_len:
        return lut[lut_off + lag]
    return np.int64(0)


@njit(cache=True, inline="always", error_model="numpy")
def _fixed_mul(a, b):
    """``spinn.fixed_mul``: ``(a b) >> 11`` on int64 (an arithmetic shift, as NumPy's)."""
    return (a * b) >> STDP_FIXED_POINT


@njit(cache=True, inline="always", error_model="numpy")
def _add_spike_to_trace(time, last_time, last_trace, lut, lut_off, lut_len):
    """``spinn.add_spike_to_trace`` for one trace, wrapped to int16 as ``spinn.as_int16``."""
    decayed = _fixed_mul(last_trace, _lut_decay(lut, lut_off, lut_len, time - last_time))
    return ((decayed + STDP_FIXED_POINT_ONE + 32768) % 65536) - 32768


@njit(cache=True, inline="always", error_model="numpy")
def _spinnaker_if_curr_exp_block(v, syn_e, syn_i, timer, in_e, in_i, fired, c, ic):
    """``spinn.if_curr_exp_step`` on one block; reads and clears the block's ring arrivals.

    ``c`` holds the rows of :data:`SPINNAKER_FLOAT_CONSTS` (scalars or per-neuron slices),
    ``ic`` the refractory steps. Returns the number of spikes.
    """
    n_fired = np.int64(0)
    for j in range(v.size):
        i_exc = syn_e[j] + in_e[j] * _elem(c[6], j)
        i_inh = syn_i[j] + in_i[j] * _elem(c[7], j)
        in_e[j] = 0.0
        in_i[j] = 0.0
        timer_j = timer[j]
        free = timer_j <= 0
        alpha = (i_exc - i_inh + _elem(c[3], j)) * _elem(c[1], j) + _elem(c[0], j)
        v_old = v[j]
        v_new = alpha - _elem(c[2], j) * (alpha - v_old) if free else v_old
        timer_j = timer_j if free else timer_j - 1
        spiked = v_new >= _elem(c[4], j)
        v[j] = _elem(c[5], j) if spiked else v_new
        syn_e[j] = i_exc * _elem(c[8], j)
        syn_i[j] = i_inh * _elem(c[9], j)
        timer[j] = _elem(ic[0], j) if spiked else timer_j
        fired[j] = np.uint8(spiked)
        n_fired += np.int64(spiked)
    return n_fired


@njit(cache=True, inline="always", error_model="numpy")
def _spinnaker_populations(m, slot, draw_row, net, st, sst, buf, draws):
    """SpiNNaker step 2: every population in declaration order; fills the step's spike lists.

    The ring slot is read densely (every neuron's ``isyn + a init`` with ``a = +0.0`` when
    nothing arrived, as the reference's array expression) and cleared. Sources receive no
    synapses (the frontend refuses them), so their entries are never written.
    """
    n = net.n_neurons
    base = slot * 2 * n
    n_spk = 0
    s, fc, ic = st.state, net.fconst, net.iconst
    for p in range(net.pop_off.size):
        off, size, model = net.pop_off[p], net.pop_size[p], net.pop_model[p]
        st.spk_lo[p] = n_spk
        if model == SPIKE_ARRAY:
            ptr, hi = st.ssa_ptr[p], net.pop_ssa_hi[p]
            while ptr < hi and net.ssa_steps[ptr] < m:
                ptr += 1
            while ptr < hi and net.ssa_steps[ptr] == m:
                n_spk = _emit(m, off + net.ssa_ids[ptr], n_spk, st, net, buf)
                ptr += 1
            st.ssa_ptr[p] = ptr
            st.spk_hi[p] = n_spk
            continue
        uniform = net.pop_uniform[p] != 0
        for b0 in range(0, size, BLOCK):
            b1 = min(b0 + BLOCK, size)
            lo, hi = off + b0, off + b1
            fired = st.block_flags[: hi - lo]
            if model == POISSON:
                col = net.pop_draw_col[p]
                uniforms = draws[draw_row, col + b0 : col + b1]
                if uniform:
                    n_fired = _poisson_block(
                        m, uniforms, fired, _float_scalars(fc, lo), (ic[0, lo], ic[1, lo])
                    )
                else:
                    n_fired = _poisson_block(
                        m, uniforms, fired, _float_rows(fc, lo, hi), (ic[0, lo:hi], ic[1, lo:hi])
                    )
            else:  # IF_CURR_EXP (spinn.check_supported refused the others)
                v, se, si, timer = s[0, lo:hi], s[1, lo:hi], s[2, lo:hi], sst.refract_timer[lo:hi]
                in_e = st.ring[base + lo : base + hi]
                in_i = st.ring[base + n + lo : base + n + hi]
                if uniform:
                    n_fired = _spinnaker_if_curr_exp_block(
                        v, se, si, timer, in_e, in_i, fired, _float_scalars(fc, lo), (ic[0, lo],)
                    )
                else:
                    n_fired = _spinnaker_if_curr_exp_block(
                        v, se, si, timer, in_e, in_i, fired, _float_rows(fc, lo, hi),
                        (ic[0, lo:hi],),
                    )  # fmt: skip
            if n_fired:
                n_spk = _emit_flagged(m, lo, hi - lo, n_spk, st, net, buf)
        st.spk_hi[p] = n_spk
    return n_spk


@njit(cache=True, inline="always", error_model="numpy")
def _spinnaker_post_events(m, net, st, spn, sst):
    """SpiNNaker step 3: spiking neurons append ``(m, trace)`` to each plastic history.

    ``spinn.add_post_spikes``: the trace decays the last stored one and adds 1; a full buffer
    drops its oldest real entry (index 1) and keeps the placeholder (index 0).
    """
    cap = MAX_POST_SYNAPTIC_EVENTS
    times, traces, count = sst.post_times, sst.post_traces, sst.post_count
    for q in range(net.pl_proj.size):
        p = net.pl_proj[q]
        post_pop = net.proj_post[p]
        lo, hi = st.spk_lo[post_pop], st.spk_hi[post_pop]
        if lo == hi:
            continue
        post_off_n, post_off = net.proj_post_off[p], spn.pl_post_off[q]
        lm_off, lm_len = spn.pl_lm_off[q], spn.pl_lm_len[q]
        for k in range(lo, hi):
            u = post_off + st.spikes[k] - post_off_n
            h = u * cap
            n_events = count[u]
            last = h + n_events - 1
            trace = _add_spike_to_trace(m, times[last], traces[last], spn.lut, lm_off, lm_len)
            if n_events >= cap:
                for e in range(h + 1, h + cap - 1):
                    times[e] = times[e + 1]
                    traces[e] = traces[e + 1]
                entry = h + cap - 1
            else:
                entry = h + n_events
            times[entry] = m
            traces[entry] = trace
            count[u] = min(n_events + 1, cap)


@njit(cache=True, inline="always", error_model="numpy")
def _spinnaker_stdp_update(w, u, d, time, t_last, last_trace, q, spn, sst):
    """``spinn.stdp_pre_spike_update`` for one synapse (weight ``w``, post history ``u``).

    Potentiation by the history's real entries in ``(t_last - d, time - d]`` with a positive
    lag to the previous pre spike (integer sum, then ``A+ sum / 2048`` and the clamp to
    ``w_max``); depression by the latest entry at or before ``time - d``, lag 0 included unless
    the rule says otherwise, clamped to ``w_min``.
    """
    cap = MAX_POST_SYNAPTIC_EVENTS
    times, traces = sst.post_times, sst.post_traces
    h = u * cap
    n_events = sst.post_count[u]
    begin = t_last - d if t_last >= d else np.int64(0)
    end = time - d if time >= d else np.int64(0)
    lp_off, lp_len = spn.pl_lp_off[q], spn.pl_lp_len[q]
    total = np.int64(0)
    paired = False
    for e in range(h + 1, h + n_events):
        t_post = times[e]
        if t_post > begin and t_post <= end:
            lag_plus = t_post + d - t_last
            if lag_plus > 0:
                paired = True
                total += _fixed_mul(last_trace, _lut_decay(spn.lut, lp_off, lp_len, lag_plus))
    if paired:
        w = min(w + spn.pl_a_plus[q] * np.float64(total) / STDP_FIXED_POINT_ONE_F, spn.pl_w_max[q])
    prev = -1
    for e in range(n_events - 1, -1, -1):
        if times[h + e] <= end:
            prev = e
            break
    if prev >= 1:
        lag_minus = time - (times[h + prev] + d)
        if spn.pl_zero_lag[q] or lag_minus > 0:
            decay = _lut_decay(spn.lut, spn.pl_lm_off[q], spn.pl_lm_len[q], lag_minus)
            o1 = _fixed_mul(traces[h + prev], decay)
            w = max(
                w - spn.pl_a_minus[q] * np.float64(o1) / STDP_FIXED_POINT_ONE_F, spn.pl_w_min[q]
            )
    return w


@njit(cache=True, inline="always", error_model="numpy")
def _spinnaker_deliver(m, net, st, spn, sst):
    """SpiNNaker step 4: per projection in declaration order, this step's spikes into the ring.

    Static synapses add their weight at slot ``(m + d) % L``; plastic ones are updated lazily
    first and add the updated weight; then the spiking pre neuron's trace advances (it is read
    only by its own row, so advancing it after the row equals the reference's after-all order).
    """
    n2, ring_length = 2 * net.n_neurons, net.ring_length
    for p in range(net.proj_pre_off.size):
        pre_pop = net.proj_pre[p]
        lo, hi = st.spk_lo[pre_pop], st.spk_hi[pre_pop]
        if lo == hi:
            continue
        pre_off, row_off = net.proj_pre_off[p], net.proj_row_off[p]
        q = spn.proj_plastic_index[p]
        if q < 0:
            for k in range(lo, hi):
                i = row_off + st.spikes[k] - pre_off
                for s in range(net.row_abs[i], net.row_abs[i + 1]):
                    t = (m + net.syn_delay[s]) % ring_length
                    pos = t * n2 + net.syn_target[s]
                    st.ring[pos] = st.ring[pos] + st.syn_w[s]
            continue
        post_off = spn.pl_post_off[q]
        lp_off, lp_len = spn.pl_lp_off[q], spn.pl_lp_len[q]
        for k in range(lo, hi):
            local = st.spikes[k] - pre_off
            i = row_off + local
            r = spn.pl_pre_off[q] + local
            t_last, last_trace = sst.pre_time[r], sst.pre_trace[r]
            for s in range(net.row_abs[i], net.row_abs[i + 1]):
                d = net.syn_delay[s]
                u = post_off + net.syn_post[s]
                w = _spinnaker_stdp_update(st.syn_w[s], u, d, m, t_last, last_trace, q, spn, sst)
                st.syn_w[s] = w
                t = (m + d) % ring_length
                pos = t * n2 + net.syn_target[s]
                st.ring[pos] = st.ring[pos] + w
            sst.pre_trace[r] = _add_spike_to_trace(m, t_last, last_trace, spn.lut, lp_off, lp_len)
            sst.pre_time[r] = m


@njit(**KERNEL_OPTIONS)
def _run_spinnaker(m_start, m_stop, draw_base, net, st, spn, sst, buf, draws):
    """The kernel of the ``spinnaker`` semantics: steps ``m_start .. m_stop - 1``.

    Same return convention as :func:`_advance` (early return when the spike buffer could
    overflow).
    """
    for m in range(m_start, m_stop):
        if buf.spike_steps.size - buf.counters[0] < net.n_recorded:
            return m
        slot = m % net.ring_length
        _sample(m, net, st, buf)
        _spinnaker_populations(m, slot, m - draw_base, net, st, sst, buf, draws)
        _spinnaker_post_events(m, net, st, spn, sst)
        _spinnaker_deliver(m, net, st, spn, sst)
    return m_stop


# ------------------------------------------------------------------------------------------------
# host side


def _bitwise_uniform(values: NDArray[Any]) -> bool:
    """True when every element has the bits of the first (so a scalar reproduces them all)."""
    if values.size == 0:
        return True
    bits = values.view(np.int64) if values.dtype == np.float64 else values
    return bool((bits == bits[0]).all())


def _uniform_value(values: NDArray[Any], otherwise: Any) -> Any:
    """The common value of ``values`` when all are bitwise equal (and there are some), else
    ``otherwise``."""
    return values.flat[0] if values.size and _bitwise_uniform(values) else otherwise


def _i64(values: Any) -> IntArray:
    return np.ascontiguousarray(values, dtype=np.int64)


def _f64(values: Any) -> FloatArray:
    return np.ascontiguousarray(values, dtype=np.float64)


class NumbaSimulator:
    """Clock-driven simulation of a compiled network in Numba kernels (see module docstring).

    ``run`` may be called repeatedly and continues where it stopped.

    Option ``fastmath`` (bool, default ``False``): when true, the kernels are compiled with LLVM's
    ``contract`` and ``nsz`` fast-math flags (fused multiply-add, no signed zeros). Results are
    then **not** bit-identical to the NumPy reference: each multiply-add is rounded once instead
    of twice, so trajectories drift apart after a few hundred steps in chaotic networks, and only
    statistics agree (tested: firing rates of the Vogels-Abbott networks; in practice a rounding
    difference rarely flips a threshold crossing, and the spikes there were identical). It is
    faster only where arithmetic, not memory, is the bottleneck: about 15 % on ``IF_cond_exp``,
    nothing measurable on ``IF_curr_exp`` at N = 40000. The default is exact.

    Option ``precision`` (``"float64"``, the default, or ``"float32"``): the float type of state,
    constants, weights and neuron arithmetic (see :mod:`snn.backends.precision`). Float32 runs
    are bit-identical to the NumPy reference run in float32.
    """

    #: the options this backend accepts
    OPTIONS: tuple[str, ...] = ("fastmath", "precision")

    def __init__(self, compiled: CompiledNetwork, seed: int, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.OPTIONS))
        if unknown:
            raise ValueError(
                f"numba backend: unknown option(s) {', '.join(unknown)}; "
                f"valid options: {', '.join(self.OPTIONS)}"
            )
        fastmath = options.get("fastmath", False)
        if not isinstance(fastmath, bool | np.bool_):
            raise ValueError(f"numba backend: fastmath must be True or False, got {fastmath!r}")
        self.fastmath = bool(fastmath)
        self.precision = options.get("precision", "float64")
        self.dtype = precision_dtype("numba", self.precision, compiled.semantics)
        self.spinnaker = compiled.semantics == "spinnaker"
        if self.spinnaker:
            spinn.check_supported(compiled)
            if self.fastmath:
                raise ValueError(
                    "numba backend: fastmath=True is not available with the 'spinnaker' "
                    "semantics (they are bit-identical to the reference by definition); "
                    "leave fastmath at False"
                )
        self._kernel = _run_steps_fast if self.fastmath else _run_steps
        self.compiled = compiled
        self.seed = seed
        self.step = 0
        self.collector = RecordingCollector(compiled)
        self._net, self._st = self._lower(compiled)
        self._spin: tuple[_SpinNet, _SpinState] | None = (
            self._lower_spinnaker(compiled, self._net.n_neurons) if self.spinnaker else None
        )
        self._rngs = {
            p.index: run_generator(seed, p.index) for p in compiled.populations if p.is_poisson
        }
        n_poisson = sum(p.size for p in compiled.populations if p.is_poisson)
        self._chunk_steps = max(
            1, min(MAX_STEPS_PER_CHUNK, MAX_DRAWS_PER_CHUNK // max(1, n_poisson))
        )
        self._n_poisson = n_poisson
        cap = max(4096, 8 * self._net.n_recorded)
        self._spike_steps = np.zeros(cap, np.int64)
        self._spike_ids = np.zeros(cap, np.int64)

    # -- lowering --------------------------------------------------------------------------
    def _lower(self, c: CompiledNetwork) -> tuple[_Net, _State]:
        pops, projs = c.populations, c.projections
        sizes = np.array([p.size for p in pops], dtype=np.int64)
        pop_off = np.zeros(len(pops), np.int64)
        if len(pops):
            pop_off[1:] = np.cumsum(sizes)[:-1]
        n = int(sizes.sum())
        if 2 * n + 1 >= 2**31:
            raise ValueError(
                f"numba backend: {n} neurons in all; at most {2**30 - 1} are supported "
                "(ring entries are 32-bit indices)"
            )
        L = c.ring_length
        # the spinnaker semantics use their own IF_curr_exp constants and plastic state
        spinnaker = c.semantics == "spinnaker"
        fdt = self.dtype
        fconst = np.zeros((N_FLOAT_CONSTS, n), fdt)
        iconst = np.zeros((N_INT_CONSTS, n), np.int64)
        state = np.zeros((N_STATE_ROWS, n), fdt)
        # float32 precision keeps last_spike in int32 too, so that the refractory comparison has
        # the float width (8 lanes); "never" (-2**40) becomes -2**30, the same comparisons
        last_spike: NDArray[np.signedinteger[Any]] = np.zeros(
            n, np.int32 if fdt == np.float32 else np.int64
        )
        models, uniform, draw_col = [], [], []
        ssa_steps, ssa_ids, ssa_lo, ssa_hi = [], [], [], []
        n_ssa, n_draw = 0, 0
        for p, off in zip(pops, pop_off, strict=True):
            name = p.model.name
            if name not in MODEL_CODES:
                raise ValueError(
                    f"numba backend: population {p.label!r} uses neuron model {name!r}, which it "
                    f"cannot run; supported models: {', '.join(MODEL_CODES)}"
                )
            code = MODEL_CODES[name]
            models.append(code)
            sl = slice(int(off), int(off) + p.size)
            consts, float_rows, int_rows = p.consts, FLOAT_CONSTS[code], INT_CONSTS[code]
            if spinnaker and code == IF_CURR_EXP:
                consts = spinn.lower_if_curr_exp(p.params, c.dt)
                float_rows, int_rows = SPINNAKER_FLOAT_CONSTS, ("refrac_steps",)
            is_uniform = True
            for row, key in enumerate(float_rows):
                fconst[row, sl] = consts[key]
                is_uniform &= _bitwise_uniform(fconst[row, sl])
            for row, key in enumerate(int_rows):
                iconst[row, sl] = consts[key]
                is_uniform &= _bitwise_uniform(iconst[row, sl])
            uniform.append(int(is_uniform))
            for var, values in p.initial.items():
                if var == "last_spike":
                    last_spike[sl] = np.maximum(values, -(2**30))
                else:
                    state[STATE_ROWS[var], sl] = values
            draw_col.append(n_draw)
            if code == POISSON:
                n_draw += p.size
            ssa_lo.append(n_ssa)
            if code == SPIKE_ARRAY:
                ssa_steps.append(p.consts["spike_steps"])
                ssa_ids.append(p.consts["spike_ids"])
                n_ssa += int(p.consts["spike_steps"].size)
            ssa_hi.append(n_ssa)

        syn_off = np.zeros(len(projs), np.int64)
        row_off = np.zeros(len(projs), np.int64)
        n_syn, n_rows = 0, 0
        for k, pr in enumerate(projs):
            syn_off[k], row_off[k] = n_syn, n_rows
            n_syn += pr.weights.size
            n_rows += pr.row_ptr.size

        def cat(arrays: list[NDArray[Any]], dtype: Any) -> NDArray[Any]:
            return np.ascontiguousarray(
                np.concatenate(arrays) if arrays else np.zeros(0, dtype), dtype=dtype
            )

        plastic = [pr for pr in projs if pr.stdp is not None]
        pl_fields = "proj trace_off post_off col_off colptr_off max_delay kind alpha a_plus a_minus"
        pl: dict[str, list[Any]] = {k: [] for k in (pl_fields + " w_min w_max").split()}
        pl.update({k: [] for k in ("dp_off", "dp_len", "dm_off", "dm_len")})
        decay: list[FloatArray] = []
        n_trace = n_post = n_col = n_colptr = n_decay = 0
        for pr in plastic:
            rule = pr.stdp
            if rule is None:  # never: filtered above (narrows the type)
                continue
            pl["proj"].append(pr.index)
            pl["trace_off"].append(n_trace)
            pl["post_off"].append(n_post)
            pl["col_off"].append(n_col)
            pl["colptr_off"].append(n_colptr)
            pl["max_delay"].append(int(pr.delays.max()) if pr.delays.size else 0)
            pl["kind"].append(
                STDP_VOGELS
                if rule.vogels
                else STDP_MULTIPLICATIVE
                if rule.multiplicative
                else STDP_ADDITIVE
            )
            pl["alpha"].append(rule.alpha)
            pl["a_plus"].append(rule.A_plus)
            pl["a_minus"].append(rule.A_minus)
            pl["w_min"].append(rule.w_min)
            pl["w_max"].append(rule.w_max)
            pl["dp_off"].append(n_decay)
            pl["dp_len"].append(rule.decay_plus.size)
            pl["dm_off"].append(n_decay + rule.decay_plus.size)
            pl["dm_len"].append(rule.decay_minus.size)
            decay += [rule.decay_plus, rule.decay_minus]
            n_decay += rule.decay_plus.size + rule.decay_minus.size
            n_trace += pr.weights.size
            n_post += pops[pr.post].size
            n_col += pr.col_order.size
            n_colptr += pr.col_ptr.size

        # recording: spikes of recorded neurons, and sample channels (recorder, variable)
        record_mask = np.zeros(n, np.uint8)
        channels: list[tuple[str, str, int, int, IntArray, int]] = []
        for r in c.recorders:
            if r.kind == "projection":
                for var in r.variables:
                    idx = syn_off[r.target] + np.arange(projs[r.target].weights.size)
                    channels.append((r.label, var, SAMPLE_WEIGHTS, 0, idx, r.interval_steps))
                continue
            base = int(pop_off[r.target])
            if "spikes" in r.variables:
                record_mask[base + r.neurons] = 1
            for var in r.variables:
                if var != "spikes":
                    idx = base + r.neurons
                    channels.append(
                        (r.label, var, SAMPLE_STATE, STATE_ROWS[var], idx, r.interval_steps)
                    )
        self._channels = channels
        ch_idx_ptr = np.zeros(len(channels) + 1, np.int64)
        ch_idx_ptr[1:] = np.cumsum([ch[4].size for ch in channels])

        net = _Net(
            n_neurons=n,
            ring_length=L,
            pop_off=pop_off,
            pop_size=sizes,
            pop_model=_i64(models),
            pop_uniform=_i64(uniform),
            pop_draw_col=_i64(draw_col),
            pop_ssa_lo=_i64(ssa_lo),
            pop_ssa_hi=_i64(ssa_hi),
            fconst=fconst,
            iconst=iconst,
            ssa_steps=cat(ssa_steps, np.int64),
            ssa_ids=cat(ssa_ids, np.int64),
            proj_pre=_i64([pr.pre for pr in projs]),
            proj_post=_i64([pr.post for pr in projs]),
            proj_pre_off=_i64([pop_off[pr.pre] for pr in projs]),
            proj_pre_size=_i64([pops[pr.pre].size for pr in projs]),
            proj_post_off=_i64([pop_off[pr.post] for pr in projs]),
            proj_receptor=_i64([pr.receptor for pr in projs]),
            proj_syn_off=syn_off,
            proj_row_off=row_off,
            proj_plastic=_i64([pr.stdp is not None for pr in projs]),
            proj_delay=_i64([_uniform_value(pr.delays, 0) for pr in projs]),
            proj_uniform_weight=_i64([_bitwise_uniform(pr.weights) for pr in projs]),
            proj_weight=np.array([_uniform_value(pr.weights, np.nan) for pr in projs], fdt),
            row_ptr=cat([pr.row_ptr for pr in projs], np.int64),
            row_abs=cat([pr.row_ptr + syn_off[k] for k, pr in enumerate(projs)], np.int64),
            syn_post=cat([pr.post_idx for pr in projs], np.int64),
            syn_target=cat(
                [pr.receptor * n + pop_off[pr.post] + pr.post_idx for pr in projs], np.uint32
            ),
            syn_delay=cat([pr.delays for pr in projs], np.int64),
            pl_proj=_i64(pl["proj"]),
            pl_trace_off=_i64(pl["trace_off"]),
            pl_post_off=_i64(pl["post_off"]),
            pl_col_off=_i64(pl["col_off"]),
            pl_colptr_off=_i64(pl["colptr_off"]),
            pl_max_delay=_i64(pl["max_delay"]),
            pl_kind=_i64(pl["kind"]),
            pl_alpha=_f64(pl["alpha"]),
            pl_a_plus=_f64(pl["a_plus"]),
            pl_a_minus=_f64(pl["a_minus"]),
            pl_w_min=_f64(pl["w_min"]),
            pl_w_max=_f64(pl["w_max"]),
            pl_dp_off=_i64(pl["dp_off"]),
            pl_dp_len=_i64(pl["dp_len"]),
            pl_dm_off=_i64(pl["dm_off"]),
            pl_dm_len=_i64(pl["dm_len"]),
            col_order=cat([pr.col_order for pr in plastic], np.int64),
            col_ptr=cat([pr.col_ptr for pr in plastic], np.int64),
            decay=cat(decay, np.float64),
            record_mask=record_mask,
            n_recorded=int(record_mask.sum()),
            ch_kind=_i64([ch[2] for ch in channels]),
            ch_row=_i64([ch[3] for ch in channels]),
            ch_interval=_i64([ch[5] for ch in channels]),
            ch_idx_ptr=ch_idx_ptr,
            ch_idx=cat([ch[4] for ch in channels], np.int64),
        )
        never = np.iinfo(np.int64).min // 4  # the reference's "no event yet" for STDP
        hist_n = L * n if plastic and not spinnaker else 0
        if spinnaker:  # exact-semantics STDP state and touched lists are unused
            n_trace = n_post = 0
        block_flags = np.zeros(BLOCK, np.uint8)  # BLOCK is a multiple of 8
        st = _State(
            state=state,
            state_flat=state.reshape(-1),
            last_spike=last_spike,
            ring=np.zeros(L * 2 * n, fdt),
            touched=np.zeros(0 if spinnaker else L * (2 * n + 1), np.uint32),
            touched_count=np.zeros(L, np.int64),
            syn_w=cat([pr.weights for pr in projs], fdt),
            pre_trace=np.zeros(n_trace),
            pre_last=np.full(n_trace, never, np.int64),
            post_trace=np.zeros(n_post),
            post_last=np.full(n_post, never, np.int64),
            history=np.zeros(hist_n, np.uint8),
            history_ids=np.zeros(hist_n, np.int64),
            history_count=np.zeros(L, np.int64),
            ssa_ptr=_i64(ssa_lo),
            spikes=np.zeros(n, np.int64),
            spk_lo=np.zeros(len(pops), np.int64),
            spk_hi=np.zeros(len(pops), np.int64),
            block_flags=block_flags,
            block_flags64=block_flags.view(np.uint64),
            block_words=np.zeros(BLOCK // 8, np.int64),
        )
        return net, st

    def _lower_spinnaker(self, c: CompiledNetwork, n_neurons: int) -> tuple[_SpinNet, _SpinState]:
        """Plastic constants and state of the ``spinnaker`` semantics (rules lowered by
        :meth:`spinn.SpinnakerSTDP.lower`, as the reference does)."""
        pops = c.populations
        plastic = [pr for pr in c.projections if pr.stdp is not None]
        index = np.full(len(c.projections), -1, np.int64)
        fields = "pre_off post_off a_plus a_minus w_min w_max zero_lag lp_off lp_len lm_off lm_len"
        pl: dict[str, list[Any]] = {k: [] for k in fields.split()}
        luts: list[IntArray] = []
        n_pre = n_post = n_lut = 0
        for q, pr in enumerate(plastic):
            if pr.stdp is None:  # never: filtered above (narrows the type)
                continue
            rule = spinn.SpinnakerSTDP.lower(pr.stdp, c.dt)
            index[pr.index] = q
            pl["pre_off"].append(n_pre)
            pl["post_off"].append(n_post)
            pl["a_plus"].append(rule.A_plus)
            pl["a_minus"].append(rule.A_minus)
            pl["w_min"].append(rule.w_min)
            pl["w_max"].append(rule.w_max)
            pl["zero_lag"].append(int(rule.depress_at_zero_lag))
            pl["lp_off"].append(n_lut)
            pl["lp_len"].append(rule.lut_plus.size)
            pl["lm_off"].append(n_lut + rule.lut_plus.size)
            pl["lm_len"].append(rule.lut_minus.size)
            luts += [rule.lut_plus, rule.lut_minus]
            n_lut += rule.lut_plus.size + rule.lut_minus.size
            n_pre += pops[pr.pre].size
            n_post += pops[pr.post].size
        spn = _SpinNet(
            proj_plastic_index=index,
            pl_pre_off=_i64(pl["pre_off"]),
            pl_post_off=_i64(pl["post_off"]),
            pl_a_plus=_f64(pl["a_plus"]),
            pl_a_minus=_f64(pl["a_minus"]),
            pl_w_min=_f64(pl["w_min"]),
            pl_w_max=_f64(pl["w_max"]),
            pl_zero_lag=_i64(pl["zero_lag"]),
            pl_lp_off=_i64(pl["lp_off"]),
            pl_lp_len=_i64(pl["lp_len"]),
            pl_lm_off=_i64(pl["lm_off"]),
            pl_lm_len=_i64(pl["lm_len"]),
            lut=_i64(np.concatenate(luts) if luts else np.zeros(0, np.int64)),
        )
        # every history starts with its placeholder entry (time 0, trace 0) alone
        sst = _SpinState(
            refract_timer=np.zeros(n_neurons, np.int64),
            pre_time=np.zeros(n_pre, np.int64),
            pre_trace=np.zeros(n_pre, np.int64),
            post_times=np.zeros(n_post * MAX_POST_SYNAPTIC_EVENTS, np.int64),
            post_traces=np.zeros(n_post * MAX_POST_SYNAPTIC_EVENTS, np.int64),
            post_count=np.ones(n_post, np.int64),
        )
        return spn, sst

    # -- running ---------------------------------------------------------------------------
    def run(self, n_steps: int) -> None:
        """Advance the simulation by ``n_steps`` steps (in chunks of at most ``_chunk_steps``)."""
        if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 0:
            raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
        if self._st.last_spike.dtype == np.int32 and self.step + n_steps >= 2**31:
            raise ValueError(
                f"numba backend: precision='float32' counts steps in int32: at most {2**31 - 1} "
                f"steps in all, asked to reach {self.step + n_steps}; use precision='float64'"
            )
        done = 0
        while done < n_steps:
            k = min(int(n_steps) - done, self._chunk_steps)
            self._run_chunk(k)
            done += k

    def _run_chunk(self, k: int) -> None:
        m0 = self.step
        draws = np.empty((k, self._n_poisson))
        for p in self.compiled.populations:
            if p.is_poisson:
                col = int(self._net.pop_draw_col[p.index])
                draws[:, col : col + p.size] = self._rngs[p.index].random((k, p.size))
        # sample steps of each channel in [m0, m0 + k)
        steps_of = []
        ch_out_off = np.zeros(len(self._channels), np.int64)
        total = 0
        for ci, ch in enumerate(self._channels):
            interval = ch[5]
            first = -(-m0 // interval) * interval
            steps = np.arange(first, m0 + k, interval, dtype=np.int64)
            steps_of.append(steps)
            ch_out_off[ci] = total
            total += steps.size * ch[4].size
        buf = _Buffers(
            spike_steps=self._spike_steps,
            spike_ids=self._spike_ids,
            counters=np.zeros(1, np.int64),
            samples=np.empty(total),
            ch_out_off=ch_out_off,
            ch_written=np.zeros(len(self._channels), np.int64),
        )
        m = m0
        while m < m0 + k:
            if self._spin is None:
                m = int(self._kernel(m, m0 + k, m0, self._net, self._st, buf, draws))
            else:
                spn, sst = self._spin
                m = int(_run_spinnaker(m, m0 + k, m0, self._net, self._st, spn, sst, buf, draws))
            if m < m0 + k:  # grow the spike buffers and continue
                cap = 2 * buf.spike_steps.size
                steps_b, ids_b = np.zeros(cap, np.int64), np.zeros(cap, np.int64)
                used = int(buf.counters[0])
                steps_b[:used] = buf.spike_steps[:used]
                ids_b[:used] = buf.spike_ids[:used]
                self._spike_steps, self._spike_ids = steps_b, ids_b
                buf = buf._replace(spike_steps=steps_b, spike_ids=ids_b)
        self.step = m0 + k
        self._harvest(buf, steps_of)

    def _harvest(self, buf: _Buffers, steps_of: list[IntArray]) -> None:
        used = int(buf.counters[0])
        if used:
            steps, gids = buf.spike_steps[:used].copy(), buf.spike_ids[:used].copy()
            self.collector.add_global_spikes(steps, gids, self._net.pop_off)
        for ci, (label, var, _kind, _row, idx, _interval) in enumerate(self._channels):
            n_samples, width = steps_of[ci].size, idx.size
            if n_samples:
                lo = int(buf.ch_out_off[ci])
                values = buf.samples[lo : lo + n_samples * width].reshape(n_samples, width)
                self.collector.add_sample_block(label, var, steps_of[ci], values.copy())

    def recording(self, duration: float) -> Recording:
        """The recording so far, in the same format (and values) as the NumPy reference's."""
        return self.collector.build(duration, "numba", self.seed)
