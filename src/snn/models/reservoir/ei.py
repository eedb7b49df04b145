r"""Rate reservoirs of excitatory and inhibitory units whose inhibition adapts to target rates.

Seed paper: K. Srinivasan, D. Plenz and M. Girvan, "Boosting reservoir computing with
brain-inspired adaptive dynamics", arXiv 2504.12480 (2025). The authors' code was not found; the
model follows the description of a third-party re-implementation and every choice below is a
parameter of :class:`EIParameters`.

**Network.** ``n`` rate units, a fraction ``exc_fraction`` (:math:`f_E`, 0.8) excitatory and the
rest inhibitory (Dale's law: a unit's outgoing weights all have one sign). Each unit receives a
fixed in-degree :math:`k` = ``in_degree``: :math:`k_E = \mathrm{round}(f_E k)` excitatory and
:math:`k_I = k - k_E` inhibitory presynaptic units, drawn without replacement (no autapses unless
``autapses``). Fixing the split, rather than drawing ``k`` units from the whole population, gives
every unit at least one inhibitory synapse that adaptation can act on. With ``connectivity =
"fixed_in_degree"`` (default) each unit draws its partners independently, so out-degrees vary
(binomially: at :math:`k = 3` about 6 % of the units project nowhere and add no recurrence);
``"regular"`` also fixes the out-degrees (a random regular digraph per population block: each
excitatory unit projects to :math:`N k_E / N_E` units and each inhibitory one to
:math:`N k_I / N_I`, both :math:`k` when :math:`f_E k` is a whole number, differing by at most
one where the division is not exact). Weight magnitudes are drawn
around

.. math::

    \mu_E = \frac{1}{k f_E}, \qquad \mu_I = \beta \, \frac{f_E}{f_I} \, \mu_E
    = \frac{\beta}{k f_I},

so a unit's expected summed excitatory weight is 1 and its summed inhibitory weight is the
**balance** :math:`\beta`: ``balance = 1`` is balanced, ``< 1`` excitation-dominated, ``> 1``
over-inhibited (exactly so when :math:`f_E k` is a whole number, as at the default
:math:`k = 10`; otherwise the sums are :math:`k_E \mu_E = \mathrm{round}(f_E k) / (f_E k)`, e.g.
0.83 at :math:`k = 3`, and :math:`k_I \mu_I`, and :meth:`EIReservoir.inhibition_ratio` gives the
realised balance). The magnitudes are :math:`\mu` times a unit-mean random factor (``uniform`` on
[0, 2], ``lognormal`` with coefficient of variation ``weight_cv``, or ``constant`` 1), drawn
once, so reservoirs built with the same seed and different balances share connectivity and
differ only in the scale of :math:`A_I`.

**Dynamics** (discrete time, dimensionless: a step is one sample of the input series). With
:math:`A_E, A_I \ge 0` the excitatory and inhibitory weight matrices and
:math:`\sigma(x) = 1 / (1 + e^{-x})`,

.. math::

    V(t) &= (1 - a)\, V(t-1) + a \left[(A_E - A_I)\, r(t-1) + W_{in}\, u(t)\right] \\
    r(t) &= \sigma\!\left(c\, (V(t) - \theta)\right)

with gain :math:`c` = ``gain``, threshold :math:`\theta` = ``threshold`` and leak rate
:math:`a` = ``leak_rate`` (``a = 1``: no leak, the re-implementation's
:math:`V(t+1) = (A_E - A_I) r(t) + W_{in} u(t)` up to the index of :math:`u`; here the state at
step ``t`` has seen ``u(t)``, as in ReservoirPy). A random fraction ``input_fraction`` of the units
receives the input, with weights uniform on ``[-input_scale, input_scale]``; the other rows of
:math:`W_{in}` are zero.

**Adaptation** (:meth:`EIReservoir.adapt`). While driven by an input, after every step each
inhibitory synapse onto unit :math:`i` changes by

.. math:: A_I[i, j] \leftarrow \max\left(0,\; A_I[i, j] + \delta\, (r_i(t) - \rho_i)\right)

with learning rate :math:`\delta` and target rate :math:`\rho_i \in (0, 1)`: a unit above its
target gains inhibition. Its fixed point is a time-averaged rate of :math:`\rho_i` unless the unit
stays below target with no inhibition left (the clip at 0 keeps Dale's law).

**One-step design** (:meth:`EIReservoir.design`). Each unit's inhibitory weights are scaled by
:math:`g_i` so that the fixed point with every rate at its target and a constant input
:math:`\bar u` has :math:`r_i = \rho_i`:

.. math::

    \theta_i + \frac{\operatorname{logit} \rho_i}{c}
    = \sum_j A_E[i, j] \rho_j - g_i \sum_j A_I[i, j] \rho_j + (W_{in} \bar u)_i
    \;\Rightarrow\; g_i = \frac{(A_E \rho)_i + (W_{in}\bar u)_i - \theta_i
    - \operatorname{logit}(\rho_i)/c}{(A_I \rho)_i},

clipped at 0 (a target that needs negative inhibition cannot be reached). With a fluctuating
input the mean rate differs from :math:`\sigma` at the mean potential, so the design sets the
fixed point, not the exact mean rate; adaptation corrects the rest.

Targets: :func:`target_rates` draws uniform (all :math:`\rho_i = \rho`) or heterogeneous
(:math:`\rho_i \sim \mathrm{Beta}(a, b)`, Beta(2, 2) by default) targets.

**On a crossbar** (:meth:`EIReservoir.on_crossbar`, :mod:`.crossbar`). The signed recurrent
matrix :math:`A_E - A_I` is programmed once onto memristor crossbars
(:class:`~snn.hardware.crossbar.substrate.CrossbarSubstrate`) and the returned reservoir runs
with the effective weights the arrays realise (programming noise, levels, faults, variability,
drift, IR drop), stored densely because every cell of the array, absent synapses included,
contributes; ``reservoir.crossbar`` reports the error. :func:`.crossbar.run_dynamic` instead reads
the arrays at every step (read noise, DAC and ADC). Adaptation and design act on the software
reservoir before programming; a programmed reservoir refuses them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit

from snn.models.reservoir import _kernels
from snn.models.reservoir.spectrum import spectral_radius_of
from snn.registry import Registry

if TYPE_CHECKING:
    from snn.hardware.crossbar.substrate import CrossbarSubstrate
    from snn.models.reservoir.crossbar import CrossbarProgramming

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: unit-mean random factors for the weight magnitudes: ``(rng, shape, cv) -> factors``
WEIGHT_DISTRIBUTIONS: Registry[Callable[[np.random.Generator, tuple[int, ...], float], FloatArray]]
WEIGHT_DISTRIBUTIONS = Registry("weight distribution")


@WEIGHT_DISTRIBUTIONS.register("uniform")
def _uniform_factors(rng: np.random.Generator, shape: tuple[int, ...], cv: float) -> FloatArray:
    """Uniform on [0, 2] (coefficient of variation 1/sqrt(3); ``weight_cv`` unused)."""
    return rng.uniform(0.0, 2.0, shape)


@WEIGHT_DISTRIBUTIONS.register("lognormal")
def _lognormal_factors(rng: np.random.Generator, shape: tuple[int, ...], cv: float) -> FloatArray:
    """Lognormal with mean 1 and coefficient of variation ``weight_cv``."""
    s2 = np.log1p(cv * cv)
    return rng.lognormal(-0.5 * s2, np.sqrt(s2), shape)


@WEIGHT_DISTRIBUTIONS.register("constant")
def _constant_factors(rng: np.random.Generator, shape: tuple[int, ...], cv: float) -> FloatArray:
    """All 1: every excitatory weight is mu_E and every inhibitory weight mu_I."""
    return np.ones(shape)


#: how presynaptic partners are drawn (see the module docstring)
CONNECTIVITIES = ("fixed_in_degree", "regular")


def parameters_from(cls: type[Any], values: Mapping[str, Any]) -> Any:
    """Build the frozen dataclass ``cls`` from ``values``, rejecting unknown names.

    Raises ValueError naming the unknown parameters and the valid ones (a dataclass on its own
    raises TypeError with only the first bad name).
    """
    valid = [f.name for f in fields(cls)]
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown {cls.__name__} parameter(s) {', '.join(map(repr, unknown))}; "
            f"valid names: {', '.join(valid)}"
        )
    return cls(**values)


def _max_in_degree(n_exc: int, n_inh: int, exc_fraction: float, autapses: bool) -> int:
    """The largest in-degree whose excitatory/inhibitory split fits the populations."""
    free_e = n_exc - (0 if autapses else 1)
    free_i = n_inh - (0 if autapses else 1)
    best = 0
    for k in range(1, n_exc + n_inh + 1):
        k_e = round(exc_fraction * k)
        if k_e <= free_e and k - k_e <= free_i:
            best = k
    return best


@dataclass(frozen=True)
class EIParameters:
    """Parameters of an E/I rate reservoir (dimensionless; one step is one input sample).

    Build one from a mapping with :func:`ei_parameters`, which names valid parameters when given
    an unknown one.
    """

    #: number of units N
    n: int = 500
    #: fraction of excitatory units f_E (the rest, f_I = 1 - f_E, are inhibitory)
    exc_fraction: float = 0.8
    #: fixed in-degree k, split into round(f_E k) excitatory and the rest inhibitory inputs
    in_degree: int = 10
    #: "fixed_in_degree" (out-degrees vary) or "regular" (out-degrees fixed too, within one)
    connectivity: str = "fixed_in_degree"
    #: beta: expected summed inhibitory weight over summed excitatory weight (1 = balanced)
    balance: float = 1.0
    #: unit-mean factor of the weight magnitudes: "uniform" [0, 2], "lognormal", "constant"
    weight_distribution: str = "uniform"
    #: coefficient of variation of the "lognormal" factors
    weight_cv: float = 0.5
    #: sigmoid gain c (slope c/4 at the threshold)
    gain: float = 4.0
    #: sigmoid threshold theta (potential at which the rate is 0.5)
    threshold: float = 0.0
    #: leak rate a in (0, 1]; 1 means no leak (the potential is recomputed each step)
    leak_rate: float = 1.0
    #: fraction of the units (drawn at random, both populations) that receive the input
    input_fraction: float = 0.5
    #: input weights are uniform on [-input_scale, input_scale]
    input_scale: float = 0.1
    #: dimension of the input u(t)
    n_inputs: int = 1
    #: allow a unit to be its own presynaptic partner
    autapses: bool = False

    def __post_init__(self) -> None:
        if int(self.n) != self.n or self.n < 2:
            raise ValueError(f"EIParameters: n must be an integer >= 2, got {self.n}")
        if not 0.0 < self.exc_fraction < 1.0:
            raise ValueError(
                f"EIParameters: exc_fraction must lie in (0, 1), got {self.exc_fraction}"
            )
        if self.n_exc < 1 or self.n_inh < 1:
            raise ValueError(
                f"EIParameters: n={self.n} with exc_fraction={self.exc_fraction} gives "
                f"{self.n_exc} excitatory and {self.n_inh} inhibitory units; both need >= 1"
            )
        if int(self.in_degree) != self.in_degree or self.in_degree < 1:
            raise ValueError(
                f"EIParameters: in_degree must be an integer >= 1, got {self.in_degree}"
            )
        k_max = _max_in_degree(self.n_exc, self.n_inh, self.exc_fraction, self.autapses)
        if self.in_degree > k_max:
            raise ValueError(
                f"EIParameters: in_degree k={self.in_degree} needs {self.k_exc} excitatory and "
                f"{self.k_inh} inhibitory inputs per unit, but the population has "
                f"{self.n_exc} excitatory and {self.n_inh} inhibitory units"
                f"{'' if self.autapses else ' (less the unit itself)'}; use in_degree <= {k_max}"
            )
        if self.k_inh < 1:
            raise ValueError(
                f"EIParameters: in_degree k={self.in_degree} with exc_fraction="
                f"{self.exc_fraction} leaves no inhibitory input per unit; use in_degree >= "
                f"{int(np.ceil(0.5 / (1.0 - self.exc_fraction)))}"
            )
        for name in ("balance", "weight_cv", "gain", "threshold", "leak_rate", "input_scale"):
            value = getattr(self, name)
            if not np.isfinite(value):
                raise ValueError(f"EIParameters: {name} must be finite, got {value}")
        if self.balance < 0:
            raise ValueError(f"EIParameters: balance must be >= 0, got {self.balance}")
        if self.gain <= 0:
            raise ValueError(f"EIParameters: gain must be > 0, got {self.gain}")
        if self.weight_cv < 0:
            raise ValueError(f"EIParameters: weight_cv must be >= 0, got {self.weight_cv}")
        if not 0.0 < self.leak_rate <= 1.0:
            raise ValueError(f"EIParameters: leak_rate must lie in (0, 1], got {self.leak_rate}")
        if not 0.0 < self.input_fraction <= 1.0:
            raise ValueError(
                f"EIParameters: input_fraction must lie in (0, 1], got {self.input_fraction}"
            )
        if self.input_scale < 0:
            raise ValueError(f"EIParameters: input_scale must be >= 0, got {self.input_scale}")
        if int(self.n_inputs) != self.n_inputs or self.n_inputs < 1:
            raise ValueError(f"EIParameters: n_inputs must be an integer >= 1, got {self.n_inputs}")
        WEIGHT_DISTRIBUTIONS.get(self.weight_distribution)  # ValueError lists valid choices
        if self.connectivity not in CONNECTIVITIES:
            raise ValueError(
                f"EIParameters: unknown connectivity {self.connectivity!r}; valid choices: "
                f"{', '.join(CONNECTIVITIES)}"
            )

    @property
    def n_exc(self) -> int:
        """Number of excitatory units, round(f_E N); they are units 0 .. n_exc - 1."""
        return round(self.exc_fraction * self.n)

    @property
    def n_inh(self) -> int:
        return self.n - self.n_exc

    @property
    def k_exc(self) -> int:
        """Excitatory inputs per unit, round(f_E k)."""
        return round(self.exc_fraction * self.in_degree)

    @property
    def k_inh(self) -> int:
        return self.in_degree - self.k_exc

    @property
    def mu_exc(self) -> float:
        """Mean excitatory weight mu_E = 1 / (k f_E)."""
        return 1.0 / (self.in_degree * self.exc_fraction)

    @property
    def mu_inh(self) -> float:
        """Mean inhibitory weight mu_I = beta (f_E / f_I) mu_E."""
        return self.balance * self.exc_fraction / (1.0 - self.exc_fraction) * self.mu_exc


def ei_parameters(**values: Any) -> EIParameters:
    """:class:`EIParameters` from keyword arguments; unknown names raise ValueError."""
    out: EIParameters = parameters_from(EIParameters, values)
    return out


class EIState(NamedTuple):
    """Membrane potentials ``v`` and rates ``r`` of every unit (arrays of shape (N,))."""

    v: FloatArray
    r: FloatArray


class AdaptationResult(NamedTuple):
    """What :meth:`EIReservoir.adapt` returns."""

    #: the reservoir with adapted inhibitory weights
    reservoir: EIReservoir
    #: state at the end of the adaptation run
    state: EIState
    #: mean over units of |r_i(t) - rho_i| at every step
    error_trace: FloatArray
    #: units left with no inhibition: their target needs more excitation than they receive
    saturated: NDArray[np.bool_]


class DesignResult(NamedTuple):
    """What :meth:`EIReservoir.design` returns."""

    reservoir: EIReservoir
    #: g_i, the factor applied to unit i's inhibitory weights
    inhibitory_scale: FloatArray
    #: False where the target needs negative inhibition (g_i clipped to 0)
    reachable: NDArray[np.bool_]


def _as_inputs(inputs: ArrayLike, n_inputs: int, owner: str) -> FloatArray:
    u = np.asarray(inputs, dtype=np.float64)
    if u.ndim == 1 and n_inputs == 1:
        u = u[:, None]
    if u.ndim != 2 or u.shape[1] != n_inputs:
        raise ValueError(
            f"{owner}: inputs must have shape (T,) or (T, {n_inputs}), got {np.shape(inputs)}"
        )
    if not np.isfinite(u).all():
        bad = int(np.flatnonzero(~np.isfinite(u).all(axis=1))[0])
        raise ValueError(
            f"{owner}: inputs must be finite; step {bad} holds {u[bad].tolist()} "
            "(NaN and inf are rejected)"
        )
    return np.ascontiguousarray(u)


def check_targets(targets: ArrayLike, n: int, owner: str = "targets") -> FloatArray:
    """Target rates as an (n,) array; each must lie strictly inside (0, 1)."""
    rho = np.asarray(targets, dtype=np.float64)
    if rho.ndim == 0:
        rho = np.full(n, float(rho))
    if rho.shape != (n,):
        raise ValueError(f"{owner}: give a scalar or {n} target rates, got shape {rho.shape}")
    bad = ~((rho > 0.0) & (rho < 1.0))  # also catches NaN
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{owner}: target rates must lie strictly inside (0, 1) (a sigmoid rate never reaches "
            f"0 or 1); unit {i} has {rho[i]}"
        )
    return rho


#: target-rate distributions: ``(rng, n, rate, a, b) -> targets``
TARGET_DISTRIBUTIONS: Registry[
    Callable[[np.random.Generator, int, float, float, float], FloatArray]
]
TARGET_DISTRIBUTIONS = Registry("target distribution")


@TARGET_DISTRIBUTIONS.register("uniform")
def _uniform_targets(
    rng: np.random.Generator, n: int, rate: float, a: float, b: float
) -> FloatArray:
    """Every unit has the same target ``rate``."""
    return np.full(n, rate)


@TARGET_DISTRIBUTIONS.register("beta")
def _beta_targets(rng: np.random.Generator, n: int, rate: float, a: float, b: float) -> FloatArray:
    """Heterogeneous targets rho_i ~ Beta(a, b) (mean a / (a + b))."""
    return rng.beta(a, b, n)


def target_rates(
    n: int,
    distribution: str = "uniform",
    *,
    rate: float = 0.5,
    a: float = 2.0,
    b: float = 2.0,
    seed: int | np.random.Generator | None = None,
) -> FloatArray:
    """Target rates rho_i for ``n`` units: ``"uniform"`` (all ``rate``) or ``"beta"`` (Beta(a, b)).

    Raises ValueError for an unknown distribution (listing the valid ones) or targets outside
    (0, 1).
    """
    draw = TARGET_DISTRIBUTIONS.get(distribution)
    if distribution == "beta" and not (a > 0 and b > 0):
        raise ValueError(f"target_rates: Beta(a, b) needs a > 0 and b > 0, got a={a}, b={b}")
    rho = draw(np.random.default_rng(seed), n, rate, a, b)
    return check_targets(rho, n, "target_rates")


#: runners of the reservoir: ``(reservoir, inputs (T, d), state) -> (rates (T, N), final state)``
RESERVOIR_BACKENDS: Registry[
    Callable[[EIReservoir, FloatArray, EIState], tuple[FloatArray, EIState]]
]
RESERVOIR_BACKENDS = Registry("reservoir backend")


@dataclass(frozen=True, eq=False)
class EIReservoir:
    """An E/I rate reservoir: parameters and the drawn weights (read-only arrays).

    Weights are stored by fixed in-degree: row ``i`` of ``pre_exc`` lists the excitatory units
    presynaptic to unit ``i`` and the same row of ``w_exc`` the magnitudes ``A_E[i, pre]``;
    likewise ``pre_inh`` / ``w_inh`` for ``A_I``. Excitatory units are ``0 .. n_exc - 1``.
    ``crossbar`` is None for a software reservoir and the programming report for one returned
    by :meth:`on_crossbar` (whose weights are the effective ones, stored densely).
    """

    params: EIParameters
    pre_exc: IntArray
    w_exc: FloatArray
    pre_inh: IntArray
    w_inh: FloatArray
    w_in: FloatArray
    crossbar: CrossbarProgramming | None = None

    def __post_init__(self) -> None:
        for name in ("pre_exc", "w_exc", "pre_inh", "w_inh", "w_in"):
            getattr(self, name).setflags(write=False)

    @property
    def n(self) -> int:
        return self.params.n

    @property
    def gain(self) -> FloatArray:
        return np.full(self.n, self.params.gain)

    @property
    def threshold(self) -> FloatArray:
        return np.full(self.n, self.params.threshold)

    def initial_state(self) -> EIState:
        """Potentials 0 and the rates they give, sigma(-c theta)."""
        v = np.zeros(self.n)
        return EIState(v, expit(-self.gain * self.threshold))

    def dense(self) -> tuple[FloatArray, FloatArray]:
        """The (N, N) matrices ``A_E`` and ``A_I`` (both >= 0; the recurrent matrix: A_E - A_I)."""
        a_exc = np.zeros((self.n, self.n))
        a_inh = np.zeros((self.n, self.n))
        rows = np.arange(self.n)[:, None]
        np.add.at(a_exc, (rows, self.pre_exc), self.w_exc)
        np.add.at(a_inh, (rows, self.pre_inh), self.w_inh)
        return a_exc, a_inh

    def recurrent_matrix(self) -> sp.csr_matrix:
        """The signed recurrent matrix ``A_E - A_I`` (N, N), sparse (one entry per synapse)."""
        rows = np.repeat(np.arange(self.n), self.pre_exc.shape[1] + self.pre_inh.shape[1])
        cols = np.hstack([self.pre_exc, self.pre_inh]).ravel()
        values = np.hstack([self.w_exc, -self.w_inh]).ravel()
        return sp.csr_matrix((values, (rows, cols)), shape=(self.n, self.n))

    def inhibition_ratio(self) -> FloatArray:
        """Each unit's summed inhibitory over summed excitatory weight (its own balance)."""
        return self.w_inh.sum(axis=1) / self.w_exc.sum(axis=1)

    def _check_software(self, owner: str) -> None:
        """Weights of a programmed reservoir cannot change without reprogramming the arrays."""
        if self.crossbar is not None:
            raise ValueError(
                f"{owner}: this reservoir's weights are programmed on a crossbar and cannot "
                "change; adapt or design its software source and program the result, e.g. "
                "reservoir.crossbar.source.adapt(...).reservoir.on_crossbar(substrate, seed)"
            )

    def with_effective_radius(self, radius: float, rate: float = 0.5) -> EIReservoir:
        """The same reservoir with the gain c that gives its dynamics, linearised where every
        rate is ``rate``, the spectral radius ``radius``: c rate (1 - rate) rho(A_E - A_I) =
        radius. For units adapted to rate 0.5 the fixed point V = theta does not depend on c, so
        the gain can be set after adaptation without moving the rates off their target."""
        if not (np.isfinite(radius) and radius > 0 and 0.0 < rate < 1.0):
            raise ValueError(
                f"with_effective_radius: need radius > 0 and rate in (0, 1), got {radius}, {rate}"
            )
        rho = spectral_radius_of(self.recurrent_matrix())
        if rho == 0.0:
            raise ValueError("with_effective_radius: the recurrent matrix has spectral radius 0")
        gain = radius / (rate * (1.0 - rate) * rho)
        return replace(self, params=replace(self.params, gain=gain))

    def with_inhibition(self, w_inh: ArrayLike) -> EIReservoir:
        """The same reservoir with inhibitory magnitudes ``w_inh`` (shape of ``self.w_inh``)."""
        self._check_software("with_inhibition")
        w = np.array(w_inh, dtype=np.float64)
        if w.shape != self.w_inh.shape or not (np.isfinite(w).all() and (w >= 0).all()):
            raise ValueError(
                f"with_inhibition: need finite magnitudes >= 0 of shape {self.w_inh.shape}"
            )
        return replace(self, w_inh=w)

    def step(self, state: EIState, u: ArrayLike) -> EIState:
        """One step of the NumPy reference: ``state`` at t-1 and input u(t) -> state at t."""
        r = state.r
        excitation = (self.w_exc * r[self.pre_exc]).sum(axis=1)
        inhibition = (self.w_inh * r[self.pre_inh]).sum(axis=1)
        return self.step_from_drive(state, excitation - inhibition, u)

    def step_from_drive(self, state: EIState, recurrent: ArrayLike, u: ArrayLike) -> EIState:
        """One step given the recurrent drive ``(A_E - A_I) r(t-1)`` (N,) computed elsewhere
        (:meth:`step` computes it from the weights, :func:`.crossbar.run_dynamic` reads it from
        crossbars)."""
        p = self.params
        drive = np.asarray(recurrent, dtype=np.float64) + self.w_in @ np.atleast_1d(
            np.asarray(u, dtype=np.float64)
        )
        v = (1.0 - p.leak_rate) * state.v + p.leak_rate * drive
        return EIState(v, expit(self.gain * (v - self.threshold)))

    def on_crossbar(self, substrate: CrossbarSubstrate, seed: int = 0) -> EIReservoir:
        """This reservoir with its recurrent weights programmed once onto ``substrate``.

        The returned reservoir runs with the effective weights the arrays realise and carries
        the report in ``crossbar``; ``seed`` seeds the programming. See
        :func:`snn.models.reservoir.crossbar.program_reservoir`.
        """
        from snn.models.reservoir.crossbar import program_reservoir  # imports the hardware

        return program_reservoir(self, substrate, seed)

    def run(
        self, inputs: ArrayLike, state: EIState | None = None, backend: str = "numba"
    ) -> tuple[FloatArray, EIState]:
        """Drive the reservoir with ``inputs`` (T,) or (T, n_inputs).

        Returns the rates (T, N), row ``t`` after input ``t``, and the final state. ``backend``
        is ``"numba"`` (compiled) or ``"numpy"`` (the reference step in a Python loop).
        """
        u = _as_inputs(inputs, self.params.n_inputs, "EIReservoir.run")
        runner = RESERVOIR_BACKENDS.get(backend)
        return runner(self, u, state if state is not None else self.initial_state())

    def adapt(
        self,
        inputs: ArrayLike,
        targets: ArrayLike,
        learning_rate: ArrayLike = 1e-3,
        state: EIState | None = None,
        backend: str = "numba",
    ) -> AdaptationResult:
        """Drive the reservoir with ``inputs`` while each unit's inhibition adapts to its target.

        After step ``t``, ``A_I[i, j] += delta_t * (r_i - rho_i)`` on each inhibitory synapse
        onto ``i``, clipped at 0. ``learning_rate`` is delta, a scalar or one value per step (a
        decreasing schedule, e.g. ``np.geomspace(1e-2, 1e-4, T)``, leaves the weights closer to
        their time average: with a constant delta the final weights are a noisy snapshot).
        Returns a new reservoir (this one is unchanged).
        """
        self._check_software("EIReservoir.adapt")
        u = _as_inputs(inputs, self.params.n_inputs, "EIReservoir.adapt")
        rho = check_targets(targets, self.n, "EIReservoir.adapt")
        lr = np.asarray(learning_rate, dtype=np.float64)
        lr = np.full(u.shape[0], float(lr)) if lr.ndim == 0 else lr
        if lr.shape != (u.shape[0],) or not (np.isfinite(lr).all() and (lr > 0).all()):
            raise ValueError(
                "EIReservoir.adapt: learning_rate must be > 0 and finite, a scalar or one value "
                f"per step ({u.shape[0]}); got {np.asarray(learning_rate)!r:.80}"
            )
        if backend not in ("numba", "numpy"):
            RESERVOIR_BACKENDS.get(backend)  # names the valid choices
        start = state if state is not None else self.initial_state()
        w_inh = self.w_inh.copy()
        trace = np.empty(u.shape[0])
        if backend == "numba":
            v, r = start.v.copy(), start.r.copy()
            _kernels.ei_adapt(
                self.pre_exc,
                self.w_exc,
                self.pre_inh,
                w_inh,
                self.w_in,
                u,
                self.gain,
                self.threshold,
                float(self.params.leak_rate),
                rho,
                lr,
                v,
                r,
                trace,
            )
            return AdaptationResult(
                replace(self, w_inh=w_inh), EIState(v, r), trace, np.all(w_inh <= 0, axis=1)
            )
        current = self
        s = start
        for t in range(u.shape[0]):
            s = current.step(s, u[t])
            err = s.r - rho
            trace[t] = np.abs(err).mean()
            w_inh = np.maximum(w_inh + lr[t] * err[:, None], 0.0)
            current = replace(self, w_inh=w_inh)
        return AdaptationResult(current, s, trace, np.all(w_inh <= 0, axis=1))

    def design(self, targets: ArrayLike, input_mean: ArrayLike = 0.0) -> DesignResult:
        """Scale each unit's inhibitory weights so the fixed point sits at its target rate.

        ``input_mean`` is the constant input :math:`\\bar u` assumed for the fixed point (the
        mean of the driving series). See the module docstring for the equation.
        """
        self._check_software("EIReservoir.design")
        rho = check_targets(targets, self.n, "EIReservoir.design")
        u_bar = np.broadcast_to(np.asarray(input_mean, dtype=np.float64), (self.params.n_inputs,))
        if not np.isfinite(u_bar).all():
            raise ValueError(f"EIReservoir.design: input_mean must be finite, got {input_mean!r}")
        exc = (self.w_exc * rho[self.pre_exc]).sum(axis=1)
        inh = (self.w_inh * rho[self.pre_inh]).sum(axis=1)
        v_target = self.threshold + np.log(rho / (1.0 - rho)) / self.gain
        need = exc + self.w_in @ u_bar - v_target
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(inh > 0, need / inh, 0.0)
        reachable = (scale >= 0) & (inh > 0)
        scale = np.maximum(scale, 0.0)
        return DesignResult(replace(self, w_inh=self.w_inh * scale[:, None]), scale, reachable)


