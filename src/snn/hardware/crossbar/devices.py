"""Memristive device models: the non-idealities between a target conductance and what is read.

Every model is a small frozen dataclass with SI units (siemens, seconds), validated on
construction (``ValueError`` naming the value and the valid choices), and random only through a
``numpy.random.Generator`` (or an ``int`` seed) passed to its methods: the same seed gives the same
array. :class:`DeviceModel` composes them in the order a real array sees them:

.. code-block:: text

    program(target)   clip to [g_min, g_max] -> finite levels -> device-to-device gain
                      -> programming noise sigma(g) -> cycle-to-cycle noise -> stuck-at faults
                      (and one drift exponent nu per device, fixed from then on)
    read(state, t)    drift (t / t0)^(-nu) -> read noise (redrawn per read) -> stuck devices pinned
    pulse_update(g, n) nonlinear potentiation/depression curve (NeuroSim) + cycle-to-cycle noise

Sources (each model's docstring says which numbers come from where):

* PCM programming noise, 1/f read noise and drift: Nandakumar et al., ICECS 2019, and Joshi et al.,
  "Accurate deep neural network inference using computational phase-change memory",
  Nat. Commun. 11, 2473 (2020); coefficients as fitted there and shipped in IBM aihwkit's
  ``PCMLikeNoiseModel`` (``aihwkit/inference/noise/pcm.py``), read from that file.
* Drift power law: Ielmini, Lacaita, Mantegazza, "Recovery and drift dynamics of resistance and
  threshold voltages in phase-change memories", IEEE Trans. Electron Devices 54 (2007);
  global drift compensation as in Joshi et al. 2020 (a measured output scale factor).
* Nonlinear pulse response: Chen, Peng, Yu, "NeuroSim: a circuit-level macro model for
  benchmarking neuro-inspired architectures in online learning", IEEE TCAD 37 (2018), and the
  NeuroSim+ manual (exponential-saturation LTP/LTD curves, cycle-to-cycle sigma as a fraction of
  the conductance range per pulse).
* Stuck-at faults: Chen et al., "RRAM defect modeling and failure analysis based on march test and
  a novel squeeze-search scheme", IEEE Trans. Comput. 64 (2015), is the usual source of measured
  rates (about 1.75 % stuck-at-on and 9.04 % stuck-at-off as commonly quoted; not re-read here),
  so the defaults are 0 and the rates are the user's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
RandomLike = np.random.Generator | int | None


def as_generator(rng: RandomLike) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a generator, an integer seed, or ``None`` (seed 0).

    ``None`` means seed 0, not fresh entropy: results are reproducible unless the caller passes
    its own generator.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be a numpy Generator, an int seed or None, got {rng!r}")


def check_conductance(g: ArrayLike, name: str = "conductance") -> FloatArray:
    """``g`` as float64, raising ``ValueError`` if any entry is NaN, infinite or negative."""
    arr = np.asarray(g, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{name} must be finite (no NaN or inf), got {int(np.sum(~np.isfinite(arr)))}"
            " non-finite entries"
        )
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0 S (a passive device), got minimum {arr.min()!r}")
    return arr


def _check_nonneg(value: float, name: str) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _check_rate(value: float, name: str) -> None:
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")


@dataclass(frozen=True)
class ConductanceRange:
    r"""Programmable conductance window and its finite number of levels.

    A programmed conductance is clipped to :math:`[g_{min}, g_{max}]` and, if ``n_levels`` is
    given, rounded to the nearest of the equally spaced levels

    .. math:: g_k = g_{min} + k \frac{g_{max} - g_{min}}{L - 1}, \quad k = 0 \dots L - 1.

    Parameters
    ----------
    g_min, g_max
        Conductance window in siemens, ``0 <= g_min < g_max``. Defaults 0.1 uS and 10 uS, the
        range used in DESIGN.md's IR-drop measurements (typical RRAM/PCM windows are 1-100 uS).
    n_levels
        Number of distinct programmable levels (>= 2), or ``None`` for a continuous (analog)
        device. Multi-level RRAM/PCM cells typically hold 2-64 levels.
    """

    g_min: float = 0.1e-6
    g_max: float = 10e-6
    n_levels: int | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.g_min) and math.isfinite(self.g_max)):
            raise ValueError(f"g_min and g_max must be finite, got {self.g_min!r}, {self.g_max!r}")
        if self.g_min < 0:
            raise ValueError(f"g_min must be >= 0 S, got {self.g_min!r}")
        if self.g_min >= self.g_max:
            raise ValueError(
                f"g_min must be < g_max, got g_min={self.g_min!r} S >= g_max={self.g_max!r} S"
            )
        if self.n_levels is not None and (
            isinstance(self.n_levels, bool)
            or int(self.n_levels) != self.n_levels
            or self.n_levels < 2
        ):
            raise ValueError(f"n_levels must be an integer >= 2 or None, got {self.n_levels!r}")

    @property
    def span(self) -> float:
        """``g_max - g_min`` in siemens."""
        return self.g_max - self.g_min

    def levels(self) -> FloatArray:
        """The programmable levels (S); raises ``ValueError`` for a continuous device."""
        if self.n_levels is None:
            raise ValueError("a continuous device (n_levels=None) has no discrete levels")
        return np.linspace(self.g_min, self.g_max, int(self.n_levels))

    def quantise(self, g: ArrayLike) -> FloatArray:
        """Clip to the window and round to the nearest level (exact level values, ties up)."""
        arr = np.clip(np.asarray(g, dtype=np.float64), self.g_min, self.g_max)
        if self.n_levels is None:
            return arr
        step = self.span / (int(self.n_levels) - 1)
        k = np.floor((arr - self.g_min) / step + 0.5)
        k = np.clip(k, 0, int(self.n_levels) - 1)
        return self.levels()[k.astype(np.intp)]


@dataclass(frozen=True)
class ProgrammingNoise:
    r"""State-dependent Gaussian programming noise (PCM, Nandakumar et al. 2019/Joshi et al. 2020).

    .. math::

        g_{prog} = \max\!\big(0,\ g + \sigma(g)\,\xi\big),\quad \xi \sim N(0, 1),\qquad
        \sigma(g) = s\,\frac{g_{max}}{g_{ref}} \sum_i c_i \Big(\frac{g}{g_{max}}\Big)^i

    with the polynomial fitted on 1 million IBM PCM devices after iterative program-and-verify:
    :math:`c = (0.26348, 1.9650, -1.1731)` uS at :math:`g_{ref} = 25` uS (aihwkit
    ``PCMLikeNoiseModel.prog_coeff``). ``g_max`` is the window of the device model this noise
    is composed with, so the noise scales with the window as in aihwkit.

    Parameters
    ----------
    coefficients
        Polynomial coefficients :math:`c_i` in siemens (default the PCM fit above).
    g_reference
        Window :math:`g_{ref}` (S) the coefficients were fitted for (default 25 uS).
    scale
        Multiplier :math:`s` (>= 0) on sigma; 0 switches the noise off.
    """

    coefficients: tuple[float, ...] = (0.26348e-6, 1.9650e-6, -1.1731e-6)
    g_reference: float = 25e-6
    scale: float = 1.0

    def __post_init__(self) -> None:
        if len(self.coefficients) == 0 or not all(math.isfinite(c) for c in self.coefficients):
            raise ValueError(f"coefficients must be finite numbers, got {self.coefficients!r}")
        if not (math.isfinite(self.g_reference) and self.g_reference > 0):
            raise ValueError(f"g_reference must be > 0 S, got {self.g_reference!r}")
        _check_nonneg(self.scale, "scale")

    def sigma(self, g: ArrayLike, g_max: float) -> FloatArray:
        """Standard deviation sigma(g) in siemens (clipped at 0) for a window ending at g_max."""
        x = np.asarray(g, dtype=np.float64) / g_max
        sig = np.zeros_like(x)
        for power, coeff in enumerate(self.coefficients):
            sig = sig + coeff * x**power
        return np.maximum(self.scale * sig * g_max / self.g_reference, 0.0)

    def apply(self, g: FloatArray, g_max: float, rng: np.random.Generator) -> FloatArray:
        """One programming outcome per device."""
        return np.maximum(g + self.sigma(g, g_max) * rng.standard_normal(g.shape), 0.0)


@dataclass(frozen=True)
class ReadNoise:
    r"""Read noise, redrawn on every read.

    ``kind="gaussian"``: white, multiplicative, :math:`g_r = g (1 + \sigma_{rel} \xi)`.

    ``kind="pcm_1f"``: the accumulated 1/f noise of PCM (Joshi et al. 2020; aihwkit
    ``PCMLikeNoiseModel.apply_drift_noise_to_conductance``)

    .. math::

        g_r = g + |g|\,Q_s(g)\sqrt{\ln\frac{t' + t_{read}}{2 t_{read}}}\;\xi,\qquad
        Q_s(g) = \min\!\Big(\frac{0.0088}{\max((g/g_{max})^{0.65}, 10^{-3})},\ 0.2\Big)

    with :math:`t' = \max(t, t_0)` (s since programming; the model is fitted from the first read
    at :math:`t_0`, see :class:`Drift`) and :math:`t_{read} = 250` ns. Read conductances are
    clipped at 0.

    Parameters
    ----------
    kind
        ``"gaussian"`` or ``"pcm_1f"``.
    relative_sigma
        :math:`\sigma_{rel}` for ``"gaussian"`` (default 0.01, i.e. 1 %); multiplies Q_s for
        ``"pcm_1f"`` (use 1.0 for the published fit).
    t_read
        Read pulse duration of the 1/f fit, seconds (250 ns).
    t0
        First read time after programming, seconds (20 s, as :class:`Drift`).
    """

    kind: Literal["gaussian", "pcm_1f"] = "gaussian"
    relative_sigma: float = 0.01
    t_read: float = 250e-9
    t0: float = 20.0

    def __post_init__(self) -> None:
        if self.kind not in ("gaussian", "pcm_1f"):
            raise ValueError(f"kind must be 'gaussian' or 'pcm_1f', got {self.kind!r}")
        _check_nonneg(self.relative_sigma, "relative_sigma")
        if not (self.t_read > 0 and self.t0 > 0):
            raise ValueError(f"t_read and t0 must be > 0 s, got {self.t_read!r}, {self.t0!r}")

    def sigma(self, g: FloatArray, g_max: float, t: float) -> FloatArray:
        """Standard deviation (S) of one read at time ``t`` (s since programming)."""
        if self.kind == "gaussian":
            return self.relative_sigma * np.abs(g)
        q_s = np.minimum(0.0088 / np.maximum((np.abs(g) / g_max) ** 0.65, 1e-3), 0.2)
        t_eff = max(t, self.t0)
        return (
            self.relative_sigma
            * np.abs(g)
            * q_s
            * math.sqrt(math.log((t_eff + self.t_read) / (2 * self.t_read)))
        )

    def apply(self, g: FloatArray, g_max: float, t: float, rng: np.random.Generator) -> FloatArray:
        """One noisy read of every device."""
        return np.maximum(g + self.sigma(g, g_max, t) * rng.standard_normal(g.shape), 0.0)


@dataclass(frozen=True)
class Drift:
    r"""Power-law conductance drift (PCM; Ielmini et al. 2007, Joshi et al. 2020).

    .. math:: g(t) = g(t_0) \Big(\frac{t}{t_0}\Big)^{-\nu}\quad (t \ge t_0),\qquad
              g(t) = g(t_0)\quad (t < t_0)

    with ``t`` in seconds since programming and one exponent :math:`\nu` per device drawn at
    programming, :math:`\nu \sim |N(\mu_\nu, \sigma_\nu)|`.

    ``state_dependent=True`` uses the PCM fit of Joshi et al. 2020 (aihwkit
    ``generate_drift_coefficients``), with :math:`x = \max(g/g_{max}, 10^{-7})`:
    :math:`\mu_\nu = \mathrm{clip}(-0.0155 \ln x + 0.0244,\ 0.049,\ 0.1)`,
    :math:`\sigma_\nu = \mathrm{clip}(-0.0125 \ln x - 0.0059,\ 0.008,\ 0.045)`;
    ``nu_mean``/``nu_std`` are then ignored.

    Parameters
    ----------
    nu_mean, nu_std
        Mean and device-to-device spread of the drift exponent (dimensionless; PCM about
        0.05 +- 0.01, RRAM much smaller). ``nu_std = 0`` gives the exact power law.
    t0
        Reference time (s) at which the programmed value is read back (20 s in Joshi et al.).
    state_dependent
        Use the PCM fit above instead of ``nu_mean``/``nu_std``.
    """

    nu_mean: float = 0.05
    nu_std: float = 0.0
    t0: float = 20.0
    state_dependent: bool = False

    def __post_init__(self) -> None:
        _check_nonneg(self.nu_mean, "nu_mean")
        _check_nonneg(self.nu_std, "nu_std")
        if not (math.isfinite(self.t0) and self.t0 > 0):
            raise ValueError(f"t0 must be > 0 s, got {self.t0!r}")

    def exponents(self, g: FloatArray, g_max: float, rng: np.random.Generator) -> FloatArray:
        """One drift exponent per device (dimensionless, >= 0)."""
        if self.state_dependent:
            x = np.maximum(np.abs(g) / g_max, 1e-7)
            mu = np.clip(-0.0155 * np.log(x) + 0.0244, 0.049, 0.1)
            sd = np.clip(-0.0125 * np.log(x) - 0.0059, 0.008, 0.045)
        else:
            mu = np.full(g.shape, self.nu_mean)
            sd = np.full(g.shape, self.nu_std)
        if np.all(sd == 0):
            return mu.astype(np.float64)
        return np.abs(mu + sd * rng.standard_normal(g.shape))

    def factor(self, nu: FloatArray, t: float) -> FloatArray:
        """Multiplicative drift factor ``(max(t, t0) / t0) ** -nu``."""
        if not (math.isfinite(t) and t >= 0):
            raise ValueError(f"read time t must be a finite number of seconds >= 0, got {t!r}")
        return (max(t, self.t0) / self.t0) ** (-nu)


@dataclass(frozen=True)
class StuckAtFaults:
    r"""Stuck-at-on (pinned at :math:`g_{max}`) and stuck-at-off (at :math:`g_{min}`) devices.

    Each device is independently stuck-at-on with probability ``rate_on`` and otherwise
    stuck-at-off with probability ``rate_off / (1 - rate_on)``, so the expected fractions are
    exactly ``rate_on`` and ``rate_off``. Stuck devices ignore programming, drift and pulses; read
    noise still applies. Measured RRAM rates (Chen et al., IEEE Trans. Comput. 2015) are of order
    1-10 %; the defaults are 0.
    """

    rate_on: float = 0.0
    rate_off: float = 0.0

    def __post_init__(self) -> None:
        _check_rate(self.rate_on, "rate_on")
        _check_rate(self.rate_off, "rate_off")
        if self.rate_on + self.rate_off > 1.0:
            raise ValueError(
                f"rate_on + rate_off must be <= 1, got {self.rate_on!r} + {self.rate_off!r}"
            )

    def draw(
        self, shape: tuple[int, ...], rng: np.random.Generator
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """Boolean masks ``(stuck_on, stuck_off)``, disjoint."""
        u = rng.random(shape)
        stuck_on = u < self.rate_on
        stuck_off = (u >= self.rate_on) & (u < self.rate_on + self.rate_off)
        return stuck_on, stuck_off


@dataclass(frozen=True)
class Variability:
    r"""Device-to-device (D2D) and cycle-to-cycle (C2C) variability.

    Programming (open loop, no verify):
    :math:`g \to g\,e^{\sigma_{d2d}\,\xi_{dev}} + \sigma_{c2c}(g_{max}-g_{min})\,\xi_{cyc}`, with a
    log-normal gain per device (drawn at each ``program`` call: device identity is not tracked
    between calls, so reuse a seed to model the same physical array) and Gaussian C2C noise
    per programming event. For pulse updates the C2C term is applied per pulse, so ``n`` pulses
    add :math:`\sigma_{c2c}(g_{max}-g_{min})\sqrt{|n|}\,\xi` (NeuroSim's definition of the C2C
    sigma as a fraction of the conductance range, Chen et al. TCAD 2018).

    Parameters
    ----------
    device_to_device
        :math:`\sigma_{d2d}` of the log-normal gain (dimensionless, >= 0).
    cycle_to_cycle
        :math:`\sigma_{c2c}` as a fraction of ``g_max - g_min`` (>= 0).
    """

    device_to_device: float = 0.0
    cycle_to_cycle: float = 0.0

    def __post_init__(self) -> None:
        _check_nonneg(self.device_to_device, "device_to_device")
        _check_nonneg(self.cycle_to_cycle, "cycle_to_cycle")


@dataclass(frozen=True)
class PulseResponse:
    r"""Nonlinear potentiation/depression curve for on-array updates (NeuroSim, Chen et al. 2018).

    With :math:`P_{max}` pulses spanning the window and :math:`A = P_{max}/\kappa`:

    .. math::

        G_{LTP}(P) = B\,(1 - e^{-P/A}) + g_{min},\qquad
        G_{LTD}(P) = -B\,(1 - e^{(P - P_{max})/A}) + g_{max},\qquad
        B = \frac{g_{max} - g_{min}}{1 - e^{-P_{max}/A}}

    A device at conductance ``g`` sits at pulse number :math:`P = G^{-1}(g)` on the curve of the
    update's sign; ``n > 0`` potentiating pulses move it to :math:`G_{LTP}(P + n)`, ``n < 0``
    depressing pulses to :math:`G_{LTD}(P - |n|)`, with :math:`P` clipped to
    :math:`[0, P_{max}]`. :math:`\kappa \to 0` is the linear device
    :math:`\Delta g = n (g_{max}-g_{min})/P_{max}`.

    Parameters
    ----------
    n_pulses
        :math:`P_{max}`, pulses from ``g_min`` to ``g_max`` (>= 1).
    nonlinearity_ltp, nonlinearity_ltd
        :math:`\kappa = P_{max}/A` (>= 0; 0 is linear, larger saturates harder). NeuroSim labels
        its devices with a nonlinearity index and a table to A; here the shape is given directly.
    """

    n_pulses: int = 100
    nonlinearity_ltp: float = 0.0
    nonlinearity_ltd: float = 0.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.n_pulses, bool)
            or int(self.n_pulses) != self.n_pulses
            or (self.n_pulses < 1)
        ):
            raise ValueError(f"n_pulses must be an integer >= 1, got {self.n_pulses!r}")
        _check_nonneg(self.nonlinearity_ltp, "nonlinearity_ltp")
        _check_nonneg(self.nonlinearity_ltd, "nonlinearity_ltd")

    def _curve(
        self, p: FloatArray, kappa: float, g_min: float, g_max: float, ltp: bool
    ) -> FloatArray:
        p_max = float(self.n_pulses)
        if kappa == 0.0:
            return g_min + (g_max - g_min) * p / p_max
        a = p_max / kappa
        b = (g_max - g_min) / (1.0 - math.exp(-p_max / a))
        if ltp:
            return b * (1.0 - np.exp(-p / a)) + g_min
        return -b * (1.0 - np.exp((p - p_max) / a)) + g_max

    def _inverse(
        self, g: FloatArray, kappa: float, g_min: float, g_max: float, ltp: bool
    ) -> FloatArray:
        p_max = float(self.n_pulses)
        g = np.clip(g, g_min, g_max)
        if kappa == 0.0:
            return p_max * (g - g_min) / (g_max - g_min)
        a = p_max / kappa
        b = (g_max - g_min) / (1.0 - math.exp(-p_max / a))
        if ltp:
            return -a * np.log1p(-(g - g_min) / b)
        return p_max + a * np.log1p(-(g_max - g) / b)

    def update(self, g: FloatArray, n: FloatArray, g_min: float, g_max: float) -> FloatArray:
        """Deterministic conductance after ``n`` pulses (elementwise; sign selects LTP/LTD)."""
        p_max = float(self.n_pulses)
        up = n > 0
        out = np.clip(np.asarray(g, dtype=np.float64).copy(), g_min, g_max)
        if np.any(up):
            p = self._inverse(out[up], self.nonlinearity_ltp, g_min, g_max, ltp=True)
            p = np.clip(p + n[up], 0.0, p_max)
            out[up] = self._curve(p, self.nonlinearity_ltp, g_min, g_max, ltp=True)
        down = n < 0
        if np.any(down):
            p = self._inverse(out[down], self.nonlinearity_ltd, g_min, g_max, ltp=False)
            p = np.clip(p + n[down], 0.0, p_max)
            out[down] = self._curve(p, self.nonlinearity_ltd, g_min, g_max, ltp=False)
        return out


@dataclass(frozen=True)
class ProgrammedConductance:
    """The state of a programmed array: what each device holds at ``t0`` and how it will age.

    Attributes
    ----------
    g
        Conductance (S) of every device right after programming (at the drift reference time).
    nu
        Drift exponent of every device (dimensionless), drawn once at programming.
    stuck_on, stuck_off
        Masks of devices stuck at ``g_max`` / ``g_min``.
    """

    g: FloatArray
    nu: FloatArray
    stuck_on: NDArray[np.bool_]
    stuck_off: NDArray[np.bool_]

    @property
    def shape(self) -> tuple[int, ...]:
        """Array shape (rows, columns)."""
        return tuple(self.g.shape)


@dataclass(frozen=True)
class DeviceModel:
    r"""A memristive device: window and levels plus any subset of the non-idealities above.

    ``None`` switches a non-ideality off; ``DeviceModel()`` is an ideal continuous device on
    0.1-10 uS (programmed = target, read = programmed, linear pulse response).
    :meth:`pcm` gives the published PCM model of Joshi et al. 2020.

    Parameters
    ----------
    conductance_range
        Window and finite levels (:class:`ConductanceRange`).
    programming_noise, read_noise, drift, faults, variability, pulse_response
        The composable non-idealities (see each class).
    """

    conductance_range: ConductanceRange = field(default_factory=ConductanceRange)
    programming_noise: ProgrammingNoise | None = None
    read_noise: ReadNoise | None = None
    drift: Drift | None = None
    faults: StuckAtFaults | None = None
    variability: Variability | None = None
    pulse_response: PulseResponse = field(default_factory=PulseResponse)

    @classmethod
    def pcm(cls, g_max: float = 25e-6, n_levels: int | None = None) -> DeviceModel:
        """PCM as fitted by Joshi et al. 2020: programming noise, 1/f read noise, state-dependent
        drift, on ``[0, g_max]`` (their g_max is 25 uS)."""
        return cls(
            conductance_range=ConductanceRange(0.0, g_max, n_levels),
            programming_noise=ProgrammingNoise(),
            read_noise=ReadNoise(kind="pcm_1f", relative_sigma=1.0),
            drift=Drift(state_dependent=True),
        )

    @property
    def g_min(self) -> float:
        """Lower end of the window (S)."""
        return self.conductance_range.g_min

    @property
    def g_max(self) -> float:
        """Upper end of the window (S)."""
        return self.conductance_range.g_max

    @property
    def is_ideal(self) -> bool:
        """True when programming and reading are exact (levels and pulse shape may still apply)."""
        return all(
            m is None
            for m in (
                self.programming_noise,
                self.read_noise,
                self.drift,
                self.faults,
                self.variability,
            )
        )

    def program(self, target_g: ArrayLike, rng: RandomLike = None) -> ProgrammedConductance:
        """Program target conductances (S); returns the programmed state (see module docstring).

        Targets must be finite and >= 0; they are clipped to the window before quantisation.
        """
        target = check_conductance(target_g, "target conductance")
        gen = as_generator(rng)
        crange = self.conductance_range
        g = crange.quantise(target)
        if self.variability is not None and self.variability.device_to_device > 0:
            g = g * np.exp(self.variability.device_to_device * gen.standard_normal(g.shape))
        if self.programming_noise is not None:
            g = self.programming_noise.apply(g, crange.g_max, gen)
        if self.variability is not None and self.variability.cycle_to_cycle > 0:
            sigma = self.variability.cycle_to_cycle * crange.span
            g = np.maximum(g + sigma * gen.standard_normal(g.shape), 0.0)
        if self.faults is not None:
            stuck_on, stuck_off = self.faults.draw(g.shape, gen)
        else:
            stuck_on = np.zeros(g.shape, dtype=bool)
            stuck_off = np.zeros(g.shape, dtype=bool)
        g = np.where(stuck_on, crange.g_max, np.where(stuck_off, crange.g_min, g))
        if self.drift is not None:
            nu = self.drift.exponents(g, crange.g_max, gen)
        else:
            nu = np.zeros(g.shape)
        return ProgrammedConductance(g=g, nu=nu, stuck_on=stuck_on, stuck_off=stuck_off)

    def read(
        self, state: ProgrammedConductance, t: float = 0.0, rng: RandomLike = None
    ) -> FloatArray:
        r"""Conductances seen by one read at ``t`` seconds after programming.

        :math:`g_r = \mathrm{read\_noise}(g\,(\max(t,t_0)/t_0)^{-\nu})`, stuck devices pinned
        before the read noise. Read noise is redrawn on every call.
        """
        if not (math.isfinite(t) and t >= 0):
            raise ValueError(f"read time t must be a finite number of seconds >= 0, got {t!r}")
        g = state.g
        if self.drift is not None:
            g = g * self.drift.factor(state.nu, t)
            crange = self.conductance_range
            g = np.where(state.stuck_on, crange.g_max, np.where(state.stuck_off, crange.g_min, g))
        if self.read_noise is not None:
            g = self.read_noise.apply(g, self.conductance_range.g_max, t, as_generator(rng))
        return g

    def pulse_update(
        self,
        g: ArrayLike,
        n_pulses: ArrayLike,
        rng: RandomLike = None,
        stuck: NDArray[np.bool_] | None = None,
    ) -> FloatArray:
        """Apply ``n_pulses`` (signed integers, elementwise; + potentiates, - depresses).

        The deterministic step follows :class:`PulseResponse`; cycle-to-cycle noise (if any) adds
        :math:`\\sigma_{c2c}(g_{max}-g_{min})\\sqrt{|n|}` per device that received pulses; the
        result stays in the window. Devices flagged in ``stuck`` do not move.
        """
        g_arr = check_conductance(g, "conductance")
        n = np.broadcast_to(np.asarray(n_pulses, dtype=np.float64), g_arr.shape)
        if not np.all(np.isfinite(n)) or np.any(n != np.round(n)):
            raise ValueError("n_pulses must be finite integers (signed: + potentiate, - depress)")
        crange = self.conductance_range
        out = self.pulse_response.update(g_arr, n, crange.g_min, crange.g_max)
        if self.variability is not None and self.variability.cycle_to_cycle > 0:
            gen = as_generator(rng)
            sigma = self.variability.cycle_to_cycle * crange.span * np.sqrt(np.abs(n))
            out = np.clip(out + sigma * gen.standard_normal(out.shape), crange.g_min, crange.g_max)
        if stuck is not None:
            out = np.where(stuck, g_arr, out)
        return out
