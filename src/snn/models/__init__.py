"""Published model families, each built as a frontend :class:`~snn.network.Network`."""

from snn.models.vogels_abbott import vogels_abbott

__all__ = ["vogels_abbott"]
