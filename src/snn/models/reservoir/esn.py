r"""Echo state networks for comparison: a sparse tanh ESN (ReservoirPy's construction) and linear
reservoirs (an orthogonal matrix scaled below 1, a delay line) whose memory capacity is known.

.. math::

    x(t) = (1 - a)\, x(t-1) + a\, f\!\left(W x(t-1) + W_{in} u(t) + b\right)

with :math:`f = \tanh` or the identity and leak rate :math:`a` (dimensionless, discrete time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from snn.models.reservoir import _kernels
from snn.models.reservoir.ei import _as_inputs
from snn.models.reservoir.spectrum import spectral_radius_of
from snn.registry import Registry

FloatArray = NDArray[np.float64]

#: activation functions f of an :class:`ESN`, by name (the kernels know these two)
ACTIVATIONS: Registry[Callable[[FloatArray], FloatArray]] = Registry("ESN activation")
ACTIVATIONS.add("tanh", np.tanh)
ACTIVATIONS.add("identity", lambda x: x)


@dataclass(frozen=True, eq=False)
class ESN:
    """An echo state network: recurrent matrix ``W`` (CSR), ``w_in`` (N, d), ``bias`` (N,)."""

    W: sp.csr_matrix
    w_in: FloatArray
    bias: FloatArray
    leak_rate: float = 1.0
    activation: str = "tanh"

    def __post_init__(self) -> None:
        ACTIVATIONS.get(self.activation)
        n = self.W.shape[0]
        if self.W.shape != (n, n) or self.w_in.ndim != 2 or self.w_in.shape[0] != n:
            raise ValueError(
                f"ESN: W must be (N, N) and w_in (N, d); got {self.W.shape} and {self.w_in.shape}"
            )
        if not 0.0 < self.leak_rate <= 1.0:
            raise ValueError(f"ESN: leak_rate must lie in (0, 1], got {self.leak_rate}")

    @property
    def n(self) -> int:
        return int(self.W.shape[0])

    def step(self, x: FloatArray, u: ArrayLike) -> FloatArray:
        """NumPy reference: state x(t-1) and input u(t) -> x(t)."""
        f = ACTIVATIONS.get(self.activation)
        pre = self.W @ x + self.w_in @ np.atleast_1d(np.asarray(u, dtype=np.float64)) + self.bias
        return (1.0 - self.leak_rate) * x + self.leak_rate * f(pre)

    def run(
        self, inputs: ArrayLike, state: FloatArray | None = None, backend: str = "numba"
    ) -> tuple[FloatArray, FloatArray]:
        """States (T, N) for ``inputs`` (T,) or (T, d) from ``state`` (zeros by default), and the
        final state. ``backend``: ``"numba"`` or ``"numpy"`` (reference step in a loop)."""
        u = _as_inputs(inputs, self.w_in.shape[1], "ESN.run")
        x = np.zeros(self.n) if state is None else np.array(state, dtype=np.float64)
        out = np.empty((u.shape[0], self.n))
        if backend == "numpy":
            for t in range(u.shape[0]):
                x = self.step(x, u[t])
                out[t] = x
            return out, x
        if backend != "numba":
            raise ValueError(f"ESN.run: unknown backend {backend!r}; valid choices: numba, numpy")
        W = self.W
        _kernels.csr_run(
            W.indptr.astype(np.int64),
            W.indices.astype(np.int64),
            W.data.astype(np.float64),
            np.ascontiguousarray(self.w_in, dtype=np.float64),
            np.ascontiguousarray(self.bias, dtype=np.float64),
            u,
            float(self.leak_rate),
            self.activation == "identity",
            x,
            out,
        )
        return out, x


def tanh_esn(
    n: int,
    spectral_radius: float = 0.9,
    *,
    connectivity: float = 0.1,
    input_scaling: float = 1.0,
    input_connectivity: float = 0.1,
    leak_rate: float = 1.0,
    n_inputs: int = 1,
    seed: int | np.random.Generator | None = None,
) -> ESN:
    """A tanh ESN built as ReservoirPy 0.4.2 builds its ``Reservoir`` (not the same draws).

    ``W``: a fraction ``connectivity`` of entries nonzero, normal, rescaled to spectral radius
    ``spectral_radius``; ``W_in``: a fraction ``input_connectivity`` of entries ``+-
    input_scaling`` (Bernoulli signs); no bias.
    """
    if n < 1 or not 0 < connectivity <= 1 or not 0 < input_connectivity <= 1:
        raise ValueError(
            f"tanh_esn: need n >= 1 and connectivities in (0, 1], got n={n}, "
            f"connectivity={connectivity}, input_connectivity={input_connectivity}"
        )
    rng = np.random.default_rng(seed)
    w_rng, in_rng = rng.spawn(2)
    W = sp.random(
        n, n, density=connectivity, format="csr", random_state=w_rng, data_rvs=w_rng.standard_normal
    )
    rho = spectral_radius_of(W)
    W = (W * (spectral_radius / rho)).tocsr() if rho > 0 else W
    mask = in_rng.random((n, n_inputs)) < input_connectivity
    w_in = np.where(mask, in_rng.choice([-1.0, 1.0], (n, n_inputs)) * input_scaling, 0.0)
    return ESN(W, w_in, np.zeros(n), leak_rate, "tanh")


def orthogonal_linear_reservoir(
    n: int,
    spectral_radius: float = 0.99,
    *,
    input_scaling: float = 1.0,
    seed: int | np.random.Generator | None = None,
) -> ESN:
    """A linear reservoir ``x(t) = rho Q x(t-1) + w_in u(t)`` with ``Q`` a random orthogonal
    matrix (all eigenvalues of modulus ``rho``) and Gaussian ``w_in``.

    For i.i.d. input its memory capacity tends to ``n`` as ``rho -> 1`` with enough data
    (Jaeger 2001; White, Lee and Sompolinsky 2004).
    """
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q = q * np.sign(np.diag(r))  # Haar-distributed
    w_in = input_scaling * rng.standard_normal((n, 1))
    return ESN(sp.csr_matrix(spectral_radius * q), w_in, np.zeros(n), 1.0, "identity")


def delay_line(n: int) -> ESN:
    """A shift register: ``x_0(t) = u(t)``, ``x_i(t) = x_{i-1}(t-1)``; it holds delays 0 .. n-1
    exactly, so its memory capacity over delays 1 .. 2n is n - 1."""
    W = sp.diags(np.ones(n - 1), -1, shape=(n, n), format="csr")
    w_in = np.zeros((n, 1))
    w_in[0, 0] = 1.0
    return ESN(W, w_in, np.zeros(n), 1.0, "identity")
