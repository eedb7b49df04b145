"""The CUDA backend: the NumPy reference's ``exact`` semantics in one persistent numba-cuda kernel.

Kernels come from the ``numba-cuda`` package (Numba's built-in CUDA target is deprecated). Without
a GPU, set ``NUMBA_ENABLE_CUDASIM=1`` **before** ``numba.cuda`` is first imported and the same
kernels run on Numba's CPU simulator (slowly: about 1 ms per simulated thread and launch, plus
interpreted Python per neuron; keep networks tiny there).

Device-resident data
--------------------
Neuron state (``state[row, neuron]``: v, the synaptic variable of each receptor, w, theta),
``last_spike``, the per-neuron constants, the synapse tables and the ring buffer of delayed input
(``ring[(slot * 2 + receptor) * N + neuron]``) live on the device for the whole run. Per chunk of
at most :data:`MAX_STEPS_PER_CHUNK` steps the host copies in the Poisson uniforms of the chunk and
copies back the recorded spikes and state samples.

Constants are the reference's own (computed once in NumPy by :mod:`snn.compiled`); a population
whose constants are all equal stores one column, which every neuron of it reads (one cached
load instead of one per neuron).

One kernel launch runs a chunk; one grid-wide barrier (cooperative launch) separates the phases
of a step. Step ``m`` (``slot = m % L``), in the reference's order:

A. **per neuron** (grid-stride loop, the same thread owns the same neurons in every phase):
   write the samples due at ``m`` (state before arrivals); take this step's arrivals from the
   ring and clear them; the model update (``IF_curr_exp``, ``IF_cond_exp``, ``AdaptiveLIF``
   as their ``step``; ``SpikeSourcePoisson`` compares this step's uniform with ``p_spike``;
   ``SpikeSourceArray`` advances a per-neuron pointer into its sorted spike steps); a spike sets
   the neuron's flag of this step, and, when the neuron is recorded, appends ``(m, neuron)`` to
   the spike buffer (an atomic counter per step gives the position);
B. grid barrier; then **static delivery** into ``ring[(m + delay) % L]``, by the ``delivery``
   option:

   * ``"gather"`` (default, deterministic): the thread owning target neuron ``j`` walks ``j``'s
     incoming synapses in (projection declaration order, synapse order) and adds the weight of
     each whose presynaptic neuron spiked at ``m``. Every ring entry therefore receives exactly
     the reference's additions in the reference's order (emission step, projection, synapse),
     without atomics, and float64 results equal the reference **bit for bit**. Cost: every
     synapse's presynaptic flag is read every step (memory-bound: a 4-byte index per synapse,
     coalesced because the table is sliced ELL: per slice of 32 neurons, the q-th incoming
     synapses of its neurons are adjacent; padding to the slice's largest in-degree);
   * ``"scatter"``: neurons that spiked are appended to a list; one thread per spiking neuron
     walks its outgoing row and adds with ``cuda.atomic.add``. Cost is per synaptic event, but
     the order of float additions into a ring entry is whatever the atomics make it, so sums
     may differ from the reference in the last bits (relative ~1e-16 in float64). Spikes are
     identical unless a membrane potential lands within that rounding of the threshold; in
     chaotic networks the trajectories then drift apart, as with any reordering. Tested: spikes
     exactly and state to ``rtol = 1e-12`` on short runs. A second grid barrier follows (step
     ``m + 1`` reads entries other threads add to).

   In ``"gather"`` mode one barrier per step suffices: the next step's arrivals of ``j`` are
   written by ``j``'s own thread, and the spike flags are double-buffered by step parity.

Floating-point parity (``dtype="float64"``, the default) rests on the facts that make the Numba
CPU backend exact, plus two CUDA-specific ones:

* NVVM contracts ``a * b + c`` into a fused multiply-add by default (``-fma=1``; numba-cuda has no
  switch for it outside fastmath), which rounds once instead of twice. Every float64 product in
  the kernel is therefore ``libdevice.dmul_rn`` (``mul.rn.f64``, which is never fused);
  additions, subtractions and IEEE division (``div.rn.f64``, numba-cuda's default without
  fastmath) need nothing. ``IF_cond_exp``'s ``exp`` is :func:`snn.arith.exp_arith_kernel`
  rewritten with the same operations in the same order (:func:`_exp_exact`), bit reinterpretation
  by ``libdevice.double_as_longlong``/``longlong_as_double``;
* float64 has no flush-to-zero on NVIDIA GPUs (only fastmath's ``-ftz`` affects float32).

Under the simulator the same kernel source runs as Python on NumPy scalars (IEEE operations one
by one), so the simulator checks the order of operations; the no-FMA property of the compiled
code is checked on PTX (``cuda.compile_ptx``, which needs only NVVM, no GPU).

``dtype="float32"`` stores state, constants, weights and the ring in float32: half the memory
traffic, not exact. Products are plain (NVVM may fuse them), ``exp`` is ``expf``. Poisson
uniforms and ``p_spike`` stay float64, so source spikes are identical to the reference's.

Randomness: Poisson uniforms are drawn **on the host** from the reference's per-population
generators (:func:`snn.network.run_generator`), ``rng.random((k, size))`` per chunk of ``k``
steps, which is the reference's ``k`` calls of ``rng.random(size)``; so the same seed gives the
same source spikes on every backend. Drawing on the device (cuRAND/xoroshiro) would be faster
for huge Poisson populations but could not reproduce NumPy's stream.

Recording: spikes of recorded neurons go to a device buffer of ``(step, neuron)`` pairs; when it
could overflow in the next step, every thread stops at the same step boundary (their decision
reads per-step counters that only change before the barrier), the host harvests the buffer,
doubles it and relaunches. State samples of a chunk go to a buffer laid out per channel
(recorder, variable), written by the thread that owns the neuron.

Not supported (refused in the constructor, before anything is compiled or launched): plastic
projections (STDP), the ``spinnaker`` semantics, and deep-network models; the messages name the
backends that run them.

On a GPU, compiling needs NVVM and libdevice, and the grid barrier links ``libcudadevrt``: a CUDA
toolkit, or the wheels of ``pip install "numba-cuda[cu12]"`` (``[cu13]`` with a CUDA 13 driver).
The kernels have been compiled to PTX for sm_90 and run on the simulator; on a GPU,
``benchmarks/gpu_scaling.py`` compares the rasters with the Numba backend's (``= numba``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import cuda
from numba.cuda import libdevice
from numpy.typing import NDArray

from snn import arith
from snn.backends.numba_backend import (
    ADAPTIVE_LIF,
    IF_COND_EXP,
    IF_CURR_EXP,
    MODEL_CODES,
    N_STATE_ROWS,
    POISSON,
    SPIKE_ARRAY,
    STATE_ROWS,
)
from snn.compiled import CompiledNetwork
from snn.network import run_generator
from snn.recording import Recording, RecordingCollector

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

DTYPES = {"float64": np.float64, "float32": np.float32}
DELIVERIES = ("gather", "scatter")

#: most steps per chunk, and most Poisson uniforms (float64) drawn ahead per chunk
MAX_STEPS_PER_CHUNK = 2000
MAX_DRAWS_PER_CHUNK = 1 << 22
#: threads per block on a GPU, and in the simulator (which runs one Python thread per CUDA thread)
GPU_THREADS_PER_BLOCK = 256
#: neurons per slice of the gather table (a warp: coalesced reads)
SLICE = 32
SIM_THREADS_PER_BLOCK = 4

# counters[...] of one launch: recorded spikes per step (by m % 3), spiking neurons per step
# (scatter; by m % 3), the step the launch stopped at, recorded spikes written in the launch
C_REC, C_SPK, C_STOP, C_TOTAL, N_COUNTERS = 0, 3, 6, 7, 8

# ------------------------------------------------------------------------------------------------
# device arithmetic

_dmul: Callable[[Any, Any], Any]
_double_bits: Callable[[Any], Any]
_bits_double: Callable[[Any], Any]

if SIMULATOR:
    # the simulator runs kernels as Python on NumPy scalars: IEEE operations one at a time, and
    # libdevice's stubs return None there

    def _sim_dmul(x: Any, y: Any) -> Any:
        return x * y

    def _sim_double_bits(x: Any) -> Any:
        return np.float64(x).view(np.int64)

    def _sim_bits_double(bits: Any) -> Any:
        return np.int64(bits).view(np.float64)

    _dmul, _double_bits, _bits_double = _sim_dmul, _sim_double_bits, _sim_bits_double
else:  # pragma: no cover (needs a GPU)
    _dmul = libdevice.dmul_rn  # mul.rn.f64: never fused into an FMA
    _double_bits = libdevice.double_as_longlong
    _bits_double = libdevice.longlong_as_double


@cuda.jit(device=True)
def _mul_exact(x: Any, y: Any) -> Any:
    """``x * y`` rounded on its own (never contracted into a fused multiply-add)."""
    return _dmul(x, y)


@cuda.jit(device=True)
def _mul_plain(x: Any, y: Any) -> Any:
    """``x * y``; the compiler may fuse it with an addition (float32 mode)."""
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
def _exp_plain(x: Any) -> Any:
    """``exp(x)`` of the device's math library (``expf`` in float32 mode)."""
    return math.exp(x)


