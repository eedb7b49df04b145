r"""The E/I reservoir's recurrent weights on memristor crossbars.

The signed recurrent matrix :math:`W = A_E - A_I` (Dale's law: the column of an excitatory unit
is :math:`\ge 0`, that of an inhibitory unit :math:`\le 0`) is programmed onto tiled crossbars
by a :class:`~snn.hardware.crossbar.substrate.CrossbarSubstrate` as the ``(n_in, n_out)`` matrix
:math:`W^T`: word line ``j`` carries the rate :math:`r_j(t-1)`, bit line ``i`` returns unit
``i``'s recurrent drive :math:`\sum_j W_{ij} r_j(t-1)`. The input weights :math:`W_{in}`, the
leak and the sigmoid stay digital. Two ways of reading the arrays, as for a network projection:

* **static** (:func:`program_reservoir`, :meth:`EIReservoir.on_crossbar`): programmed once;
  every non-ideality that does not depend on the input (programming noise, finite levels,
  faults, variability, drift and one read-noise draw at the substrate's ``read_time``, IR drop)
  is folded into the effective matrix :math:`W_{eff}`
  (:meth:`~snn.hardware.crossbar.substrate.CrossbarSubstrate.effective_matrix`, exact with ideal
  converters). The result is an ordinary :class:`EIReservoir` that every backend runs.
* **dynamic** (:func:`run_dynamic`): every step reads the same programmed arrays through
  :meth:`~snn.hardware.crossbar.mapping.CrossbarLayer.forward`: read noise redrawn per step,
  the rates through the DAC, the bit-line currents through the ADC, all at ``read_time`` (a run
  is short next to drift). A step reads every device: measured 0.13 ms per step at N = 200
  without read noise, 4.5 ms with PCM's 1/f read noise; with wire resistance each noisy read
  also rebuilds and solves the IR-drop circuit of every tile.

**The whole array is programmed.** A crossbar has a cell for every (pre, post) pair: an absent
synapse is a pair at the zero-weight conductances (both :math:`g_{min}`, or :math:`g_{mid}` with
the offset mapping), and its noise adds to the drive like any weight's. The programmed reservoir
therefore stores :math:`W_{eff}` densely: every unit is presynaptic to every unit, itself
included (``params.in_degree = n``, ``autapses=True``; the designed parameters stay in
``crossbar.source.params``), with ``w_exc = W_eff[:, :n_exc]`` and
``w_inh = -W_eff[:, n_exc:]``. An entry whose realised sign contradicts Dale's law (noise on an
absent or small weight) keeps that sign, because the array computes it: clipping it at zero would
add the positive half of the noise of about N absent synapses to every unit's drive. Their number
is reported (:attr:`CrossbarProgramming.dale_violations`).

**Adaptation and design run in software, before programming.** Inhibitory adaptation changes
:math:`A_I` at every step; the arrays are written once. Adapt (or design) the software reservoir
and program the result, ``res.adapt(u, rho).reservoir.on_crossbar(substrate)``: the programmed
reservoir realises the adapted weights with the device's errors, which move the rates away from
the targets again (measured in ``tests/test_reservoir_crossbar.py``). A programmed reservoir
refuses :meth:`EIReservoir.adapt`, :meth:`EIReservoir.design` and
:meth:`EIReservoir.with_inhibition`: changing its effective weights without reprogramming has no
hardware counterpart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike

from snn.hardware.crossbar.mapping import CrossbarLayer
from snn.hardware.crossbar.substrate import CrossbarSubstrate
from snn.models.reservoir.ei import EIReservoir, EIState, FloatArray, _as_inputs


@dataclass(frozen=True, eq=False)
class CrossbarProgramming:
    """How a programmed reservoir's recurrent weights were realised (``EIReservoir.crossbar``)."""

    #: the software reservoir whose weights were programmed
    source: EIReservoir
    substrate: CrossbarSubstrate
    #: seeds the devices' programming and the read-noise draw folded into the effective weights
    seed: int
    #: ||W_eff - W||_F / ||W||_F over the whole N x N matrix
    relative_error: float
    #: ||W_eff - W||_F / ||W||_F over the designed synapses only (A_E + A_I > 0)
    synapse_error: float
    #: entries of W_eff whose sign contradicts Dale's law for their presynaptic unit
    dale_violations: int

    def target(self) -> FloatArray:
        """The designed recurrent matrix W = A_E - A_I (N, N): row = postsynaptic unit."""
        a_exc, a_inh = self.source.dense()
        return a_exc - a_inh

    def layer(self) -> CrossbarLayer:
        """The programmed arrays, with the substrate's DAC and ADC, holding W^T.

        The same seed programs the same devices as the effective weights were measured on.
        """
        return self.substrate.layer(np.ascontiguousarray(self.target().T), seed=self.seed)


