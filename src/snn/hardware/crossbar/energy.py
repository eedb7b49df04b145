r"""Energy, latency and area of one vector-matrix multiply (VMM) on a :class:`CrossbarLayer`.

For a batch of input vectors the estimate counts what the layer's signal chain really does:

.. math::

    E_{dev} &= t_{read} \sum_{\text{arrays}} \sum_{b} \sum_{i,j} V_{bi}^2\, G_{ij}
              \qquad\text{(word-line voltage across every device; ideal wires)}\\
    E_{DAC} &= N_{DAC}\, E_{DAC,1b}\, \mathrm{bits}_{DAC}, \quad
              N_{DAC} = \text{batch} \times \sum_{\text{arrays}} \text{rows}\\
    E_{ADC} &= N_{ADC}\, E_{ADC,8b}\, 2^{\mathrm{bits}_{ADC} - 8}, \quad
              N_{ADC} = \text{batch} \times \sum_{\text{tiles, planes}} \text{weight columns}\\
    E_{dig} &= N_{ADC}\, E_{add}\qquad\text{(one shift-and-add per converted output)}

Latency per input vector, all tiles in parallel, each with ``ceil(cols / columns_per_adc)``
ADCs converting ``columns_per_adc`` columns in sequence:
:math:`t = t_{read} + \lceil \text{cols} / n_{ADC} \rceil\, t_{conv}` with
:math:`t_{conv} = 1 / f_{ADC}`; a batch takes ``batch`` times that.

Area: cells (:math:`A_{cell} F^2` each) plus ADCs and DACs.

With ideal wires :math:`E_{dev}` is exact for the voltages applied; with IR drop the devices see
less than the applied voltage and the wires dissipate too, so it is an estimate.

Constants (:class:`EnergyConstants`) carry their sources. The ADC scaling :math:`2^{b-8}` is the
Walden figure-of-merit assumption (energy per conversion doubles per bit), an approximation that
overstates the savings below about 4 bits.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from numpy.typing import ArrayLike

from snn.hardware.crossbar.mapping import CrossbarLayer

HERMES_ENERGY_PER_MAC_J = (0.20e-12, 0.81e-12)
"""Measured range of the IBM HERMES 64-core PCM chip (Le Gallo et al., Nat. Electron. 6, 2023),
in J per MAC, as recorded in DESIGN.md; a cross-check for :attr:`VmmCost.energy_per_mac`, not an
input of the model (not re-read from the paper here)."""


@dataclass(frozen=True)
class EnergyConstants:
    """Per-operation energies (J), times (s) and areas (m^2) with their sources.

    ISAAC numbers: Shafiee et al., "ISAAC: a convolutional neural network accelerator with in-situ
    analog arithmetic in crossbars", ISCA 2016, 32 nm, Table of IMA components as usually quoted:
    8 ADCs of 8 bits at 1.28 GS/s use 16 mW and 0.0096 mm^2, i.e. 2 mW / 1.28 GS/s = 1.5625 pJ
    per conversion (DESIGN.md: ~1.6 pJ) and 0.0012 mm^2 per ADC; 8 x 128 one-bit DACs use 4 mW and
    0.00017 mm^2; the crossbar read cycle is 100 ns. Those table values were not re-read from the
    primary source in this session; the derived per-conversion energy matches DESIGN.md.
    Horowitz, "Computing's energy problem", ISSCC 2014 (45 nm): 32-bit integer add 0.1 pJ.

    Attributes
    ----------
    adc_energy_8bit
        J per 8-bit conversion (ISAAC: 1.5625 pJ).
    adc_sample_rate
        Conversions per second of one ADC (ISAAC: 1.28e9).
    adc_area
        m^2 per ADC (ISAAC: 0.0012 mm^2 = 1.2e-9 m^2).
    dac_energy_per_bit
        J per bit per row per read: ISAAC's 1-bit DAC power 4 mW / 1024 DACs = 3.9 uW, over one
        100 ns read cycle = 0.39 pJ; a multi-bit DAC is counted as ``bits`` of these (assumption).
    dac_area
        m^2 per 1-bit DAC (ISAAC: 0.00017 mm^2 / 1024 = 1.66e-13 m^2); a ``bits``-bit DAC is
        counted as ``bits`` of these (assumption).
    t_read
        Read pulse width, s (ISAAC's 100 ns crossbar cycle).
    digital_add_energy
        J per shift-and-add of a converted output (Horowitz 2014: 32-bit add 0.1 pJ at 45 nm).
    feature_size
        Technology node F, m (ISAAC's 32 nm).
    cell_area_f2
        Cell area in F^2: 4 for a passive 0T1R crosspoint (2F x 2F pitch, geometric minimum);
        see ``cell_area_f2_1t1r``.
    cell_area_f2_1t1r
        1T1R cell area in F^2; the access transistor sets it. 12 F^2 is an assumption (no
        source checked here); replace it with your process's value.
    columns_per_adc
        Columns sharing one ADC (ISAAC: one ADC per 128-column array).
    """

    adc_energy_8bit: float = 2e-3 / 1.28e9
    adc_sample_rate: float = 1.28e9
    adc_area: float = 0.0096e-6 / 8
    dac_energy_per_bit: float = (4e-3 / 1024) * 100e-9
    dac_area: float = 0.00017e-6 / 1024
    t_read: float = 100e-9
    digital_add_energy: float = 0.1e-12
    feature_size: float = 32e-9
    cell_area_f2: float = 4.0
    cell_area_f2_1t1r: float = 12.0
    columns_per_adc: int = 128

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if int(self.columns_per_adc) != self.columns_per_adc:
            raise ValueError(f"columns_per_adc must be an integer, got {self.columns_per_adc!r}")


@dataclass(frozen=True)
class VmmCost:
    """Energy (J), latency (s) and area (m^2) of one layer for one batch, with a breakdown."""

    batch: int
    macs: int
    energy_device: float
    energy_dac: float
    energy_adc: float
    energy_digital: float
    dac_conversions: int
    adc_conversions: int
    latency: float
    area_cells: float
    area_adc: float
    area_dac: float
    n_arrays: int
    n_adcs: int
    breakdown: dict[str, float] = field(default_factory=dict)

    @property
    def energy_total(self) -> float:
        """Sum of the energy terms (J)."""
        return self.energy_device + self.energy_dac + self.energy_adc + self.energy_digital

    @property
    def energy_per_mac(self) -> float:
        """J per multiply-accumulate of the logical matrix (compare HERMES_ENERGY_PER_MAC_J)."""
        return self.energy_total / self.macs if self.macs else 0.0

    @property
    def area_total(self) -> float:
        """Cells plus converters (m^2)."""
        return self.area_cells + self.area_adc + self.area_dac

    def to_dict(self) -> dict[str, float | int]:
        """Flat dictionary (SI units) including totals, for CSV and reports."""
        out: dict[str, float | int] = {k: v for k, v in asdict(self).items() if k != "breakdown"}
        out["energy_total"] = self.energy_total
        out["energy_per_mac"] = self.energy_per_mac
        out["area_total"] = self.area_total
        return out


def vmm_cost(
    layer: CrossbarLayer, x: ArrayLike, constants: EnergyConstants | None = None
) -> VmmCost:
    """Energy, latency and area for ``layer.forward(x)`` (see module docstring for the sums).

    Device energy uses each array's programmed conductances (t = 0, no read noise) and the
    layer's DAC output voltages.
    """
    c = EnergyConstants() if constants is None else constants
    volts, _ = layer.input_voltages(x)
    batch = int(volts.shape[0])
    v2 = volts**2
    e_dev = 0.0
    dac_conv = 0
    cells = 0
    for arr in layer.physical_arrays:
        e_dev += float((v2[:, arr.rows] @ arr.state.g).sum()) * c.t_read
        dac_conv += batch * arr.state.g.shape[0]
        cells += int(arr.state.g.size)
    adc_conv = 0
    n_adcs = 0
    max_sequential = 0
    for group in layer.groups:
        cols = group.cols.stop - group.cols.start
        adc_conv += batch * cols
        adcs = math.ceil(cols / c.columns_per_adc)
        n_adcs += adcs
        max_sequential = max(max_sequential, math.ceil(cols / adcs))
    dac_bits = layer.dac.bits if layer.dac.bits is not None else 0
    adc_scale = 2.0 ** ((layer.adc.bits if layer.adc.bits is not None else 8) - 8)
    e_dac = dac_conv * c.dac_energy_per_bit * dac_bits
    e_adc = adc_conv * c.adc_energy_8bit * adc_scale
    e_dig = adc_conv * c.digital_add_energy
    latency = batch * (c.t_read + max_sequential / c.adc_sample_rate)
    cell_f2 = c.cell_area_f2_1t1r if layer.cell.upper() == "1T1R" else c.cell_area_f2
    area_cells = cells * cell_f2 * c.feature_size**2
    dac_count = sum(int(a.state.g.shape[0]) for a in layer.physical_arrays)
    area_dac = dac_count * max(dac_bits, 1) * c.dac_area
    area_adc = n_adcs * c.adc_area
    macs = batch * layer.n_in * layer.n_out
    breakdown = {
        "device_read": e_dev,
        "dac": e_dac,
        "adc": e_adc,
        "digital_shift_add": e_dig,
    }
    return VmmCost(
        batch=batch,
        macs=macs,
        energy_device=e_dev,
        energy_dac=e_dac,
        energy_adc=e_adc,
        energy_digital=e_dig,
        dac_conversions=dac_conv,
        adc_conversions=adc_conv,
        latency=latency,
        area_cells=area_cells,
        area_adc=area_adc,
        area_dac=area_dac,
        n_arrays=len(layer.physical_arrays),
        n_adcs=n_adcs,
        breakdown=breakdown,
    )


__all__ = ["HERMES_ENERGY_PER_MAC_J", "EnergyConstants", "VmmCost", "vmm_cost"]