def _run_numba(res: EIReservoir, u: FloatArray, state: EIState) -> tuple[FloatArray, EIState]:
    out = np.empty((u.shape[0], res.n))
    v, r = state.v.astype(np.float64, copy=True), state.r.astype(np.float64, copy=True)
    _kernels.ei_run(
        res.pre_exc,
        res.w_exc,
        res.pre_inh,
        res.w_inh,
        res.w_in,
        u,
        res.gain,
        res.threshold,
        float(res.params.leak_rate),
        v,
        r,
        out,
    )
    return out, EIState(v, r)


def _run_numpy(res: EIReservoir, u: FloatArray, state: EIState) -> tuple[FloatArray, EIState]:
    out = np.empty((u.shape[0], res.n))
    s = state
    for t in range(u.shape[0]):
        s = res.step(s, u[t])
        out[t] = s.r
    return out, s


RESERVOIR_BACKENDS.add("numba", _run_numba)
RESERVOIR_BACKENDS.add("numpy", _run_numpy)


def _draw_presynaptic(
    rng: np.random.Generator, n: int, pool: np.ndarray, k: int, autapses: bool
) -> IntArray:
    """For each of ``n`` units, ``k`` distinct presynaptic units from ``pool`` (not itself)."""
    out = np.empty((n, k), dtype=np.int64)
    if k == 0:
        return out
    for i in range(n):
        keys = rng.random(pool.size)
        if not autapses:
            keys[pool == i] = np.inf  # never among the k smallest: no autapse
        out[i] = pool[np.argpartition(keys, k - 1)[:k]]
    return out


