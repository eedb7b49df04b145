"""Published model families, each built as a frontend :class:`~snn.network.Network`."""

from snn.models.ca3 import CA3Memory, CA3Parameters, Operation, ca3_memory
from snn.models.vogels_abbott import vogels_abbott

__all__ = ["CA3Memory", "CA3Parameters", "Operation", "ca3_memory", "vogels_abbott"]