def _check_seed(seed: object, owner: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(
            f"{owner}: seed must be a non-negative integer (it seeds the device programming), "
            f"got {seed!r} of type {type(seed).__name__}"
        )
    return int(seed)


def program_reservoir(
    reservoir: EIReservoir, substrate: CrossbarSubstrate, seed: int = 0
) -> EIReservoir:
    """``reservoir`` with its recurrent weights programmed once onto ``substrate``.

    Returns a reservoir whose recurrent matrix is the effective :math:`W_{eff}` (stored densely,
    see the module docstring) and whose ``crossbar`` attribute is the
    :class:`CrossbarProgramming` report. Input weights and parameters other than the in-degree
    are those of ``reservoir``.

    Raises ValueError if ``substrate`` is not a :class:`CrossbarSubstrate`, ``seed`` is not a
    non-negative integer or ``reservoir`` is already programmed.
    """
    owner = "EIReservoir.on_crossbar"
    if not isinstance(reservoir, EIReservoir):
        raise ValueError(f"{owner}: need an EIReservoir, got {type(reservoir).__name__}")
    if not isinstance(substrate, CrossbarSubstrate):
        raise ValueError(
            f"{owner}: substrate must be a snn.hardware.crossbar.CrossbarSubstrate, got "
            f"{type(substrate).__name__} ({substrate!r:.80})"
        )
    programming_seed = _check_seed(seed, owner)
    if reservoir.crossbar is not None:
        raise ValueError(
            f"{owner}: this reservoir is already programmed on a crossbar; program its software "
            "source (reservoir.crossbar.source) instead"
        )
    a_exc, a_inh = reservoir.dense()
    target = a_exc - a_inh
    effective = np.ascontiguousarray(
        substrate.effective_matrix(np.ascontiguousarray(target.T), seed=programming_seed).T
    )
    p = reservoir.params
    norm = float(np.linalg.norm(target))
    synapse = (a_exc + a_inh) > 0
    error = effective - target
    exc_cols = effective[:, : p.n_exc]
    inh_cols = effective[:, p.n_exc :]
    report = CrossbarProgramming(
        source=reservoir,
        substrate=substrate,
        seed=programming_seed,
        relative_error=float(np.linalg.norm(error)) / norm if norm > 0 else 0.0,
        synapse_error=float(np.linalg.norm(error[synapse])) / norm if norm > 0 else 0.0,
        dale_violations=int(np.count_nonzero(exc_cols < 0) + np.count_nonzero(inh_cols > 0)),
    )
    rows = np.ones((p.n, 1), dtype=np.int64)
    return EIReservoir(
        params=replace(p, in_degree=p.n, autapses=True),
        pre_exc=rows * np.arange(p.n_exc),
        w_exc=np.ascontiguousarray(exc_cols),
        pre_inh=rows * np.arange(p.n_exc, p.n),
        w_inh=np.ascontiguousarray(-inh_cols),
        w_in=reservoir.w_in,
        crossbar=report,
    )


def run_dynamic(
    reservoir: EIReservoir,
    inputs: ArrayLike,
    state: EIState | None = None,
    rng: int | np.random.Generator | None = None,
) -> tuple[FloatArray, EIState]:
    r"""Drive a programmed reservoir with every recurrent product read from its crossbars.

    ``reservoir`` comes from :meth:`EIReservoir.on_crossbar`; its programmed arrays are rebuilt
    from the same seed (the same devices as its effective weights) and read once per step
    (:meth:`CrossbarLayer.forward` at the substrate's ``read_time``, DAC and ADC included):

    .. math::

        V(t) = (1 - a)\, V(t-1) + a \left[\mathrm{read}_t\!\left(r(t-1)\right)
        + W_{in}\, u(t)\right], \qquad r(t) = \sigma\!\left(c\,(V(t) - \theta)\right).

    ``rng`` draws the read noise (default: the arrays' own stream, seeded by the programming
    seed, so a call is reproducible). Returns the rates (T, N) and the final state, as
    :meth:`EIReservoir.run`.
    """
    programming = reservoir.crossbar
    if programming is None:
        raise ValueError(
            "run_dynamic: the reservoir is not on a crossbar; program it first with "
            "reservoir.on_crossbar(substrate, seed)"
        )
    u = _as_inputs(inputs, reservoir.params.n_inputs, "run_dynamic")
    layer = programming.layer()
    gen = None if rng is None else np.random.default_rng(rng)
    read_time = programming.substrate.read_time
    s = state if state is not None else reservoir.initial_state()
    out = np.empty((u.shape[0], reservoir.n))
    for t in range(u.shape[0]):
        recurrent = layer.forward(s.r, t=read_time, rng=gen)[0]
        s = reservoir.step_from_drive(s, recurrent, u[t])
        out[t] = s.r
    return out, s


__all__ = ["CrossbarProgramming", "program_reservoir", "run_dynamic"]
