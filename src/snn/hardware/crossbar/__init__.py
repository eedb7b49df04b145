"""Memristor crossbar simulation: exact IR-drop circuit solver, devices, mapping and energy.

Studies (Monte-Carlo sweeps of the output error) live in :mod:`snn.hardware.crossbar.sweep`;
crossbars as the substrate of a projection in :mod:`snn.hardware.crossbar.substrate`.
"""

from snn.hardware.crossbar.circuit import (
    CELL_TYPES,
    SOLVER_METHODS,
    CrossbarCircuit,
    CrossbarSolution,
    ideal_output,
)
from snn.hardware.crossbar.devices import (
    ConductanceRange,
    DeviceModel,
    Drift,
    ProgrammedConductance,
    ProgrammingNoise,
    PulseResponse,
    ReadNoise,
    StuckAtFaults,
    Variability,
)
from snn.hardware.crossbar.energy import (
    HERMES_ENERGY_PER_MAC_J,
    EnergyConstants,
    VmmCost,
    vmm_cost,
)
from snn.hardware.crossbar.mapping import (
    DEFAULT_RELATIVE_ERROR,
    BitSlicedMapping,
    CrossbarLayer,
    DifferentialMapping,
    OffsetMapping,
    Quantiser,
    circuit_solver,
    ideal_solver,
)
from snn.hardware.crossbar.substrate import (
    MAPPINGS,
    CrossbarSubstrate,
    ProgrammedProjection,
    program_network,
    projection_matrix,
)

__all__ = [
    "CELL_TYPES",
    "DEFAULT_RELATIVE_ERROR",
    "HERMES_ENERGY_PER_MAC_J",
    "MAPPINGS",
    "SOLVER_METHODS",
    "BitSlicedMapping",
    "ConductanceRange",
    "CrossbarCircuit",
    "CrossbarLayer",
    "CrossbarSolution",
    "CrossbarSubstrate",
    "DeviceModel",
    "DifferentialMapping",
    "Drift",
    "EnergyConstants",
    "OffsetMapping",
    "ProgrammedConductance",
    "ProgrammedProjection",
    "ProgrammingNoise",
    "PulseResponse",
    "Quantiser",
    "ReadNoise",
    "StuckAtFaults",
    "Variability",
    "VmmCost",
    "circuit_solver",
    "ideal_output",
    "ideal_solver",
    "program_network",
    "projection_matrix",
    "vmm_cost",
]