# ------------------------------------------------------------------------------------------------
# the kernel


def _build_kernel(exact: bool, scatter: bool) -> Any:
    """The persistent step kernel for one arithmetic (exact float64 or plain) and delivery."""
    mul = _mul_exact if exact else _mul_plain
    exp = _exp_exact if exact else _exp_plain

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
        draws: Any,  # (k * n_poisson,) float64 uniforms of the chunk
        ssa_ptr: Any,  # (N,) next spike of a SpikeSourceArray neuron in ssa_steps
        ssa_end: Any,
        ssa_steps: Any,
        state: Any,  # (N_STATE_ROWS, N)
        last_spike: Any,  # (N,)
        ring: Any,  # (L * 2 * N,)
        flags: Any,  # (2 * N,) spiked at the step of that parity (gather)
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
                for e in range(samp_ptr[j], samp_ptr[j + 1]):
                    ch = samp_channel[e]
                    interval = channels[ch, 1]
                    if m % interval == 0:
                        s = (m - channels[ch, 2]) // interval
                        out = channels[ch, 3] + s * channels[ch, 4] + samp_column[e]
                        samples[out] = state[channels[ch, 0], j]
                kind = code[j]
                k = column[j]
                spiked = False
                if kind == POISSON:
                    u = draws[(m - m0) * n_poisson + draw_col[j]]
                    spiked = u < p_spike[k] and iconst[1, k] <= m and m < iconst[2, k]
                elif kind == SPIKE_ARRAY:
                    q = ssa_ptr[j]
                    if q < ssa_end[j] and ssa_steps[q] == m:
                        spiked = True
                        ssa_ptr[j] = q + 1
                else:
                    e_idx = (slot * 2) * n + j
                    i_idx = e_idx + n
                    syn_e = state[1, j] + ring[e_idx]
                    syn_i = state[2, j] + ring[i_idx]
                    ring[e_idx] = 0.0
                    ring[i_idx] = 0.0
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
                        state[3, j] = w_new + (fconst[10, k] if spiked else 0.0)
                        state[4, j] = theta + (fconst[12, k] if spiked else 0.0)
                    else:
                        spiked = v_new > thresh and not refractory
                    state[0, j] = reset if spiked else v_new
                    state[1, j] = mul(syn_e, p_e)
                    state[2, j] = mul(syn_i, p_i)
                    if spiked:
                        last_spike[j] = m
                if not scatter:
                    flags[par * n + j] = 1 if spiked else 0
                if spiked:
                    if scatter:
                        slot_in_list = cuda.atomic.add(counters, C_SPK + c3, 1)
                        spike_list[par * n + slot_in_list] = j
                    if rec_mask[j]:
                        pos = base + cuda.atomic.add(counters, C_REC + c3, 1)
                        rec[2 * pos] = m
                        rec[2 * pos + 1] = j
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
                        if flags[par * n + syn_other[s]]:
                            dr = syn_dr[s]
                            target = (((m + (dr >> 1)) % ring_length) * 2 + (dr & 1)) * n + j
                            ring[target] = ring[target] + syn_w[s]
            if m + 1 < m_end and total + n_recorded > capacity:
                # the next step could overflow the spike buffer: stop (uniformly) here
                if tid == 0:
                    counters[C_STOP] = m + 1
                break
        if tid == 0:
            counters[C_TOTAL] = total

    return run_steps


