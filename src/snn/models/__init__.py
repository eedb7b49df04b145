"""Published model families.

The CA3 memory, Vogels-Abbott and the DVS spiking CNNs (:mod:`snn.models.dvs`) are frontend
:class:`~snn.network.Network` builders; :mod:`snn.models.reservoir` holds the rate E/I
reservoirs with self-adapting inhibition, their readouts and tasks.
"""

from snn.models.ca3 import CA3Memory, CA3Parameters, Operation, ca3_memory
from snn.models.vogels_abbott import vogels_abbott

__all__ = ["CA3Memory", "CA3Parameters", "Operation", "ca3_memory", "vogels_abbott"]
