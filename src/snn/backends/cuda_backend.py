"""The CUDA backend: the NumPy reference's semantics in persistent numba-cuda kernels.

The ``exact`` semantics run in the kernel described below; the ``spinnaker`` semantics in a
kernel of their own (:mod:`snn.backends.cuda_spinnaker`; see "SpiNNaker semantics" below).

Kernels come from the ``numba-cuda`` package (Numba's built-in CUDA target is deprecated). Without
a GPU, set ``NUMBA_ENABLE_CUDASIM=1`` **before** ``numba.cuda`` is first imported and the same
kernels run on Numba's CPU simulator (slowly: about 1 ms per simulated thread and launch, plus
interpreted Python per neuron; keep networks tiny there).

Device-resident data
--------------------
Neuron state (``state[row, neuron]``: v, the synaptic variable of each receptor, w, theta),
``last_spike``, the per-neuron constants, the synapse tables, the ring buffer of delayed input
(``ring[(slot * 2 + receptor) * N + neuron]``), the spike flags of the last ``L`` steps
(``flags[slot * N + neuron]``) and the STDP state (plastic weights, per-synapse pre traces and
steps of their last pre event, per (projection, post neuron) post traces and steps, the rules'
decay tables) live on the device for the whole run, and with ``poisson_rng="device"`` the
generator state of every Poisson neuron. Per chunk of at most :data:`MAX_STEPS_PER_CHUNK` steps
the host copies in the Poisson uniforms of the chunk (``poisson_rng="host"``, the default) and
copies back the recorded spikes and state samples.

Constants are the reference's own (computed once in NumPy by :mod:`snn.compiled`); a population
whose constants are all equal stores one column, which every neuron of it reads (one cached
load instead of one per neuron).

One kernel launch runs a chunk; one grid-wide barrier (cooperative launch) separates the phases
of a step. Step ``m`` (``slot = m % L``), in the reference's order:

A. **per neuron** (grid-stride loop, the same thread owns the same neurons in every phase):
   write the samples due at ``m`` (state, and the weights of the neuron's incoming plastic
   synapses, before arrivals); take this step's static arrivals from the ring and clear them;
   **plastic arrivals**; the model update (``IF_curr_exp``, ``IF_cond_exp``, ``AdaptiveLIF``
   as their ``step``; ``SpikeSourcePoisson`` compares this step's uniform with ``p_spike``;
   ``SpikeSourceArray`` advances a per-neuron pointer into its sorted spike steps); **post
   events**; a spike sets the neuron's flag of this step, and, when the neuron is recorded,
   appends ``(m, neuron)`` to the spike buffer (an atomic counter per step gives the position);
B. grid barrier; then **static delivery** into ``ring[(m + delay) % L]``, by the ``delivery``
   option:

   * ``"gather"`` (default, deterministic): the thread owning target neuron ``j`` walks ``j``'s
     incoming synapses in (projection declaration order, synapse order) and adds the weight of
     each whose presynaptic neuron spiked at ``m``. Every ring entry therefore receives exactly
     the reference's additions in the reference's order (emission step, projection, synapse),
     without atomics, and results equal the reference's **bit for bit** (in either
     precision, against the reference run in the same precision). Cost: every
     synapse's presynaptic flag is read every step (memory-bound: a 4-byte index per synapse,
     coalesced because the table is sliced ELL: per slice of 32 neurons, the q-th incoming
     synapses of its neurons are adjacent; padding to the slice's largest in-degree);
   * ``"scatter"``: neurons that spiked are appended to a list; one thread per spiking neuron
     walks its outgoing row and adds with ``cuda.atomic.add``. Cost is per synaptic event, but
     the order of float additions into a ring entry is whatever the atomics make it, so sums
     may differ from the reference in the last bits (relative ~1e-16 in float64, ~6e-8 in
     float32). Spikes are
     identical unless a membrane potential lands within that rounding of the threshold; in
     chaotic networks the trajectories then drift apart, as with any reordering. Tested: spikes
     exactly and state to ``rtol = 1e-12`` on short runs. A second grid barrier follows (step
     ``m + 1`` reads entries other threads add to).

   In ``"gather"`` mode one barrier per step suffices: the next step's arrivals of ``j`` are
   written by ``j``'s own thread, and step ``m + 1`` writes the flags of another slot
   (``L >= 2``) than the one step ``m``'s delivery reads.

**STDP** (exact semantics, :mod:`snn.plasticity`) is a per-post-neuron gather too. Plastic
synapses are in a second sliced-ELL table over their post neuron, each neuron's in the
reference's order (plastic projection declaration order, then synapse storage order), with their
global pre neuron, ``delay * 2 + receptor``, weight (in the run's precision), rule row, pre
trace and last pre step. Every piece of plastic state belongs to one post neuron (a synapse's weight
and pre trace to its target, post traces to their neuron), so the thread that owns ``j`` does
all of ``j``'s plasticity, in phase A, without atomics or extra barriers:

* **plastic arrivals** (after reading the static arrivals, before the model update): for each
  plastic synapse onto ``j`` whose pre neuron's flag of step ``m - delay`` is set (flags are
  kept ``L`` steps, ``delay <= L - 1``, written by their owners before a barrier): depress by
  ``j``'s post trace (``w - A- x_post``, ``w - A- (w - w_min) x_post`` or, for
  :class:`~snn.plasticity.InhibitorySTDP`, ``w + A- (x_post - alpha)``), clip, store, add the
  stored weight to ``j``'s arrivals of its receptor, bump the pre trace. The arrivals start from
  the ring entry (the static sum), so ``j`` receives the reference's additions in its order:
  the static sum, then its ``np.add.at`` of plastic weights in synapse order;
* **post events** (after the model update, when ``j`` spiked): potentiate each plastic synapse
  onto ``j`` by its pre trace (``A+ x_pre`` or ``A+ (w_max - w) x_pre``), clip; then bump ``j``'s
  post trace of every plastic projection onto its population.

Traces decay by the rules' tables (``decay[min(m - last, len - 1)]``), with the reference's
"never" step (``int64 min // 4``) before a first event; their arithmetic is float64 in either
precision (weights are stored in the run's precision, so rounded to float32 in float32, and
re-read before delivery, as the reference does), with every product ``_mul_exact``. With
``delivery="scatter"`` only static synapses are scattered: plasticity is the same gather, and
weights depend on spike steps only, so they equal the reference's whenever the spikes do. A
network without plastic projections runs a kernel compiled without this code.

Floating-point parity (``precision="float64"``, the default, and ``"float32"``) rests on the
facts that make the Numba CPU backend exact, plus two CUDA-specific ones:

* NVVM contracts ``a * b + c`` into a fused multiply-add by default (``-fma=1``; numba-cuda has no
  switch for it outside fastmath), which rounds once instead of twice. Every float64 product in
  the kernel is therefore ``libdevice.dmul_rn`` (``mul.rn.f64``, which is never fused);
  additions, subtractions and IEEE division (``div.rn.f64``/``div.rn.f32``: NVVM's
  ``-prec-div=1``, numba-cuda's default without fastmath) need nothing. ``IF_cond_exp``'s
  ``exp`` is :func:`snn.arith.exp_arith_kernel` rewritten with the same operations in the same
  order (:func:`_exp_exact`), bit reinterpretation by
  ``libdevice.double_as_longlong``/``longlong_as_double``;
* no flush-to-zero: float64 has none on NVIDIA GPUs, and float32 subnormals are kept too
  unless fastmath's ``-ftz=1`` is given (it is not), as in NumPy.

``precision="float32"`` (:mod:`snn.backends.precision`) halves the memory traffic and is
exact the same way, against the reference run with ``precision="float32"``: state, constants
(the reference's, rounded), static and plastic weights and the ring are float32, and every
neuron update is float32 arithmetic in the reference's order (``IF_curr_exp``, ``IF_cond_exp``
and ``AdaptiveLIF`` share the float64 source above, compiled for float32 operands). Products are
``libdevice.fmul_rn`` (``__fmul_rn``, ``mul.rn.f32``: never fused; :func:`_mul_exact32`);
``IF_cond_exp``'s ``exp`` is :func:`snn.arith.exp_arith32_kernel` rewritten with the same
operations in the same order (:func:`_exp_exact32`), bit reinterpretation by
``libdevice.float_as_int``/``int_as_float``; the literal zero of ``AdaptiveLIF``'s increments is
a float32 constant (a float64 literal would promote the sum). Poisson ``p_spike`` is rounded to
float32, as the reference's constant, and compared with the float64 uniforms; refractory tests
and ``last_spike`` stay int64; STDP traces and arithmetic stay float64 with exact products, the
new weight rounded to float32 when stored.

Under the simulator the same kernel source runs as Python on NumPy scalars (IEEE operations one
by one, in the operands' type), so the simulator checks the order of operations in both
precisions; the no-FMA property of the compiled code is checked on PTX (``cuda.compile_ptx``,
which needs only NVVM, no GPU), and, without NVVM, on the kernel's LLVM IR (no plain ``fmul``:
every product is a ``__nv_dmul_rn``/``__nv_fmul_rn`` call).

Randomness: a Poisson neuron spikes at step ``m`` when its uniform ``u`` of that step is below
``p_spike`` (and ``m`` is in its ``[start, stop)`` window; a uniform is drawn at every step, in
the window or not). Where ``u`` comes from is the ``poisson_rng`` option:

* ``"host"`` (default, exact): drawn **on the host** from the reference's per-population
  generators (:func:`snn.network.run_generator`), ``rng.random((k, size))`` per chunk of ``k``
  steps, which is the reference's ``k`` calls of ``rng.random(size)``, and copied to the device;
  so the same seed gives the same source spikes on every backend. For huge Poisson populations
  this drawing and copying (8 bytes per Poisson neuron and step) dominates the run;
* ``"device"``: drawn **on the device**, by numba-cuda's xoroshiro128+ generators
  (:mod:`numba.cuda.random`), **one generator state per Poisson neuron** (16 bytes, resident
  for the whole run; nothing is drawn or copied per chunk). Neuron ``i`` of a Poisson population
  owns state ``i`` of its population's block (:func:`device_rng_states`, once, at
  construction), which :func:`numba.cuda.random.init_xoroshiro128p_states` (the initialisation
  of ``create_xoroshiro128p_states``) fills from the 64-bit seed :func:`device_rng_seed` of
  ``(run seed, population index)``, a child of the sequence behind the reference's generator:
  state ``i`` starts ``2**64`` draws after state ``i - 1``, so the streams of a population never
  overlap, and populations start from unrelated seeds. Each step the thread that owns the
  neuron draws ``xoroshiro128p_uniform_float64`` from its state (53 random bits in ``[0, 1)``,
  as NumPy's ``random``), so the uniform of neuron ``i`` at step ``m`` is the ``(m + 1)``-th
  output of its own generator whatever the grid, block size, chunking or other populations: the
  same seed gives the same spikes run to run (on the simulator as on a GPU), another seed other
  spikes. They are **not** the reference's spikes (another generator), only equal in
  distribution: Bernoulli(``p_spike``) per step, independent across steps and neurons.
  Everything downstream (delivery, neuron updates, STDP) is unchanged, and exact given them.

Recording: spikes of recorded neurons go to a device buffer of ``(step, neuron)`` pairs; when it
could overflow in the next step, every thread stops at the same step boundary (their decision
reads per-step counters that only change before the barrier), the host harvests the buffer,
doubles it and relaunches. State samples of a chunk go to a buffer laid out per channel
(recorder, variable), written by the thread that owns the neuron; the weights of a plastic
projection are a channel too, each weight written by the thread that owns its post neuron.

**SpiNNaker semantics.** A network with ``semantics="spinnaker"`` runs in a separate persistent
kernel, :mod:`snn.backends.cuda_spinnaker` (sharing with the exact kernel above only the device
functions of samples, sources, arrivals, spike recording and the overflow stop), which
follows the reference's ``_SpinnakerSchedule.step`` and evaluates the pure functions of
:mod:`snn.backends.spinnaker_semantics` per neuron and per synapse, rewritten as device functions
with the same operations in the same order (as the Numba backend's ``_run_spinnaker`` does):
``IF_curr_exp`` with sPyNNaker's constants (``lower_if_curr_exp``: arrival scaling, closed-form
membrane or refractory countdown, ``v >= v_thresh``, reset, synaptic decay), sources as above,
additive pair STDP with its 16-entry post-spike histories and fixed-point, int16-wrapped traces
(``add_post_spikes``, ``stdp_pre_spike_update``, ``add_spike_to_trace``). Per step: phase A per
neuron (samples, update, post-history appends, the neuron's presynaptic rows of plastic
projections advanced, their state before the spike kept in a slot of the step's parity), one
grid barrier, phase B a gather by target of **all** synapses in (projection declaration order,
synapse order), static and plastic interleaved as in the reference; a plastic synapse whose pre
neuron spiked is updated lazily (from its target's history and the saved pre row) and delivers
its updated weight. Results equal the reference's bit for bit (spikes, ``v``, ``isyn_*``,
weights; tested on the simulator against the random plastic networks of the Numba backend's
parity tests), with ``poisson_rng="host"``; ``poisson_rng="device"`` and ``threads_per_block``
work as above. ``precision="float32"`` (the semantics take no precision, as on every backend)
and ``delivery="scatter"`` (float atomics are not bit-identical) are refused in the
constructor, and so is whatever the reference refuses under these semantics (``IF_cond_exp``,
``AdaptiveLIF``, multiplicative and inhibitory STDP: ``spinnaker_semantics.check_supported``,
with the reference's message). That kernel has been typed and lowered to LLVM IR for sm_90
(every product a ``__nv_dmul_rn`` call, no plain ``fmul``) and run on the simulator; it has not
yet been compiled to PTX (no NVVM here) or run on a GPU.

Not supported (refused in the constructor, before anything is compiled or launched):
deep-network models; the message names what runs them.

On a GPU, compiling needs NVVM and libdevice, and the grid barrier links ``libcudadevrt``: a CUDA
toolkit, or the wheels of ``pip install "numba-cuda[cu12]"`` (``[cu13]`` with a CUDA 13 driver).
The kernels have been compiled to PTX for sm_90 and run on the simulator; on a GPU,
``benchmarks/gpu_scaling.py`` compares the rasters with the Numba backend's (``= numba``).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
from numba import cuda
from numba.core.errors import NumbaDeprecationWarning
from numba.cuda import libdevice
from numpy.typing import NDArray

from snn import arith
from snn.backends import spinnaker_semantics as spinn
from snn.backends.numba_backend import (
    ADAPTIVE_LIF,
    IF_COND_EXP,
    IF_CURR_EXP,
    MODEL_CODES,
    N_STATE_ROWS,
    POISSON,
    SPIKE_ARRAY,
    SPINNAKER_FLOAT_CONSTS,
    STATE_ROWS,
    STDP_ADDITIVE,
    STDP_MULTIPLICATIVE,
    STDP_VOGELS,
)
from snn.backends.precision import precision_dtype
from snn.compiled import CompiledNetwork, CompiledPopulation
from snn.network import run_generator
from snn.recording import Recording, RecordingCollector

with warnings.catch_warnings():
    # under the simulator, numba-cuda's random module decorates with numba.jit(nopython=False)
    # (object mode on NumPy uint64 scalars), which Numba flags as deprecated on import
    warnings.simplefilter("ignore", NumbaDeprecationWarning)
    from numba.cuda.random import (
        init_xoroshiro128p_states,
        xoroshiro128p_dtype,
        xoroshiro128p_uniform_float64,
    )

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def simulator_enabled() -> bool:
    """Whether ``numba.cuda`` was imported with ``NUMBA_ENABLE_CUDASIM=1`` (the CPU simulator)."""
    # the environment variable is read once, at that import: what counts is which ``jit`` it made
    return str(getattr(cuda.jit, "__module__", "")).startswith("numba.cuda.simulator")


SIMULATOR = simulator_enabled()


def unavailable_reason() -> str | None:
    """``None`` when kernels can run here (a GPU, or the simulator), else why not."""
    if SIMULATOR or cuda.is_available():
        return None
    return (
        "no CUDA GPU or driver was found; set NUMBA_ENABLE_CUDASIM=1 before numba.cuda is first "
        "imported to run the kernels on Numba's CPU simulator (slow: tiny networks only)"
    )


# model codes (per neuron, dispatched on inside the kernel) and the state-table rows: the
# Numba CPU backend's (its constant tables differ: see below)
#: rows of the float constant table ``fconst[row, column]`` per model (the Numba backend's)
FLOAT_CONSTS: dict[int, tuple[str, ...]] = {
    IF_CURR_EXP: ("v_inf", "p_mm", "c_exc", "c_inh", "p_exc", "p_inh", "v_thresh", "v_reset"),
    IF_COND_EXP: (
        "g_leak", "i_leak", "e_exc", "e_inh", "k_mem", "p_exc", "p_inh", "v_thresh", "v_reset"
    ),
    ADAPTIVE_LIF: (
        "v_inf", "p_mm", "c_exc", "c_inh", "p_exc", "p_inh", "v_thresh", "v_reset",
        "c_w", "p_w", "b", "p_theta", "delta_theta",
    ),
    POISSON: (),
    SPIKE_ARRAY: (),
}  # fmt: skip
N_FLOAT_CONSTS = 13
#: rows of the integer constant table ``iconst[row, column]``
INT_CONSTS: dict[int, tuple[str, ...]] = {
    IF_CURR_EXP: ("refrac_steps",),
    IF_COND_EXP: ("refrac_steps",),
    ADAPTIVE_LIF: ("refrac_steps",),
    POISSON: ("refrac_steps", "start_step", "stop_step"),  # row 0 unused (0)
    SPIKE_ARRAY: (),
}
N_INT_CONSTS = 3

DELIVERIES = ("gather", "scatter")
#: where Poisson uniforms come from: the reference's host generators (exact) or device ones
POISSON_RNGS = ("host", "device")

#: most steps per chunk, and most Poisson uniforms (float64) drawn ahead per chunk
MAX_STEPS_PER_CHUNK = 2000
MAX_DRAWS_PER_CHUNK = 1 << 22
#: threads per block on a GPU, and in the simulator (which runs one Python thread per CUDA thread)
GPU_THREADS_PER_BLOCK = 256
#: neurons per slice of the gather table (a warp: coalesced reads)
SLICE = 32
SIM_THREADS_PER_BLOCK = 4
#: the spinnaker kernel in the simulator: 32 threads ran a 117-neuron network 22x faster than 4
#: (1.7 s vs 38 s for 20 steps; the exact kernel is fastest at 4)
SIM_SPINNAKER_THREADS_PER_BLOCK = 32

#: columns of the plastic rule tables ``rule_f[q, column]`` (float64) and ``rule_i[q, column]``
#: (int64), one row per plastic projection ``q`` in declaration order
RULE_A_PLUS, RULE_A_MINUS, RULE_ALPHA, RULE_W_MIN, RULE_W_MAX, N_RULE_F = 0, 1, 2, 3, 4, 5
# kind (STDP_*), offsets and lengths of the decay tables in ``decay``, and the post-trace base:
# the trace of (q, global neuron j) is post_trace[rule_i[q, RULE_POST_BASE] + j]
RULE_KIND, RULE_DP_OFF, RULE_DP_LEN, RULE_DM_OFF, RULE_DM_LEN, RULE_POST_BASE, N_RULE_I = range(7)
#: the reference's "no event yet" step of the STDP traces (``m - NEVER`` caps to a zero decay)
NEVER = np.iinfo(np.int64).min // 4

# counters[...] of one launch: recorded spikes per step (by m % 3), spiking neurons per step
# (scatter; by m % 3), the step the launch stopped at, recorded spikes written in the launch
C_REC, C_SPK, C_STOP, C_TOTAL, N_COUNTERS = 0, 3, 6, 7, 8

# ------------------------------------------------------------------------------------------------
# device arithmetic

_dmul: Callable[[Any, Any], Any]
_double_bits: Callable[[Any], Any]
_bits_double: Callable[[Any], Any]
_fmul: Callable[[Any, Any], Any]
_float_bits: Callable[[Any], Any]
_bits_float: Callable[[Any], Any]

if SIMULATOR:
    # the simulator runs kernels as Python on NumPy scalars: IEEE operations one at a time, and
    # libdevice's stubs return None there. The float32 stand-ins convert their arguments as the
    # libdevice signatures do on a GPU (float32, int32)

    def _sim_dmul(x: Any, y: Any) -> Any:
        return x * y

    def _sim_double_bits(x: Any) -> Any:
        return np.float64(x).view(np.int64)

    def _sim_bits_double(bits: Any) -> Any:
        return np.int64(bits).view(np.float64)

    def _sim_fmul(x: Any, y: Any) -> Any:
        return np.float32(x) * np.float32(y)

    def _sim_float_bits(x: Any) -> Any:
        return np.float32(x).view(np.int32)

    def _sim_bits_float(bits: Any) -> Any:
        return np.int32(bits).view(np.float32)

    _dmul, _double_bits, _bits_double = _sim_dmul, _sim_double_bits, _sim_bits_double
    _fmul, _float_bits, _bits_float = _sim_fmul, _sim_float_bits, _sim_bits_float
else:  # pragma: no cover (needs a GPU)
    _dmul = libdevice.dmul_rn  # mul.rn.f64: never fused into an FMA
    _double_bits = libdevice.double_as_longlong
    _bits_double = libdevice.longlong_as_double
    _fmul = libdevice.fmul_rn  # mul.rn.f32 (__fmul_rn): never fused either
    _float_bits = libdevice.float_as_int
    _bits_float = libdevice.int_as_float


@cuda.jit(device=True)
def _mul_exact(x: Any, y: Any) -> Any:
    """``x * y`` rounded on its own (never contracted into a fused multiply-add)."""
    return _dmul(x, y)


@cuda.jit(device=True)
def _mul_exact32(x: Any, y: Any) -> Any:
    """float32 ``x * y`` rounded on its own (``libdevice.fmul_rn``: never contracted)."""
    return _fmul(x, y)


@cuda.jit(device=True)
def _mul_plain(x: Any, y: Any) -> Any:
    """``x * y``; the compiler may fuse it with an addition (not used by the step kernel)."""
    return x * y


@cuda.jit(device=True)
def _exp_exact(x: Any) -> Any:
    """:func:`snn.arith.exp_arith_kernel` for one float64: the same operations, in the same order.

    ``exp(x) = 2^n e^r`` with ``n = round(x / ln 2)`` (shifter trick), ``r`` by a two-part
    ``ln 2``, ``e^r`` by a degree-13 Taylor polynomial (Estrin), scaled by two powers of two.
    Every product is ``_dmul`` (``libdevice.dmul_rn`` on a GPU).
    """
    # arith.clamp as comparisons: nan stays nan, as in np.minimum(np.maximum(...)) (PTX's
    # min.f64/max.f64 would return the other operand)
    xc = arith.X_MIN if x < arith.X_MIN else x
    xc = arith.X_MAX if xc > arith.X_MAX else xc
    shifted = _dmul(xc, arith.INV_LN2) + arith.SHIFTER
    n = _double_bits(shifted) - arith.SHIFTER_BITS
    nf = shifted - arith.SHIFTER
    r = (xc - _dmul(nf, arith.LN2_HI)) - _dmul(nf, arith.LN2_LO)
    r2 = _dmul(r, r)
    r4 = _dmul(r2, r2)
    p01 = (arith.C2 + _dmul(arith.C3, r)) + _dmul(arith.C4 + _dmul(arith.C5, r), r2)
    p23 = (arith.C6 + _dmul(arith.C7, r)) + _dmul(arith.C8 + _dmul(arith.C9, r), r2)
    p45 = (arith.C10 + _dmul(arith.C11, r)) + _dmul(arith.C12 + _dmul(arith.C13, r), r2)
    p = (p01 + _dmul(p23, r4)) + _dmul(p45, _dmul(r4, r4))
    y = 1.0 + (r + _dmul(r2, p))
    h = n >> 1
    low = _bits_double((h + arith.EXPONENT_BIAS) << 52)
    high = _bits_double((n - h + arith.EXPONENT_BIAS) << 52)
    return _dmul(_dmul(y, low), high)


@cuda.jit(device=True)
def _exp_exact32(x: Any) -> Any:
    """:func:`snn.arith.exp_arith32_kernel` for one float32: the same operations, same order.

    ``exp(x) = 2^n e^r`` as :func:`_exp_exact`, in float32: a 9-trailing-zero ``ln 2`` high
    part, a degree-7 Taylor polynomial (Estrin), int32 exponent bits. Every product is
    ``_fmul`` (``libdevice.fmul_rn`` on a GPU), bit reinterpretation
    ``libdevice.float_as_int``/``int_as_float``.
    """
    xc = arith.X_MIN_F32 if x < arith.X_MIN_F32 else x  # arith.clamp: nan stays nan
    xc = arith.X_MAX_F32 if xc > arith.X_MAX_F32 else xc
    shifted = _fmul(xc, arith.INV_LN2_F32) + arith.SHIFTER_F32
    n = _float_bits(shifted) - arith.SHIFTER_F32_BITS
    nf = shifted - arith.SHIFTER_F32
    r = (xc - _fmul(nf, arith.LN2_HI_F32)) - _fmul(nf, arith.LN2_LO_F32)
    r2 = _fmul(r, r)
    p = ((arith.F2 + _fmul(arith.F3, r)) + _fmul(arith.F4 + _fmul(arith.F5, r), r2)) + _fmul(
        arith.F6 + _fmul(arith.F7, r), _fmul(r2, r2)
    )
    y = arith.ONE_F32 + (r + _fmul(r2, p))
    h = n >> 1
    scale_lo = _bits_float((h + arith.EXPONENT_BIAS_F32) << 23)
    return _fmul(_fmul(y, scale_lo), _bits_float((n - h + arith.EXPONENT_BIAS_F32) << 23))


@cuda.jit(device=True)
def _clip(w: Any, w_min: Any, w_max: Any) -> Any:
    """``np.minimum(np.maximum(w, w_min), w_max)`` as comparisons (nan stays nan, and an equal
    bound keeps ``w``, as NumPy's)."""
    w = w_min if w < w_min else w
    return w_max if w > w_max else w


@cuda.jit(device=True)
def _exp_plain(x: Any) -> Any:
    """``exp(x)`` of the device's math library (not used by the step kernel: not exact)."""
    return math.exp(x)


# ------------------------------------------------------------------------------------------------
# device functions of both kernels (this module's and :mod:`snn.backends.cuda_spinnaker`'s)


@cuda.jit(device=True)
def _sample_position(channels: Any, ch: Any, sample_column: Any, m: Any) -> Any:
    """Where in ``samples`` channel ``ch`` keeps ``sample_column``'s value of step ``m``, or -1
    when the channel does not sample at ``m`` (``channels[ch]``: state row, interval, first
    step, offset, width)."""
    interval = channels[ch, 1]
    if m % interval != 0:
        return -1
    s = (m - channels[ch, 2]) // interval
    return channels[ch, 3] + s * channels[ch, 4] + sample_column


@cuda.jit(device=True)
def _write_state_samples(
    samples: Any,
    state: Any,
    j: Any,
    m: Any,
    samp_ptr: Any,
    samp_channel: Any,
    samp_column: Any,
    channels: Any,
) -> None:
    """Neuron ``j``'s state samples due at step ``m`` (the state before the step's update)."""
    for e in range(samp_ptr[j], samp_ptr[j + 1]):
        ch = samp_channel[e]
        out = _sample_position(channels, ch, samp_column[e], m)
        if out >= 0:
            samples[out] = state[channels[ch, 0], j]


@cuda.jit(device=True)
def _write_weight_samples(
    samples: Any,
    weights: Any,
    j: Any,
    m: Any,
    wsamp_ptr: Any,
    wsamp_channel: Any,
    wsamp_column: Any,
    wsamp_syn: Any,
    channels: Any,
) -> None:
    """The weight samples due at step ``m`` of post neuron ``j``'s incoming plastic synapses
    (``weights[wsamp_syn[e]]``: the weights are written only by ``j``'s thread)."""
    for e in range(wsamp_ptr[j], wsamp_ptr[j + 1]):
        out = _sample_position(channels, wsamp_channel[e], wsamp_column[e], m)
        if out >= 0:
            samples[out] = weights[wsamp_syn[e]]


def _build_source_step(device_rng: bool) -> Any:
    """The device function ``spiked = step(kind, j, k, m, ...)`` of a spike source ``j``
    (``kind`` ``POISSON`` or ``SPIKE_ARRAY``, constants in column ``k``) at step ``m``, with
    Poisson uniforms from the chunk's host draws or the neuron's device generator."""

    @cuda.jit(device=True)
    def source_step(
        kind: Any,
        j: Any,
        k: Any,
        m: Any,
        m0: Any,
        n_poisson: Any,
        p_spike: Any,
        iconst: Any,
        draw_col: Any,
        draws: Any,
        rng_states: Any,
        ssa_ptr: Any,
        ssa_end: Any,
        ssa_steps: Any,
    ) -> Any:
        """A Poisson source spikes when this step's uniform is below ``p_spike`` within its
        [start, stop) steps; a spike array when its next sorted spike step is ``m`` (and then
        advances its pointer)."""
        if kind == POISSON:
            if device_rng:  # the neuron's own generator: one draw per step
                u = xoroshiro128p_uniform_float64(rng_states, draw_col[j])
            else:
                u = draws[(m - m0) * n_poisson + draw_col[j]]
            return u < p_spike[k] and iconst[1, k] <= m and m < iconst[2, k]
        q = ssa_ptr[j]
        if q < ssa_end[j] and ssa_steps[q] == m:
            ssa_ptr[j] = q + 1
            return True
        return False

    return source_step


_SOURCE_STEPS: dict[bool, Any] = {}


def source_step(device_rng: bool) -> Any:
    """The (cached) source step device function for host (``False``) or device (``True``)
    Poisson uniforms."""
    if device_rng not in _SOURCE_STEPS:
        _SOURCE_STEPS[device_rng] = _build_source_step(device_rng)
    return _SOURCE_STEPS[device_rng]


@cuda.jit(device=True)
def _take_arrivals(ring: Any, slot: Any, n: Any, j: Any) -> Any:
    """Neuron ``j``'s (excitatory, inhibitory) arrivals of ring slot ``slot``, cleared."""
    e_idx = (slot * 2) * n + j
    i_idx = e_idx + n
    in_e = ring[e_idx]
    in_i = ring[i_idx]
    ring[e_idx] = 0.0
    ring[i_idx] = 0.0
    return in_e, in_i


@cuda.jit(device=True)
def _record_spike(rec: Any, counters: Any, base: Any, c3: Any, m: Any, j: Any) -> None:
    """Append ``(m, j)`` to the spike buffer (position: the launch's count before step ``m``
    plus the step's atomic counter)."""
    pos = base + cuda.atomic.add(counters, C_REC + c3, 1)  # type: ignore[call-arg]
    rec[2 * pos] = m
    rec[2 * pos + 1] = j


@cuda.jit(device=True)
def _stop_before_overflow(
    counters: Any, tid: Any, m: Any, m_end: Any, total: Any, n_recorded: Any, capacity: Any
) -> Any:
    """Whether the launch stops after step ``m`` (uniformly: every thread reads the same
    ``total``) because the next step could overflow the spike buffer; thread 0 notes the step."""
    if m + 1 < m_end and total + n_recorded > capacity:
        if tid == 0:
            counters[C_STOP] = m + 1
        return True
    return False


# ------------------------------------------------------------------------------------------------
# the kernel


def _build_kernel(precision: str, scatter: bool, plastic: bool, device_rng: bool) -> Any:
    """The persistent step kernel for one precision (``"float64"`` or ``"float32"``: the type of
    the neuron arithmetic, exact in both), delivery, with or without plastic projections (a
    constant: the static kernel has no STDP code), and Poisson uniforms read from the chunk's
    host draws or drawn from per-neuron device generators (``device_rng``)."""
    single = precision == "float32"
    mul = _mul_exact32 if single else _mul_exact
    exp = _exp_exact32 if single else _exp_exact
    # the reference's np.where(spiked, b, 0.0) in the state's type (a float64 literal would
    # turn the float32 sum into a float64 one)
    zero = np.float32(0.0) if single else np.float64(0.0)
    # spike flags are kept for L steps when plastic arrivals read them (spikes of m - delay) or
    # gather delivery does (spikes of m)
    keep_flags = plastic or not scatter
    source = source_step(device_rng)

    @cuda.jit
    def run_steps(
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
        fconst: Any,  # (N_FLOAT_CONSTS, columns)
        iconst: Any,  # (N_INT_CONSTS, columns)
        p_spike: Any,  # (columns,) float64, Poisson
        draw_col: Any,  # (N,) column of a Poisson neuron in the chunk's draws
        draws: Any,  # (k * n_poisson,) float64 uniforms of the chunk (host RNG)
        rng_states: Any,  # (n_poisson,) xoroshiro128+ state of each Poisson neuron (device RNG)
        ssa_ptr: Any,  # (N,) next spike of a SpikeSourceArray neuron in ssa_steps
        ssa_end: Any,
        ssa_steps: Any,
        state: Any,  # (N_STATE_ROWS, N)
        last_spike: Any,  # (N,)
        ring: Any,  # (L * 2 * N,)
        flags: Any,  # (L * N,) spiked at the step of that slot (gather or plastic)
        spike_list: Any,  # (2 * N,) neurons that spiked, per step parity (scatter)
        syn_ptr: Any,  # scatter: (N + 1,) CSR of outgoing rows; gather: offset of each slice
        syn_count: Any,  # gather: (N,) incoming synapses of each neuron
        syn_other: Any,  # pre (gather) or post (scatter) neuron of each synapse
        syn_w: Any,
        syn_dr: Any,  # delay * 2 + receptor
        rec_mask: Any,  # (N,) 1: spikes recorded
        rec: Any,  # (2 * capacity,) recorded (step, neuron) pairs
        samp_ptr: Any,  # (N + 1,) CSR over neurons: sample entries
        samp_channel: Any,
        samp_column: Any,
        channels: Any,  # (C, 5): state row, interval, first step, offset, width
        samples: Any,
        counters: Any,  # (N_COUNTERS,) int64
        pl_ptr: Any,  # plastic synapses onto each neuron, sliced ELL as the gather table:
        pl_count: Any,  # offset of each slice, (N,) in-degree
        pl_pre: Any,  # global presynaptic neuron
        pl_dr: Any,  # delay * 2 + receptor
        pl_rule: Any,  # row of its projection in rule_f / rule_i
        pl_w: Any,  # weight (in the run's precision)
        pl_trace: Any,  # pre trace (float64) and the step of its last pre event
        pl_last: Any,
        rule_f: Any,  # (Q, N_RULE_F) float64
        rule_i: Any,  # (Q, N_RULE_I) int64
        stdp_decay: Any,  # float64: every rule's decay_plus, then its decay_minus
        post_trace: Any,  # float64 per (plastic projection, post neuron), and its last post event
        post_last: Any,
        post_rule_ptr: Any,  # (N + 1,) CSR over neurons: plastic projections onto the neuron
        post_rule: Any,
        wsamp_ptr: Any,  # (N + 1,) CSR over post neurons: weight sample entries
        wsamp_channel: Any,
        wsamp_column: Any,
        wsamp_syn: Any,  # position of the sampled synapse in the pl_* table
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
            # -- A: samples, arrivals, model update, spikes ------------------------------------
            for j in range(tid, n, stride):
                _write_state_samples(
                    samples, state, j, m, samp_ptr, samp_channel, samp_column, channels
                )
                if plastic:
                    # the weights of the neuron's incoming plastic synapses (written only here)
                    _write_weight_samples(
                        samples, pl_w, j, m, wsamp_ptr, wsamp_channel, wsamp_column, wsamp_syn,
                        channels,
                    )  # fmt: skip
                kind = code[j]
                k = column[j]
                if kind == POISSON or kind == SPIKE_ARRAY:
                    spiked = source(
                        kind, j, k, m, m0, n_poisson, p_spike, iconst, draw_col, draws,
                        rng_states, ssa_ptr, ssa_end, ssa_steps,
                    )  # fmt: skip
                else:
                    in_e, in_i = _take_arrivals(ring, slot, n, j)
                    if plastic:
                        # plastic arrivals onto j, after the static sum, in (projection, synapse)
                        # order: the reference's np.add.at into the arrivals
                        first = pl_ptr[j // SLICE] + j % SLICE
                        for q in range(pl_count[j]):
                            s = first + q * SLICE
                            dr = pl_dr[s]
                            h = slot - (dr >> 1)
                            if h < 0:
                                h += ring_length
                            if flags[h * n + pl_pre[s]]:
                                r = pl_rule[s]
                                u = rule_i[r, RULE_POST_BASE] + j
                                lag = min(m - post_last[u], rule_i[r, RULE_DM_LEN] - 1)
                                x_post = _mul_exact(
                                    post_trace[u], stdp_decay[rule_i[r, RULE_DM_OFF] + lag]
                                )
                                w = float(pl_w[s])  # plasticity arithmetic is float64
                                a_minus, w_min = rule_f[r, RULE_A_MINUS], rule_f[r, RULE_W_MIN]
                                rule_kind = rule_i[r, RULE_KIND]
                                if rule_kind == STDP_VOGELS:
                                    w_new = w + _mul_exact(a_minus, x_post - rule_f[r, RULE_ALPHA])
                                elif rule_kind == STDP_MULTIPLICATIVE:
                                    w_new = w - _mul_exact(_mul_exact(a_minus, w - w_min), x_post)
                                else:
                                    w_new = w - _mul_exact(a_minus, x_post)
                                pl_w[s] = _clip(w_new, w_min, rule_f[r, RULE_W_MAX])
                                if dr & 1:  # the weight as stored (rounded in float32)
                                    in_i = in_i + pl_w[s]
                                else:
                                    in_e = in_e + pl_w[s]
                                lag = min(m - pl_last[s], rule_i[r, RULE_DP_LEN] - 1)
                                pl_trace[s] = (
                                    _mul_exact(
                                        pl_trace[s], stdp_decay[rule_i[r, RULE_DP_OFF] + lag]
                                    )
                                    + 1.0
                                )
                                pl_last[s] = m
                    syn_e = state[1, j] + in_e
                    syn_i = state[2, j] + in_i
                    v_old = state[0, j]
                    refractory = (m - last_spike[j]) < iconst[0, k]
                    if kind == IF_COND_EXP:
                        g_total = (fconst[0, k] + syn_e) + syn_i
                        v_inf = (
                            (fconst[1, k] + mul(syn_e, fconst[2, k])) + mul(syn_i, fconst[3, k])
                        ) / g_total
                        decay = exp(mul(fconst[4, k], g_total))
                        v_free = v_inf + mul(v_old - v_inf, decay)
                        p_e, p_i, thresh, reset = (
                            fconst[5, k],
                            fconst[6, k],
                            fconst[7, k],
                            fconst[8, k],
                        )
                    else:
                        v_inf = fconst[0, k]
                        v_free = v_inf + mul(v_old - v_inf, fconst[1, k])
                        v_free = v_free + mul(fconst[2, k], syn_e)
                        v_free = v_free + mul(fconst[3, k], syn_i)
                        p_e, p_i, thresh, reset = (
                            fconst[4, k],
                            fconst[5, k],
                            fconst[6, k],
                            fconst[7, k],
                        )
                        if kind == ADAPTIVE_LIF:
                            v_free = v_free + mul(fconst[8, k], state[3, j])
                    v_new = v_old if refractory else v_free
                    if kind == ADAPTIVE_LIF:
                        theta = mul(state[4, j], fconst[11, k])
                        spiked = v_new > thresh + theta and not refractory
                        w_new = mul(state[3, j], fconst[9, k])
                        state[3, j] = w_new + (fconst[10, k] if spiked else zero)
                        state[4, j] = theta + (fconst[12, k] if spiked else zero)
                    else:
                        spiked = v_new > thresh and not refractory
                    state[0, j] = reset if spiked else v_new
                    state[1, j] = mul(syn_e, p_e)
                    state[2, j] = mul(syn_i, p_i)
                    if spiked:
                        last_spike[j] = m
                    if plastic and spiked:
                        # post events of j: potentiate its incoming plastic synapses by their
                        # pre traces, then bump j's post trace of each plastic projection onto it
                        first = pl_ptr[j // SLICE] + j % SLICE
                        for q in range(pl_count[j]):
                            s = first + q * SLICE
                            r = pl_rule[s]
                            lag = min(m - pl_last[s], rule_i[r, RULE_DP_LEN] - 1)
                            x_pre = _mul_exact(
                                pl_trace[s], stdp_decay[rule_i[r, RULE_DP_OFF] + lag]
                            )
                            w = float(pl_w[s])
                            a_plus, w_max = rule_f[r, RULE_A_PLUS], rule_f[r, RULE_W_MAX]
                            if rule_i[r, RULE_KIND] == STDP_MULTIPLICATIVE:
                                dw = _mul_exact(_mul_exact(a_plus, w_max - w), x_pre)
                            else:
                                dw = _mul_exact(a_plus, x_pre)
                            pl_w[s] = _clip(w + dw, rule_f[r, RULE_W_MIN], w_max)
                        for e in range(post_rule_ptr[j], post_rule_ptr[j + 1]):
                            r = post_rule[e]
                            u = rule_i[r, RULE_POST_BASE] + j
                            lag = min(m - post_last[u], rule_i[r, RULE_DM_LEN] - 1)
                            post_trace[u] = (
                                _mul_exact(post_trace[u], stdp_decay[rule_i[r, RULE_DM_OFF] + lag])
                                + 1.0
                            )
                            post_last[u] = m
                if keep_flags:
                    flags[slot * n + j] = 1 if spiked else 0
                if spiked:
                    if scatter:
                        slot_in_list = cuda.atomic.add(counters, C_SPK + c3, 1)
                        spike_list[par * n + slot_in_list] = j
                    if rec_mask[j]:
                        _record_spike(rec, counters, base, c3, m, j)
            grid.sync()
            # every thread reads the same final count of step m; the entries reset here were
            # last read before this barrier and are next written after the next one
            total += counters[C_REC + c3]
            if tid == 0:
                counters[C_REC + (m + 2) % 3] = 0
                counters[C_SPK + (m + 2) % 3] = 0
            # -- B: static delivery of step m's spikes -----------------------------------------
            if scatter:
                for i in range(tid, counters[C_SPK + c3], stride):
                    pre = spike_list[par * n + i]
                    for s in range(syn_ptr[pre], syn_ptr[pre + 1]):
                        dr = syn_dr[s]
                        target = (((m + (dr >> 1)) % ring_length) * 2 + (dr & 1)) * n
                        cuda.atomic.add(ring, target + syn_other[s], syn_w[s])
                grid.sync()
            else:
                for j in range(tid, n, stride):
                    first = syn_ptr[j // SLICE] + j % SLICE
                    for q in range(syn_count[j]):
                        s = first + q * SLICE
                        if flags[slot * n + syn_other[s]]:
                            dr = syn_dr[s]
                            target = (((m + (dr >> 1)) % ring_length) * 2 + (dr & 1)) * n + j
                            ring[target] = ring[target] + syn_w[s]
            if _stop_before_overflow(counters, tid, m, m_end, total, n_recorded, capacity):
                break
        if tid == 0:
            counters[C_TOTAL] = total

    return run_steps


#: the device arrays of the kernel, in the order of its parameters after the eight scalars
#: (keys of ``CudaSimulator._d``, and the chunk's ``draws``, ``channels``, ``samples``,
#: ``counters``)
KERNEL_ARRAYS = (
    "code", "column", "fconst", "iconst", "p_spike", "draw_col", "draws", "rng_states",
    "ssa_ptr", "ssa_end", "ssa_steps", "state", "last_spike", "ring", "flags", "spike_list",
    "syn_ptr", "syn_count", "syn_other", "syn_w", "syn_dr", "rec_mask", "rec",
    "samp_ptr", "samp_channel", "samp_column", "channels", "samples", "counters",
    "pl_ptr", "pl_count", "pl_pre", "pl_dr", "pl_rule", "pl_w", "pl_trace", "pl_last",
    "rule_f", "rule_i", "decay", "post_trace", "post_last", "post_rule_ptr", "post_rule",
    "wsamp_ptr", "wsamp_channel", "wsamp_column", "wsamp_syn",
)  # fmt: skip

_KERNELS: dict[tuple[str, bool, bool, bool], Any] = {}


def _kernel(precision: str, scatter: bool, plastic: bool, device_rng: bool) -> Any:
    key = (precision, scatter, plastic, device_rng)
    if key not in _KERNELS:
        _KERNELS[key] = _build_kernel(precision, scatter, plastic, device_rng)
    return _KERNELS[key]


def device_rng_seed(seed: int, population_index: int) -> int:
    """The 64-bit seed of a Poisson population's device generators (``poisson_rng="device"``).

    It is drawn from the first child of the population's run seed sequence (the one behind
    :func:`snn.network.run_generator`, keyed by the run seed and the population index), so each
    (seed, population) has its own, reproducible, seed, unrelated to the reference's draws.
    """
    parent = cast(
        np.random.SeedSequence, run_generator(seed, population_index).bit_generator.seed_seq
    )
    return int(parent.spawn(1)[0].generate_state(1, np.uint64)[0])


def device_rng_states(seed: int, populations: Sequence[CompiledPopulation]) -> Any:
    """The xoroshiro128+ state of every Poisson neuron, on the device, in the order of the
    Poisson neurons (population declaration order, then neuron index): per population a block
    seeded by :func:`device_rng_seed`, consecutive states ``2**64`` draws apart."""
    sizes = [p.size for p in populations if p.is_poisson]
    states = cuda.device_array(max(1, sum(sizes)), dtype=xoroshiro128p_dtype)
    start = 0
    with warnings.catch_warnings():
        if SIMULATOR:  # numba-cuda's host initialisation in object mode, NumPy uint64 wrapping
            warnings.simplefilter("ignore")
        for p in populations:
            if p.is_poisson and p.size:
                init_xoroshiro128p_states(
                    states[start : start + p.size], device_rng_seed(seed, p.index)
                )
                start += p.size
    return states


# ------------------------------------------------------------------------------------------------
# host side


@dataclasses.dataclass(frozen=True)
class _PlasticTables:
    """The plastic synapses and rules as the kernel reads them (see :meth:`_lower_plastic`)."""

    # the gather table of plastic synapses (sliced ELL, as the static one): offset of each
    # slice, plastic in-degree of each neuron; per entry the global pre neuron,
    # delay * 2 + receptor, the row of its rule and its initial weight
    slice_offset: IntArray
    count: NDArray[np.int32]
    pre: NDArray[np.int32]
    dr: NDArray[np.int32]
    rule: NDArray[np.int32]
    weights: FloatArray
    rule_f: FloatArray  # (Q, N_RULE_F)
    rule_i: IntArray  # (Q, N_RULE_I)
    decay: FloatArray
    n_post: int  # post traces in all
    post_rule_ptr: IntArray  # (N + 1,) CSR over neurons: rule rows of projections onto it
    post_rule: NDArray[np.int32]
    first: dict[int, int]  # projection index -> its first plastic synapse (declaration order)
    post: IntArray  # per plastic synapse in declaration order: global post neuron,
    position: IntArray  # and its entry in the table


@dataclasses.dataclass(frozen=True)
class _Channel:
    """One sampled (recorder, variable): its state row and recorded (global) neurons, or, for
    the ``weights`` of a plastic projection, row ``-1`` and the synapse indices (columns)."""

    label: str
    variable: str
    row: int
    neurons: IntArray
    interval: int


class CudaSimulator:
    """Clock-driven simulation of a compiled network on a CUDA GPU (see module docstring).

    Options:

    * ``precision``: ``"float64"`` (default) or ``"float32"`` (half the memory traffic): the
      type of state, constants, weights and neuron arithmetic (:mod:`snn.backends.precision`);
      with ``delivery="gather"``, bit-identical to the NumPy reference run in the same
      precision. ``dtype`` is the NumPy type it gives;
    * ``delivery``: ``"gather"`` (default; deterministic, cost per synapse and step) or
      ``"scatter"`` (atomic adds, cost per synaptic event; float sums in a nondeterministic
      order, so state agrees with the reference to rounding, ~1e-16 relative in float64);
    * ``poisson_rng``: ``"host"`` (default; Poisson uniforms drawn on the host from the
      reference's generators and copied in per chunk: the reference's spikes) or ``"device"``
      (one xoroshiro128+ generator per Poisson neuron on the device, seeded from the run seed
      and the population: no host draws or copies, the same spikes for the same seed, but not
      the reference's; see "Randomness" in the module docstring);
    * ``threads_per_block``: CUDA block size (default 256 on a GPU; in the simulator, which
      runs a single block because its grid barrier only spans one, 4 for the exact kernel and 32
      for the spinnaker one, the faster choices measured there).

    Under the ``spinnaker`` semantics only ``precision="float64"`` and ``delivery="gather"``
    are accepted (see "SpiNNaker semantics" in the module docstring).

    ``run`` may be called repeatedly and continues where it stopped.
    """

    OPTIONS: tuple[str, ...] = ("precision", "delivery", "poisson_rng", "threads_per_block")

    def __init__(self, compiled: CompiledNetwork, seed: int, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.OPTIONS))
        if unknown:
            raise ValueError(
                f"cuda backend: unknown option(s) {', '.join(unknown)}; "
                f"valid options: {', '.join(self.OPTIONS)}"
            )
        self.precision: str = options.get("precision", "float64")
        self.dtype = precision_dtype("cuda", self.precision, compiled.semantics)
        delivery = options.get("delivery", "gather")
        if delivery not in DELIVERIES:
            raise ValueError(
                f"cuda backend: delivery must be one of {', '.join(DELIVERIES)}, got {delivery!r}"
            )
        self.delivery: str = delivery
        self.spinnaker = compiled.semantics == "spinnaker"
        if self.spinnaker and delivery != "gather":
            raise ValueError(
                f"cuda backend: delivery={delivery!r} is not available with the 'spinnaker' "
                "semantics (they are bit-identical to the reference, which float atomics are "
                "not); leave delivery at 'gather'"
            )
        poisson_rng = options.get("poisson_rng", "host")
        if not isinstance(poisson_rng, str) or poisson_rng not in POISSON_RNGS:
            raise ValueError(
                f"cuda backend: poisson_rng must be one of {', '.join(POISSON_RNGS)}, "
                f"got {poisson_rng!r}"
            )
        self.poisson_rng: str = poisson_rng
        default_threads = GPU_THREADS_PER_BLOCK
        if SIMULATOR:
            default_threads = (
                SIM_SPINNAKER_THREADS_PER_BLOCK if self.spinnaker else SIM_THREADS_PER_BLOCK
            )
        threads = options.get("threads_per_block", default_threads)
        if (
            isinstance(threads, bool)
            or not isinstance(threads, int | np.integer)
            or not 1 <= threads <= 1024
        ):
            raise ValueError(
                f"cuda backend: threads_per_block must be an integer in 1..1024, got {threads!r}"
            )
        self.threads_per_block = int(threads)
        check_supported(compiled)
        reason = unavailable_reason()
        if reason is not None:
            raise RuntimeError(f"cuda backend: {reason}")
        self.compiled = compiled
        self.seed = seed
        self.step = 0
        self.collector = RecordingCollector(compiled)
        device_rng = self.poisson_rng == "device"
        self._rngs = {
            p.index: run_generator(seed, p.index)
            for p in compiled.populations
            if p.is_poisson and not device_rng
        }
        self._lower(compiled)
        if self.spinnaker:
            from snn.backends import cuda_spinnaker

            self._kernel = cuda_spinnaker.kernel(device_rng)
            self._kernel_arrays: tuple[str, ...] = cuda_spinnaker.KERNEL_ARRAYS
        else:
            self._kernel = _kernel(
                self.precision, self.delivery == "scatter", self._plastic, device_rng
            )
            self._kernel_arrays = KERNEL_ARRAYS
        self._blocks: int | None = None

    # -- lowering --------------------------------------------------------------------------
    def _lower(self, c: CompiledNetwork) -> None:
        pops, projs = c.populations, c.projections
        T = self.dtype
        sizes = np.array([p.size for p in pops], dtype=np.int64)
        pop_off = np.zeros(len(pops), np.int64)
        if len(pops):
            pop_off[1:] = np.cumsum(sizes)[:-1]
        n = int(sizes.sum())
        L = c.ring_length
        if L * 2 * n >= 2**62 or n >= 2**31 - 1:
            raise ValueError(f"cuda backend: {n} neurons in all is too many (at most 2**31 - 2)")
        code = np.zeros(n, np.int32)
        column = np.zeros(n, np.int64)
        draw_col = np.zeros(n, np.int64)
        state = np.zeros((N_STATE_ROWS, n))
        last_spike = np.zeros(n, np.int64)
        fcols: list[NDArray[np.floating[Any]]] = []
        icols: list[IntArray] = []
        pcols: list[FloatArray] = []
        n_cols = n_draw = 0
        ssa_steps: list[IntArray] = []
        ssa_ptr = np.zeros(n, np.int64)
        ssa_end = np.zeros(n, np.int64)
        n_ssa = 0
        self._draw_off: dict[int, int] = {}
        for p, off in zip(pops, pop_off, strict=True):
            kind = MODEL_CODES[p.model.name]
            sl = slice(int(off), int(off) + p.size)
            code[sl] = kind
            f = np.zeros((N_FLOAT_CONSTS, p.size), T)  # rounded as the reference's constants
            i = np.zeros((N_INT_CONSTS, p.size), np.int64)
            ps = np.zeros(p.size)
            consts, float_rows, int_rows = p.consts, FLOAT_CONSTS[kind], INT_CONSTS[kind]
            if self.spinnaker and kind == IF_CURR_EXP:  # sPyNNaker's update: its own constants
                consts = spinn.lower_if_curr_exp(p.params, c.dt)
                float_rows, int_rows = SPINNAKER_FLOAT_CONSTS, ("refrac_steps",)
            for row, key in enumerate(float_rows):
                f[row] = consts[key]
            for row, key in enumerate(int_rows):
                if key in consts:
                    i[row] = consts[key]
            if kind == POISSON:
                # a constant in the run's precision, compared with float64 uniforms (reference)
                ps[:] = np.asarray(p.consts["p_spike"]).astype(T)
                self._draw_off[p.index] = n_draw
                draw_col[sl] = n_draw + np.arange(p.size)
                n_draw += p.size
            if kind == SPIKE_ARRAY:
                steps, ids = p.consts["spike_steps"], p.consts["spike_ids"]
                order = np.argsort(ids, kind="stable")  # per neuron, steps stay ascending
                counts = np.bincount(ids, minlength=p.size)
                starts = n_ssa + np.concatenate(([0], np.cumsum(counts)[:-1]))
                ssa_ptr[sl] = starts
                ssa_end[sl] = starts + counts
                ssa_steps.append(steps[order])
                n_ssa += int(steps.size)
            uniform = p.size > 0 and all(_bitwise_uniform(a) for a in (*f, *i, ps))
            width = 1 if uniform else p.size
            column[sl] = n_cols + (0 if uniform else np.arange(p.size))
            fcols.append(f[:, :width])
            icols.append(i[:, :width])
            pcols.append(ps[:width])
            n_cols += width
            for var, values in p.initial.items():
                if var == "last_spike":
                    last_spike[sl] = values
                else:
                    state[STATE_ROWS[var], sl] = values

        self._plastic = any(pr.stdp is not None for pr in projs)
        if self.spinnaker:
            from snn.backends import cuda_spinnaker

            tables = cuda_spinnaker.lower_synapses(c, pop_off, n)
            weight_sites = tables.weight_sites
            specific: dict[str, NDArray[Any]] = {
                "refract_timer": np.zeros(n, np.int64),
                "flags": np.zeros(2 * n, np.uint8),
                **tables.arrays,
            }
        else:
            specific, weight_sites = self._lower_exact_synapses(c, pop_off, n, last_spike)

        # recording: spikes of recorded neurons; sample channels (recorder, variable): state
        # rows of neurons, or weights of a plastic projection (sampled by their post neurons)
        rec_mask = np.zeros(n, np.uint8)
        channels: list[_Channel] = []
        w_entries: list[tuple[IntArray, IntArray, IntArray, IntArray]] = []
        for r in c.recorders:
            if r.kind == "projection":
                post, position = weight_sites[r.target]
                n_w = post.size
                for var in r.variables:
                    w_entries.append((post, np.full(n_w, len(channels)), np.arange(n_w), position))
                    channels.append(_Channel(r.label, var, -1, np.arange(n_w), r.interval_steps))
                continue
            base = int(pop_off[r.target])
            if "spikes" in r.variables:
                rec_mask[base + r.neurons] = 1
            for var in r.variables:
                if var != "spikes":
                    channels.append(
                        _Channel(r.label, var, STATE_ROWS[var], base + r.neurons, r.interval_steps)
                    )
        self._channels = channels
        state_channels = [(k, ch) for k, ch in enumerate(channels) if ch.row >= 0]
        ent_neuron = _cat([ch.neurons for _, ch in state_channels], np.int64)
        ent_channel = _cat([np.full(ch.neurons.size, k) for k, ch in state_channels], np.int64)
        ent_column = _cat([np.arange(ch.neurons.size) for _, ch in state_channels], np.int64)
        samp_order = np.argsort(ent_neuron, kind="stable")
        samp_ptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(ent_neuron, minlength=n), out=samp_ptr[1:])
        w_neuron, w_channel, w_column, w_syn = (
            _cat([e[k] for e in w_entries], np.int64) for k in range(4)
        )
        w_order = np.argsort(w_neuron, kind="stable")
        wsamp_ptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(w_neuron, minlength=n), out=wsamp_ptr[1:])

        self._n = n
        self._L = L
        self._pop_off = pop_off
        self._n_poisson = n_draw
        self._n_recorded = int(rec_mask.sum())
        host_draws = n_draw if self.poisson_rng == "host" else 0
        self._chunk_steps = max(
            1, min(MAX_STEPS_PER_CHUNK, MAX_DRAWS_PER_CHUNK // max(1, host_draws))
        )
        self._capacity = max(4096, 4 * self._n_recorded)
        dev = _to_device
        self._d = {
            "code": dev(code),
            "column": dev(column),
            "fconst": dev(np.hstack(fcols) if fcols else np.zeros((N_FLOAT_CONSTS, 1), T)),
            "iconst": dev(np.hstack(icols) if icols else np.zeros((N_INT_CONSTS, 1), np.int64)),
            "p_spike": dev(_cat(pcols, np.float64)),
            "draw_col": dev(draw_col),
            "rng_states": (
                device_rng_states(self.seed, pops)
                if self.poisson_rng == "device"
                else cuda.device_array(1, dtype=xoroshiro128p_dtype)  # unused
            ),
            "ssa_ptr": dev(ssa_ptr),
            "ssa_end": dev(ssa_end),
            "ssa_steps": dev(_cat(ssa_steps, np.int64)),
            "state": dev(state.astype(T)),
            "ring": dev(np.zeros(L * 2 * n, T)),
            "rec_mask": dev(rec_mask),
            "rec": cuda.device_array(2 * self._capacity, np.int64),
            "samp_ptr": dev(samp_ptr),
            "samp_channel": dev(ent_channel[samp_order]),
            "samp_column": dev(ent_column[samp_order]),
            "wsamp_ptr": dev(wsamp_ptr),
            "wsamp_channel": dev(w_channel[w_order]),
            "wsamp_column": dev(w_column[w_order]),
            "wsamp_syn": dev(w_syn[w_order]),
            **{key: dev(values) for key, values in specific.items()},
        }

    def _lower_exact_synapses(
        self, c: CompiledNetwork, pop_off: IntArray, n: int, last_spike: IntArray
    ) -> tuple[dict[str, NDArray[Any]], dict[int, tuple[IntArray, IntArray]]]:
        """The exact kernel's own arrays (static and plastic synapse tables, STDP state,
        ``last_spike``), and per plastic projection the post neuron and table position of each
        synapse (for its weight recorders)."""
        projs, T, L = c.projections, self.dtype, c.ring_length
        # static synapses in declaration order, then synapse (storage) order; the gather table
        # lists each target's incoming synapses, stably sorted: still in that order
        static = [pr for pr in projs if pr.stdp is None]
        n_syn = sum(pr.weights.size for pr in static)
        sort_key = np.empty(n_syn, np.uint32)
        other = np.empty(n_syn, np.int32)
        weights = np.empty(n_syn, T)
        dr = np.empty(n_syn, np.int32)
        start = 0
        for pr in static:
            sl = slice(start, start + pr.weights.size)
            pre, post = pr.pre_idx + pop_off[pr.pre], pr.post_idx + pop_off[pr.post]
            sort_key[sl], other[sl] = (post, pre) if self.delivery == "gather" else (pre, post)
            weights[sl] = pr.weights
            dr[sl] = pr.delays * 2 + pr.receptor
            start = sl.stop
        order = _stable_order(sort_key)
        if self.delivery == "gather":
            where, syn_ptr, syn_count, size = _sliced_ell(sort_key[order], n)
            syn_table = [np.zeros(size, a.dtype) for a in (other, weights, dr)]
            for table, values in zip(syn_table, (other, weights, dr), strict=True):
                table[where] = values[order]
        else:
            syn_ptr = np.zeros(n + 1, np.int64)
            np.cumsum(np.bincount(sort_key, minlength=n), out=syn_ptr[1:])
            syn_table = [other[order], weights[order], dr[order]]
            syn_count = np.zeros(1, np.int32)

        pl = self._lower_plastic(c, pop_off, n)
        weight_sites: dict[int, tuple[IntArray, IntArray]] = {}
        for index, first in pl.first.items():
            synapses = first + np.arange(projs[index].weights.size)
            weight_sites[index] = (pl.post[synapses], pl.position[synapses])
        arrays: dict[str, NDArray[Any]] = {
            "last_spike": last_spike,
            "flags": np.zeros(L * n if self.delivery == "gather" or self._plastic else 1, np.uint8),
            "spike_list": np.zeros(2 * n if self.delivery == "scatter" else 1, np.int32),
            "syn_ptr": syn_ptr,
            "syn_count": syn_count,
            "syn_other": syn_table[0],
            "syn_w": syn_table[1],
            "syn_dr": syn_table[2],
            "pl_ptr": pl.slice_offset,
            "pl_count": pl.count,
            "pl_pre": pl.pre,
            "pl_dr": pl.dr,
            "pl_rule": pl.rule,
            "pl_w": pl.weights.astype(T),
            "pl_trace": np.zeros(pl.pre.size),
            "pl_last": np.full(pl.pre.size, NEVER, np.int64),
            "rule_f": pl.rule_f,
            "rule_i": pl.rule_i,
            "decay": pl.decay,
            "post_trace": np.zeros(pl.n_post),
            "post_last": np.full(pl.n_post, NEVER, np.int64),
            "post_rule_ptr": pl.post_rule_ptr,
            "post_rule": pl.post_rule,
        }
        return arrays, weight_sites

    def _lower_plastic(self, c: CompiledNetwork, pop_off: IntArray, n: int) -> _PlasticTables:
        """The plastic synapses in a gather table over post neurons (each neuron's in
        (projection declaration order, synapse order), the reference's order), their rules."""
        plastic = [pr for pr in c.projections if pr.stdp is not None]
        first: dict[int, int] = {}
        start = 0
        for pr in plastic:
            first[pr.index] = start
            start += pr.weights.size
        post = _cat([pr.post_idx + pop_off[pr.post] for pr in plastic], np.int64)
        pre = _cat([pr.pre_idx + pop_off[pr.pre] for pr in plastic], np.int32)
        dr = _cat([pr.delays * 2 + pr.receptor for pr in plastic], np.int32)
        rule = _cat([np.full(pr.weights.size, q) for q, pr in enumerate(plastic)], np.int32)
        weights = _cat([pr.weights for pr in plastic], np.float64)
        order = _stable_order(post.astype(np.uint32))
        where, slice_offset, count, size = _sliced_ell(post[order], n)
        position = np.zeros(post.size, np.int64)
        position[order] = where
        tables = [np.zeros(size, a.dtype) for a in (pre, dr, rule, weights)]
        for table, values in zip(tables, (pre, dr, rule, weights), strict=True):
            table[where] = values[order]
        rule_f = np.zeros((max(1, len(plastic)), N_RULE_F))
        rule_i = np.zeros((max(1, len(plastic)), N_RULE_I), np.int64)
        decay: list[FloatArray] = []
        n_decay = n_post = 0
        post_rules: list[tuple[IntArray, int]] = []
        for q, pr in enumerate(plastic):
            stdp = pr.stdp
            if stdp is None:  # never: filtered above (narrows the type)
                continue
            kind = (
                STDP_VOGELS
                if stdp.vogels
                else STDP_MULTIPLICATIVE
                if stdp.multiplicative
                else STDP_ADDITIVE
            )
            rule_f[q] = (stdp.A_plus, stdp.A_minus, stdp.alpha, stdp.w_min, stdp.w_max)
            lp, lm = stdp.decay_plus.size, stdp.decay_minus.size
            base = n_post - int(pop_off[pr.post])
            rule_i[q] = (kind, n_decay, lp, n_decay + lp, lm, base)
            decay += [stdp.decay_plus, stdp.decay_minus]
            n_decay += lp + lm
            post_size = c.populations[pr.post].size
            post_rules.append((int(pop_off[pr.post]) + np.arange(post_size), q))
            n_post += post_size
        rule_neuron = _cat([neurons for neurons, _ in post_rules], np.int64)
        rule_q = _cat([np.full(neurons.size, q) for neurons, q in post_rules], np.int32)
        rule_order = np.argsort(rule_neuron, kind="stable")  # per neuron: declaration order
        post_rule_ptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(rule_neuron, minlength=n), out=post_rule_ptr[1:])
        return _PlasticTables(
            slice_offset=slice_offset,
            count=count,
            pre=tables[0],
            dr=tables[1],
            rule=tables[2],
            weights=tables[3],
            rule_f=rule_f,
            rule_i=rule_i,
            decay=_cat(decay, np.float64),
            n_post=n_post,
            post_rule_ptr=post_rule_ptr,
            post_rule=rule_q[rule_order],
            first=first,
            post=post,
            position=position,
        )

    # -- running ---------------------------------------------------------------------------
    def run(self, n_steps: int) -> None:
        """Advance the simulation by ``n_steps`` steps (in chunks of at most ``_chunk_steps``)."""
        if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 0:
            raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
        done = 0
        while done < n_steps:
            k = min(int(n_steps) - done, self._chunk_steps)
            self._run_chunk(k)
            done += k

    def _run_chunk(self, k: int) -> None:
        d = self._d
        m0 = self.step
        if self.poisson_rng == "host":
            draws = np.zeros((k, max(1, self._n_poisson)))
            for p in self.compiled.populations:
                if p.is_poisson:
                    col = self._draw_off[p.index]
                    draws[:, col : col + p.size] = self._rngs[p.index].random((k, p.size))
        else:  # drawn in the kernel, from the device generators
            draws = np.zeros((1, 1))
        # sample channels of this chunk: first step, offset and width in the samples buffer
        chan = np.zeros((max(1, len(self._channels)), 5), np.int64)
        steps_of: list[IntArray] = []
        total = 0
        for ci, ch in enumerate(self._channels):
            first = -(-m0 // ch.interval) * ch.interval
            steps = np.arange(first, m0 + k, ch.interval, dtype=np.int64)
            steps_of.append(steps)
            chan[ci] = (ch.row, ch.interval, first, total, ch.neurons.size)
            total += steps.size * ch.neurons.size
        samples = cuda.device_array(max(1, total), self.dtype)
        d_draws = _to_device(draws.reshape(-1))
        d_chan = _to_device(chan)
        m = m0
        while m < m0 + k:
            counters = np.zeros(N_COUNTERS, np.int64)
            counters[C_STOP] = m0 + k
            d_counters = _to_device(counters)
            launch = {
                **d, "draws": d_draws, "channels": d_chan, "samples": samples,
                "counters": d_counters,
            }  # fmt: skip
            args = (
                m, m0 + k, m0, self._n, self._L, self._n_poisson, self._n_recorded,
                self._capacity, *(launch[name] for name in self._kernel_arrays),
            )  # fmt: skip
            blocks = self._grid_blocks(args)
            self._kernel[blocks, self.threads_per_block](*args)
            counters = d_counters.copy_to_host()
            written = int(counters[C_TOTAL])
            if written:
                pairs = d["rec"][: 2 * written].copy_to_host().reshape(-1, 2)
                self.collector.add_global_spikes(
                    pairs[:, 0].copy(), pairs[:, 1].copy(), self._pop_off
                )
            m = int(counters[C_STOP])
            if m < m0 + k:  # stopped before the buffer could overflow: grow it, continue
                self._capacity *= 2
                d["rec"] = cuda.device_array(2 * self._capacity, np.int64)
        self.step = m0 + k
        if total:
            values = samples.copy_to_host().astype(np.float64)
            for ci, ch in enumerate(self._channels):
                n_samples, width = steps_of[ci].size, ch.neurons.size
                if n_samples:
                    lo = int(chan[ci, 3])
                    block = values[lo : lo + n_samples * width].reshape(n_samples, width)
                    self.collector.add_sample_block(ch.label, ch.variable, steps_of[ci], block)

    def _grid_blocks(self, args: tuple[Any, ...]) -> int:
        """Blocks of the cooperative launch: enough for one thread per neuron, at most what
        can be co-resident (a grid barrier needs every block running); one in the simulator."""
        if self._blocks is None:
            wanted = max(1, -(-self._n // self.threads_per_block))
            if SIMULATOR:
                self._blocks = 1
            else:  # pragma: no cover (needs a GPU)
                kernel = self._kernel.compile(tuple(self._kernel.typeof_pyval(a) for a in args))
                limit = int(kernel.max_cooperative_grid_blocks(self.threads_per_block))
                if limit < 1:
                    raise RuntimeError(
                        f"cuda backend: the kernel cannot run {self.threads_per_block} threads "
                        "per block on this GPU; pass a smaller threads_per_block"
                    )
                self._blocks = min(wanted, limit)
        return self._blocks

    def recording(self, duration: float) -> Recording:
        """The recording so far, in the same format (and values) as the NumPy reference's."""
        return self.collector.build(
            duration,
            "cuda",
            self.seed,
            precision=self.precision,
            delivery=self.delivery,
            poisson_rng=self.poisson_rng,
            simulator=SIMULATOR,
        )


def check_supported(compiled: CompiledNetwork) -> None:
    """Refuse, by name, what this backend does not run (before anything is compiled).

    Under the ``spinnaker`` semantics that is what the reference refuses too
    (:func:`snn.backends.spinnaker_semantics.check_supported`, with its message): every feature
    those semantics implement runs here.
    """
    if compiled.semantics == "spinnaker":
        spinn.check_supported(compiled)
    elif compiled.semantics != "exact":
        raise ValueError(
            f"cuda backend: the {compiled.semantics!r} semantics are not implemented on CUDA; "
            "run this network with backend='numpy'"
        )
    for p in compiled.populations:
        if p.model.deep_only:
            raise ValueError(
                f"cuda backend: population {p.label!r} ({p.model.name}) belongs to a deep "
                "network, which runs layer by layer on frames: use snn.deep.run(net, frames, "
                "backend='numpy', 'numba' or 'cuda') or snn.deep.lower_torch(net)"
            )
        if p.model.name not in MODEL_CODES:
            raise ValueError(
                f"cuda backend: population {p.label!r} uses neuron model {p.model.name!r}, which "
                f"it cannot run; supported models: {', '.join(MODEL_CODES)}; "
                "backend='numpy' runs every model"
            )


def _bitwise_uniform(values: NDArray[Any]) -> bool:
    """All entries have the same bits (so one column of constants serves the population)."""
    if values.size == 0:
        return True
    flat = np.ascontiguousarray(values).reshape(-1)
    raw = flat.view(np.uint8).reshape(flat.size, -1)
    return bool((raw == raw[0]).all())


def _sliced_ell(
    target: NDArray[np.integer[Any]], n: int
) -> tuple[IntArray, IntArray, NDArray[np.int32], int]:
    """Sliced ELL layout of entries sorted (stably) by target neuron: the q-th entry of neuron
    ``j = SLICE b + lane`` is at ``offset[b] + q SLICE + lane``, so neighbouring threads read
    neighbouring entries; each slice is padded to its largest in-degree.

    Returns each entry's position, ``offset`` per slice, the in-degrees and the table size.
    """
    target = np.asarray(target, np.int64)
    count = np.bincount(target, minlength=n)
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(count, out=ptr[1:])
    rank = np.arange(target.size, dtype=np.int64) - ptr[target]
    padded = np.zeros(-(-n // SLICE) * SLICE, np.int64)
    padded[:n] = count
    width = padded.reshape(-1, SLICE).max(axis=1)
    offset = np.concatenate(([0], np.cumsum(width * SLICE)))
    where = offset[target // SLICE] + rank * SLICE + target % SLICE
    return where, offset[:-1], count.astype(np.int32), int(offset[-1])


def _stable_order(keys: NDArray[np.uint32]) -> IntArray:
    """``np.argsort(keys, kind="stable")`` as two stable 16-bit passes (NumPy radix-sorts 16-bit
    keys in linear time; 32-bit keys go through its much slower merge sort)."""
    low = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    high = (keys[low] >> 16).astype(np.uint16)
    return low[np.argsort(high, kind="stable")]


def _cat(arrays: list[NDArray[Any]], dtype: Any) -> NDArray[Any]:
    if not arrays:
        return np.zeros(0, dtype)
    return np.ascontiguousarray(np.concatenate(arrays), dtype=dtype)


def _to_device(array: NDArray[Any]) -> Any:
    """A device copy; empty arrays get one padding element (zero-size transfers are avoided)."""
    if array.size == 0:
        array = np.zeros((1,) * max(1, array.ndim), array.dtype)
    return cuda.to_device(np.ascontiguousarray(array))
