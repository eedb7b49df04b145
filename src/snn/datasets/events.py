"""The project's one event format: a structured NumPy array with fields ``x, y, t, p``.

* ``x``, ``y``: pixel column and row (``int16``), ``0 <= x < width``, ``0 <= y < height``;
* ``t``: timestamp in microseconds (``int64``), non-decreasing within a recording;
* ``p``: polarity (``int8``), 1 = ON (brightness increase), 0 = OFF.

Tonic's transforms (``tonic.transforms.ToFrame`` etc.) accept these arrays directly with
``ordering = "xytp"``; sensor sizes follow Tonic's convention ``(width, height, polarities)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
ORDERING = "xytp"

Events = NDArray[np.void]


def make_events(
    x: NDArray[np.integer], y: NDArray[np.integer], t: NDArray[np.integer], p: NDArray[np.integer]
) -> Events:
    """Pack equal-length coordinate, timestamp (us) and polarity arrays into :data:`EVENT_DTYPE`."""
    n = len(x)
    for name, arr in (("y", y), ("t", t), ("p", p)):
        if len(arr) != n:
            raise ValueError(f"make_events: {name} has {len(arr)} entries, x has {n}")
    events = np.empty(n, dtype=EVENT_DTYPE)
    events["x"] = x
    events["y"] = y
    events["t"] = t
    events["p"] = p
    return events


def check_events(events: Events, sensor_size: tuple[int, int, int], what: str = "events") -> None:
    """Raise ``ValueError`` unless ``events`` has the project dtype and lies on the sensor.

    ``sensor_size`` is ``(width, height, polarities)``.
    """
    if not isinstance(events, np.ndarray) or events.dtype.names is None:
        raise ValueError(f"{what}: expected a structured array with fields x, y, t, p")
    missing = {"x", "y", "t", "p"} - set(events.dtype.names)
    if missing:
        raise ValueError(f"{what}: missing field(s) {', '.join(sorted(missing))}")
    width, height, _ = sensor_size
    if events.size == 0:
        return
    if events["x"].min() < 0 or events["x"].max() >= width:
        raise ValueError(
            f"{what}: x in [{events['x'].min()}, {events['x'].max()}] lies outside the sensor "
            f"width {width}"
        )
    if events["y"].min() < 0 or events["y"].max() >= height:
        raise ValueError(
            f"{what}: y in [{events['y'].min()}, {events['y'].max()}] lies outside the sensor "
            f"height {height}"
        )
    if np.any(np.diff(events["t"]) < 0):
        raise ValueError(f"{what}: timestamps decrease; events must be sorted by time")
