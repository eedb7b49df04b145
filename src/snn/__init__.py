"""snn-stack: spiking neural networks written once, lowered to many simulators and substrates.

The frontend (:class:`Network`, neuron models, connectors, :class:`STDP`) describes a model as
data in SI units; :meth:`Network.run` lowers it to a backend (``"numpy"`` reference, ``"numba"``,
``"brian2"``) and returns a :class:`~snn.recording.Recording`. :func:`save` and :func:`load` store
networks and recordings in versioned HDF5.
"""

from snn.connectors import (
    CONNECTORS,
    AllToAll,
    Conv2d,
    Dense,
    FixedInDegree,
    FixedProbability,
    FromList,
    OneToOne,
    Pool2d,
)
from snn.hardware import deploy
from snn.io import load, save
from snn.network import Network, Population, PopulationView, Projection
from snn.neurons import (
    LIF,
    NEURON_MODELS,
    AdaptiveLIF,
    DeltaLIF,
    FrameInput,
    IF_cond_exp,
    IF_curr_exp,
    LeakyIntegrator,
    SpikeSourceArray,
    SpikeSourcePoisson,
)
from snn.parameters import Normal, Uniform
from snn.plasticity import PLASTICITY_RULES, STDP, InhibitorySTDP
from snn.recording import Recording

__version__ = "0.1.0"

__all__ = [
    "CONNECTORS",
    "LIF",
    "NEURON_MODELS",
    "PLASTICITY_RULES",
    "STDP",
    "AdaptiveLIF",
    "AllToAll",
    "Conv2d",
    "DeltaLIF",
    "Dense",
    "FixedInDegree",
    "FixedProbability",
    "FrameInput",
    "FromList",
    "IF_cond_exp",
    "IF_curr_exp",
    "InhibitorySTDP",
    "LeakyIntegrator",
    "Network",
    "Normal",
    "OneToOne",
    "Pool2d",
    "Population",
    "PopulationView",
    "Projection",
    "Recording",
    "SpikeSourceArray",
    "SpikeSourcePoisson",
    "Uniform",
    "__version__",
    "deploy",
    "load",
    "save",
]
