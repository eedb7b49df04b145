"""Rate reservoirs with excitatory and inhibitory units and self-adapting inhibition
(Srinivasan, Plenz and Girvan, arXiv 2504.12480), with the readouts, tasks and comparison ESNs
used to evaluate them.

* :mod:`.ei`: the E/I rate reservoir, inhibitory adaptation and the one-step design;
* :mod:`.esn`: a sparse tanh ESN (ReservoirPy's construction) and linear reference reservoirs;
* :mod:`.readout`: ridge and recursive-least-squares readouts;
* :mod:`.tasks`: memory capacity, Mackey-Glass forecasting and NARMA-10, with their generators;
* :mod:`.crossbar`: the recurrent weights on memristor crossbars (static and per-read);
* :mod:`.spiking`: the spiking E/I reservoir (AdaptiveLIF, inhibitory STDP of Vogels et al.
  2011 towards a target rate) as a frontend network, with its readout states.
"""

from snn.models.reservoir.crossbar import CrossbarProgramming, program_reservoir, run_dynamic
from snn.models.reservoir.ei import (
    CONNECTIVITIES,
    RESERVOIR_BACKENDS,
    TARGET_DISTRIBUTIONS,
    WEIGHT_DISTRIBUTIONS,
    AdaptationResult,
    DesignResult,
    EIParameters,
    EIReservoir,
    EIState,
    check_targets,
    ei_parameters,
    ei_reservoir,
    memory_parameters,
    target_rates,
)
from snn.models.reservoir.esn import (
    ESN,
    delay_line,
    orthogonal_linear_reservoir,
    tanh_esn,
)
from snn.models.reservoir.readout import LinearReadout, RLSResult, fit_ridge, fit_rls
from snn.models.reservoir.spectrum import spectral_radius_of
from snn.models.reservoir.spiking import (
    AdaptedInhibition,
    SpikingEIParameters,
    adapt_inhibition,
    reservoir_states,
    spiking_ei_reservoir,
    spiking_parameters,
)
from snn.models.reservoir.tasks import (
    ClosedLoopForecast,
    MemoryCapacity,
    closed_loop_forecast,
    forecast_nrmse,
    mackey_glass,
    mackey_glass_task,
    memory_capacity,
    memory_capacity_task,
    narma10,
    narma10_task,
    nrmse,
    readout_nrmse,
    scale_to_unit,
    uniform_input,
)

__all__ = [
    "CONNECTIVITIES",
    "ESN",
    "RESERVOIR_BACKENDS",
    "TARGET_DISTRIBUTIONS",
    "WEIGHT_DISTRIBUTIONS",
    "AdaptationResult",
    "AdaptedInhibition",
    "ClosedLoopForecast",
    "CrossbarProgramming",
    "DesignResult",
    "EIParameters",
    "EIReservoir",
    "EIState",
    "LinearReadout",
    "MemoryCapacity",
    "RLSResult",
    "SpikingEIParameters",
    "adapt_inhibition",
    "check_targets",
    "closed_loop_forecast",
    "delay_line",
    "ei_parameters",
    "ei_reservoir",
    "fit_ridge",
    "fit_rls",
    "forecast_nrmse",
    "mackey_glass",
    "mackey_glass_task",
    "memory_capacity",
    "memory_capacity_task",
    "memory_parameters",
    "narma10",
    "narma10_task",
    "nrmse",
    "orthogonal_linear_reservoir",
    "program_reservoir",
    "readout_nrmse",
    "reservoir_states",
    "run_dynamic",
    "scale_to_unit",
    "spectral_radius_of",
    "spiking_ei_reservoir",
    "spiking_parameters",
    "tanh_esn",
    "target_rates",
    "uniform_input",
]
