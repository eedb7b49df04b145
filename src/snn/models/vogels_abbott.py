"""The Vogels-Abbott benchmark networks (CUBA and COBA) of Brette et al. 2007.

4000 leaky integrate-and-fire neurons, 80 % excitatory, random connectivity with probability
``p = 80 / N`` (0.02 at N = 4000), dt = 0.1 ms:

* ``"cuba"``: exactly Brian2's ``examples/CUBA.py`` (Vogels & Abbott 2005 as used by Brette et
  al. 2007, benchmark 2): ``dv/dt = (ge + gi - (v - El)) / taum`` with voltage-valued synapses.
  Our IF_curr_exp expresses it with ``c_m = 200 pF`` (any value works: weights scale with
  ``R = tau_m / c_m``), so the voltage jumps 1.62 mV and -9 mV become currents of
  ``1.62 mV / R`` and ``9 mV / R`` on the excitatory and inhibitory receptors.
* ``"coba"``: benchmark 1 of Brette et al. 2007: conductance synapses with ``E_e = 0 mV``,
  ``E_i = -80 mV``, ``g_L = 10 nS`` (C = 200 pF), ``w_e = 6 nS``, ``w_i = 67 nS``, and initial
  conductances drawn as in the paper's Brian script (``ge ~ N(40, 15) nS``, ``gi ~ N(200, 120) nS``,
  clipped at 0).

Both start from membrane potentials uniform between reset and threshold.
"""

from __future__ import annotations

from typing import Literal

from snn.connectors import FixedProbability
from snn.network import Network
from snn.neurons import IF_cond_exp, IF_curr_exp, NeuronModel
from snn.parameters import Normal, Uniform

CM = 200e-12  # F
TAU_M = 20e-3  # s
V_THRESH = -50e-3  # V
V_RESET = -60e-3  # V
TAU_REFRAC = 5e-3  # s
TAU_SYN_E = 5e-3  # s
TAU_SYN_I = 10e-3  # s

#: neuron parameters shared by CUBA and COBA (each adds its leak and, for COBA, reversal potentials)
LIF_PARAMETERS: dict[str, float] = {
    "tau_m": TAU_M,
    "cm": CM,
    "v_reset": V_RESET,
    "v_thresh": V_THRESH,
    "tau_refrac": TAU_REFRAC,
    "tau_syn_E": TAU_SYN_E,
    "tau_syn_I": TAU_SYN_I,
}

# CUBA (Brian2 examples/CUBA.py)
CUBA_E_LEAK = -49e-3  # V
CUBA_WE_VOLT = 60 * 0.27 / 10 * 1e-3  # V, 1.62 mV
CUBA_WI_VOLT = 20 * 4.5 / 10 * 1e-3  # V, 9 mV (inhibitory sign given by the receptor)

# COBA (Brette et al. 2007, benchmark 1)
COBA_E_LEAK = -60e-3  # V
COBA_E_EXC = 0.0  # V
COBA_E_INH = -80e-3  # V
COBA_WE = 6e-9  # S
COBA_WI = 67e-9  # S


def vogels_abbott(
    kind: Literal["cuba", "coba"] = "cuba",
    n: int = 4000,
    dt: float = 0.1e-3,
    seed: int = 1,
    record_spikes: bool = True,
    delay_steps: int = 1,
) -> Network:
    """Build the CUBA or COBA Vogels-Abbott network with ``n`` neurons (80 % excitatory).

    Populations are labelled ``"exc"`` and ``"inh"``; with ``record_spikes`` both are recorded.
    ``delay_steps`` is the synaptic delay in steps (1: a spike acts on the next step's update,
    as in Brian2's CUBA example with no delay).
    """
    if kind not in ("cuba", "coba"):
        raise ValueError(f"unknown Vogels-Abbott kind {kind!r}; valid choices: cuba, coba")
    if isinstance(n, bool) or not isinstance(n, int) or n < 5:
        raise ValueError(f"n must be an integer >= 5, got {n!r}")
    if isinstance(delay_steps, bool) or not isinstance(delay_steps, int) or delay_steps < 1:
        raise ValueError(f"delay_steps must be an integer >= 1, got {delay_steps!r}")
    n_exc = round(0.8 * n)
    p = min(1.0, 80.0 / n)
    net = Network(dt=dt, seed=seed)
    common = LIF_PARAMETERS
    v0 = Uniform(V_RESET, V_THRESH)
    model: NeuronModel
    if kind == "cuba":
        model = IF_curr_exp(v_rest=CUBA_E_LEAK, **common)
        r_m = TAU_M / CM
        w_exc, w_inh = CUBA_WE_VOLT / r_m, CUBA_WI_VOLT / r_m
        exc = net.population(n_exc, model, label="exc", initial={"v": v0})
        inh = net.population(n - n_exc, model, label="inh", initial={"v": v0})
    else:
        model = IF_cond_exp(v_rest=COBA_E_LEAK, e_rev_E=COBA_E_EXC, e_rev_I=COBA_E_INH, **common)
        w_exc, w_inh = COBA_WE, COBA_WI
        initial = {
            "v": v0,
            "gsyn_exc": Normal(40e-9, 15e-9, low=0.0),
            "gsyn_inh": Normal(200e-9, 120e-9, low=0.0),
        }
        exc = net.population(n_exc, model, label="exc", initial=initial)
        inh = net.population(n - n_exc, model, label="inh", initial=initial)
    connector = FixedProbability(p)
    delay = delay_steps * dt
    net.connect(exc, exc, connector, weight=w_exc, receptor="excitatory", label="ee", delay=delay)
    net.connect(exc, inh, connector, weight=w_exc, receptor="excitatory", label="ei", delay=delay)
    net.connect(inh, exc, connector, weight=w_inh, receptor="inhibitory", label="ie", delay=delay)
    net.connect(inh, inh, connector, weight=w_inh, receptor="inhibitory", label="ii", delay=delay)
    if record_spikes:
        net.record(exc, "spikes")
        net.record(inh, "spikes")
    return net