_KERNELS: dict[tuple[bool, bool], Any] = {}


def _kernel(exact: bool, scatter: bool) -> Any:
    key = (exact, scatter)
    if key not in _KERNELS:
        _KERNELS[key] = _build_kernel(exact, scatter)
    return _KERNELS[key]


# ------------------------------------------------------------------------------------------------
# host side


@dataclasses.dataclass(frozen=True)
class _Channel:
    """One sampled (recorder, variable): its state row and recorded (global) neurons."""

    label: str
    variable: str
    row: int
    neurons: IntArray
    interval: int


class CudaSimulator:
    """Clock-driven simulation of a compiled network on a CUDA GPU (see module docstring).

    Options:

    * ``dtype``: ``"float64"`` (default; bit-identical to the NumPy reference with
      ``delivery="gather"``) or ``"float32"`` (half the memory traffic; not exact);
    * ``delivery``: ``"gather"`` (default; deterministic, cost per synapse and step) or
      ``"scatter"`` (atomic adds, cost per synaptic event; float sums in a nondeterministic
      order, so state agrees with the reference to rounding, ~1e-16 relative in float64);
    * ``threads_per_block``: CUDA block size (default 256 on a GPU, 4 in the simulator, which
      runs a single block because its grid barrier only spans one).

    ``run`` may be called repeatedly and continues where it stopped.
    """

    OPTIONS: tuple[str, ...] = ("dtype", "delivery", "threads_per_block")

    def __init__(self, compiled: CompiledNetwork, seed: int, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.OPTIONS))
        if unknown:
            raise ValueError(
                f"cuda backend: unknown option(s) {', '.join(unknown)}; "
                f"valid options: {', '.join(self.OPTIONS)}"
            )
        self.dtype = _parse_dtype(options.get("dtype", "float64"))
        delivery = options.get("delivery", "gather")
        if delivery not in DELIVERIES:
            raise ValueError(
                f"cuda backend: delivery must be one of {', '.join(DELIVERIES)}, got {delivery!r}"
            )
        self.delivery: str = delivery
        default_threads = SIM_THREADS_PER_BLOCK if SIMULATOR else GPU_THREADS_PER_BLOCK
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
        self._rngs = {
            p.index: run_generator(seed, p.index) for p in compiled.populations if p.is_poisson
        }
        self._lower(compiled)
        self._kernel = _kernel(self.dtype == np.float64, self.delivery == "scatter")
        self._blocks: int | None = None
        self._sample_steps: list[list[IntArray]] = [[] for _ in self._channels]
        self._sample_values: list[list[FloatArray]] = [[] for _ in self._channels]

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
        fcols: list[FloatArray] = []
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
            f = np.zeros((N_FLOAT_CONSTS, p.size))
            i = np.zeros((N_INT_CONSTS, p.size), np.int64)
            ps = np.zeros(p.size)
            for row, key in enumerate(FLOAT_CONSTS[kind]):
                f[row] = p.consts[key]
            for row, key in enumerate(INT_CONSTS[kind]):
                if key in p.consts:
                    i[row] = p.consts[key]
            if kind == POISSON:
                ps[:] = p.consts["p_spike"]
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

        # synapses of all projections in declaration order, then synapse (storage) order; the
        # gather table lists each target's incoming synapses, stably sorted: still in that order
        n_syn = sum(pr.weights.size for pr in projs)
        sort_key = np.empty(n_syn, np.uint32)
        other = np.empty(n_syn, np.int32)
        weights = np.empty(n_syn, T)
        dr = np.empty(n_syn, np.int32)
        start = 0
        for pr in projs:
            sl = slice(start, start + pr.weights.size)
            pre, post = pr.pre_idx + pop_off[pr.pre], pr.post_idx + pop_off[pr.post]
            sort_key[sl], other[sl] = (post, pre) if self.delivery == "gather" else (pre, post)
            weights[sl] = pr.weights
            dr[sl] = pr.delays * 2 + pr.receptor
            start = sl.stop
        order = _stable_order(sort_key)
        count = np.bincount(sort_key, minlength=n)
        syn_ptr = np.zeros(n + 1, np.int64)
        np.cumsum(count, out=syn_ptr[1:])
        if self.delivery == "gather":
            # sliced ELL: the q-th incoming synapse of neuron j = SLICE b + lane is at
            # offset[b] + q SLICE + lane, so neighbouring threads read neighbouring entries
            target = sort_key[order].astype(np.int64)
            rank = np.arange(n_syn, dtype=np.int64) - syn_ptr[target]
            padded = np.zeros(-(-n // SLICE) * SLICE, np.int64)
            padded[:n] = count
            width = padded.reshape(-1, SLICE).max(axis=1)
            offset = np.concatenate(([0], np.cumsum(width * SLICE)))
            where = offset[target // SLICE] + rank * SLICE + target % SLICE
            size = int(offset[-1])
            syn_table = [np.zeros(size, a.dtype) for a in (other, weights, dr)]
            for table, values in zip(syn_table, (other, weights, dr), strict=True):
                table[where] = values[order]
            syn_ptr, syn_count = offset[:-1], count.astype(np.int32)
        else:
            syn_table = [other[order], weights[order], dr[order]]
            syn_count = np.zeros(1, np.int32)

        # recording: spikes of recorded neurons; sample channels (recorder, variable)
        rec_mask = np.zeros(n, np.uint8)
        channels: list[_Channel] = []
        for r in c.recorders:
            base = int(pop_off[r.target])
            if "spikes" in r.variables:
                rec_mask[base + r.neurons] = 1
            for var in r.variables:
                if var != "spikes":
                    channels.append(
                        _Channel(r.label, var, STATE_ROWS[var], base + r.neurons, r.interval_steps)
                    )
        self._channels = channels
        ent_neuron = _cat([ch.neurons for ch in channels], np.int64)
        ent_channel = _cat([np.full(ch.neurons.size, k) for k, ch in enumerate(channels)], np.int64)
        ent_column = _cat([np.arange(ch.neurons.size) for ch in channels], np.int64)
        samp_order = np.argsort(ent_neuron, kind="stable")
        samp_ptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(ent_neuron, minlength=n), out=samp_ptr[1:])

        self._n = n
        self._L = L
        self._pop_off = pop_off
        self._n_poisson = n_draw
        self._n_recorded = int(rec_mask.sum())
        self._chunk_steps = max(1, min(MAX_STEPS_PER_CHUNK, MAX_DRAWS_PER_CHUNK // max(1, n_draw)))
        self._capacity = max(4096, 4 * self._n_recorded)
        dev = _to_device
        self._d = {
            "code": dev(code),
            "column": dev(column),
            "fconst": dev(
                np.hstack(fcols).astype(T) if fcols else np.zeros((N_FLOAT_CONSTS, 1), T)
            ),
            "iconst": dev(np.hstack(icols) if icols else np.zeros((N_INT_CONSTS, 1), np.int64)),
            "p_spike": dev(_cat(pcols, np.float64)),
            "draw_col": dev(draw_col),
            "ssa_ptr": dev(ssa_ptr),
            "ssa_end": dev(ssa_end),
            "ssa_steps": dev(_cat(ssa_steps, np.int64)),
            "state": dev(state.astype(T)),
            "last_spike": dev(last_spike),
            "ring": dev(np.zeros(L * 2 * n, T)),
            "flags": dev(np.zeros(2 * n if self.delivery == "gather" else 1, np.uint8)),
            "spike_list": dev(np.zeros(2 * n if self.delivery == "scatter" else 1, np.int32)),
            "syn_ptr": dev(syn_ptr),
            "syn_count": dev(syn_count),
            "syn_other": dev(syn_table[0]),
            "syn_w": dev(syn_table[1]),
            "syn_dr": dev(syn_table[2]),
            "rec_mask": dev(rec_mask),
            "rec": cuda.device_array(2 * self._capacity, np.int64),
            "samp_ptr": dev(samp_ptr),
            "samp_channel": dev(ent_channel[samp_order]),
            "samp_column": dev(ent_column[samp_order]),
        }

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
        draws = np.zeros((k, max(1, self._n_poisson)))
        for p in self.compiled.populations:
            if p.is_poisson:
                col = self._draw_off[p.index]
                draws[:, col : col + p.size] = self._rngs[p.index].random((k, p.size))
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
            args = (
                m, m0 + k, m0, self._n, self._L, self._n_poisson, self._n_recorded,
                self._capacity,
                d["code"], d["column"], d["fconst"], d["iconst"], d["p_spike"], d["draw_col"],
                d_draws, d["ssa_ptr"], d["ssa_end"], d["ssa_steps"], d["state"],
                d["last_spike"], d["ring"], d["flags"], d["spike_list"], d["syn_ptr"],
                d["syn_count"], d["syn_other"], d["syn_w"], d["syn_dr"], d["rec_mask"], d["rec"],
                d["samp_ptr"], d["samp_channel"], d["samp_column"], d_chan, samples, d_counters,
            )  # fmt: skip
            blocks = self._grid_blocks(args)
            self._kernel[blocks, self.threads_per_block](*args)
            counters = d_counters.copy_to_host()
            written = int(counters[C_TOTAL])
            if written:
                pairs = d["rec"][: 2 * written].copy_to_host().reshape(-1, 2)
                self._harvest_spikes(pairs[:, 0].copy(), pairs[:, 1].copy())
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
                    self._sample_steps[ci].append(steps_of[ci])
                    self._sample_values[ci].append(block)

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

    def _harvest_spikes(self, steps: IntArray, gids: IntArray) -> None:
        for r in self.compiled.recorders:
            if r.kind != "population" or "spikes" not in r.variables:
                continue
            off = int(self._pop_off[r.target])
            size = self.compiled.populations[r.target].size
            mask = np.zeros(size, dtype=bool)
            mask[r.neurons] = True
            local = gids - off
            inside = (local >= 0) & (local < size)
            keep = np.zeros(gids.size, dtype=bool)
            keep[inside] = mask[local[inside]]
            if keep.any():
                self.collector.add_spike_block(r.label, steps[keep], local[keep])

    def recording(self, duration: float) -> Recording:
        """The recording so far, in the same format (and values) as the NumPy reference's."""
        out = self.collector.build(
            duration,
            "cuda",
            self.seed,
            dtype=np.dtype(self.dtype).name,
            delivery=self.delivery,
            simulator=SIMULATOR,
        )
        for ci, ch in enumerate(self._channels):
            trace = out.traces[ch.label][ch.variable]
            steps = (
                np.concatenate(self._sample_steps[ci])
                if self._sample_steps[ci]
                else np.zeros(0, np.int64)
            )
            values = (
                np.vstack(self._sample_values[ci])
                if self._sample_values[ci]
                else np.zeros((0, trace.index.size))
            )
            out.traces[ch.label][ch.variable] = dataclasses.replace(
                trace, times=steps.astype(np.float64) * self.compiled.dt, values=values
            )
        return out


def check_supported(compiled: CompiledNetwork) -> None:
    """Refuse, by name, what this backend does not run (before anything is compiled)."""
    if compiled.semantics != "exact":
        raise ValueError(
            f"cuda backend: the {compiled.semantics!r} semantics (sPyNNaker's discrete update "
            "rules) are not implemented on CUDA; run this network with backend='numba' "
            "(bit-identical to the reference) or backend='numpy'"
        )
    for p in compiled.populations:
        if p.model.deep_only:
            raise ValueError(
                f"cuda backend: population {p.label!r} ({p.model.name}) belongs to a deep "
                "network, which runs layer by layer on frames: use snn.deep.run(net, frames, "
                "backend='numpy' or 'numba') or snn.deep.lower_torch(net)"
            )
        if p.model.name not in MODEL_CODES:
            raise ValueError(
                f"cuda backend: population {p.label!r} uses neuron model {p.model.name!r}, which "
                f"it cannot run; supported models: {', '.join(MODEL_CODES)}; "
                "backend='numpy' runs every model"
            )
    for pr in compiled.projections:
        if pr.stdp is not None:
            raise ValueError(
                f"cuda backend: projection {pr.label!r} is plastic (STDP), which this backend "
                "does not run yet; run plastic networks with backend='numba' (bit-identical to "
                "the reference) or backend='numpy'"
            )


def _parse_dtype(value: Any) -> type[np.floating[Any]]:
    try:
        name = np.dtype(value).name
    except TypeError:
        name = repr(value)
    if name not in DTYPES:
        raise ValueError(f"cuda backend: dtype must be one of {', '.join(DTYPES)}, got {value!r}")
    return DTYPES[name]  # type: ignore[return-value]


def _bitwise_uniform(values: NDArray[Any]) -> bool:
    """All entries have the same bits (so one column of constants serves the population)."""
    if values.size == 0:
        return True
    flat = np.ascontiguousarray(values).reshape(-1)
    raw = flat.view(np.uint8).reshape(flat.size, -1)
    return bool((raw == raw[0]).all())


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