def _draw_regular(
    rng: np.random.Generator, n: int, pool: np.ndarray, k: int, autapses: bool
) -> IntArray:
    """For each of ``n`` units, ``k`` distinct presynaptic units from ``pool`` (not itself unless
    ``autapses``) such that every unit of ``pool`` is presynaptic to ``floor(n k / |pool|)`` or
    one more units: a configuration model (every pool unit's out-stubs shuffled into the rows)
    whose repeated partners and autapses are then swapped away between rows, which keeps every
    in- and out-degree."""
    out = np.empty((n, k), dtype=np.int64)
    if k == 0:
        return out
    total = n * k
    reps = np.full(pool.size, total // pool.size)
    reps[rng.permutation(pool.size)[: total - int(reps.sum())]] += 1
    out[:] = rng.permutation(np.repeat(pool, reps)).reshape(n, k)

    def bad_columns(i: int) -> list[int]:
        row = out[i]
        seen: set[int] = set()
        bad = []
        for c in range(k):
            j = int(row[c])
            if j in seen or (not autapses and j == i):
                bad.append(c)
            seen.add(j)
        return bad

    def fits(i: int, c: int, j: int) -> bool:
        """Partner ``j`` can take column ``c`` of row ``i``."""
        if not autapses and j == i:
            return False
        row = out[i]
        return not any(int(row[m]) == j for m in range(k) if m != c)

    ordered = np.sort(out, axis=1)
    suspect = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
    if not autapses:
        suspect |= (out == np.arange(n)[:, None]).any(axis=1)
    for i in np.flatnonzero(suspect).tolist():
        for c in bad_columns(i):
            for _ in range(1000 * k):
                i2, c2 = int(rng.integers(n)), int(rng.integers(k))
                j, j2 = int(out[i, c]), int(out[i2, c2])
                if i2 != i and fits(i, c, j2) and fits(i2, c2, j):
                    out[i, c], out[i2, c2] = j2, j
                    break
            else:
                raise ValueError(
                    f"ei_reservoir: no regular connectivity found with {k} of {pool.size} "
                    f"presynaptic units per unit; use a smaller in_degree or "
                    f"connectivity='fixed_in_degree'"
                )
    return out


def memory_parameters(n: int = 1000, **overrides: Any) -> EIParameters:
    """Parameters that hold the most linear memory found for issue 7: in-degree 3 (2 excitatory
    + 1 inhibitory inputs) with fixed out-degrees too, constant weight magnitudes, input 1e-4 to
    every unit (the near-linear regime) and threshold 0.3. Adapt the drawn reservoir to rates 0.5
    (every unit's summed inhibition then settles at its summed excitation minus 2 theta, from any
    starting ``balance``), then set the gain with ``with_effective_radius(0.99)``. At N = 1000 this
    held a memory capacity of 210.5 against 176.5 for the best ReservoirPy tanh ESN of a grid
    (``benchmarks/reservoir_ei.py``)."""
    values: dict[str, Any] = {
        "n": n,
        "in_degree": 3,
        "connectivity": "regular",
        "weight_distribution": "constant",
        "input_fraction": 1.0,
        "input_scale": 1e-4,
        "threshold": 0.3,
        "balance": 0.4,
    }
    values.update(overrides)
    return ei_parameters(**values)


def ei_reservoir(
    params: EIParameters | None = None,
    seed: int | np.random.Generator | None = None,
    **overrides: Any,
) -> EIReservoir:
    """Draw an E/I reservoir.

    ``params`` (default :class:`EIParameters`) with keyword ``overrides``; unknown names raise
    ValueError listing the valid ones. The same seed gives the same connectivity, weight factors
    and input weights whatever ``balance``, ``gain`` or ``threshold`` are.
    """
    base = params if params is not None else EIParameters()
    if overrides:
        merged = {f.name: getattr(base, f.name) for f in fields(base)}
        unknown = sorted(set(overrides) - set(merged))
        if unknown:
            raise ValueError(
                f"unknown EIParameters parameter(s) {', '.join(map(repr, unknown))}; "
                f"valid names: {', '.join(merged)}"
            )
        base = replace(base, **overrides)
    p = base
    rng = np.random.default_rng(seed)
    conn_rng, weight_rng, input_rng = rng.spawn(3)
    exc_pool = np.arange(p.n_exc)
    inh_pool = np.arange(p.n_exc, p.n)
    draw = _draw_regular if p.connectivity == "regular" else _draw_presynaptic
    pre_exc = draw(conn_rng, p.n, exc_pool, p.k_exc, p.autapses)
    pre_inh = draw(conn_rng, p.n, inh_pool, p.k_inh, p.autapses)
    factors = WEIGHT_DISTRIBUTIONS.get(p.weight_distribution)
    w_exc = p.mu_exc * factors(weight_rng, pre_exc.shape, p.weight_cv)
    w_inh = p.mu_inh * factors(weight_rng, pre_inh.shape, p.weight_cv)
    n_driven = max(1, round(p.input_fraction * p.n))
    driven = input_rng.choice(p.n, n_driven, replace=False)
    w_in = np.zeros((p.n, p.n_inputs))
    w_in[driven] = input_rng.uniform(-p.input_scale, p.input_scale, (n_driven, p.n_inputs))
    return EIReservoir(p, pre_exc, w_exc, pre_inh, w_inh, w_in)
