"""Readers of real event-camera files, all returning :data:`~snn.datasets.events.EVENT_DTYPE`.

:func:`read_events` dispatches on the file extension through :data:`EVENT_READERS`:

==========  ====================================================  ===============================
extension   format                                                decoder
==========  ====================================================  ===============================
.aedat      AEDAT 3.1 (IBM DVS128 Gesture recordings)             own (:mod:`snn.datasets.aedat`)
.aedat4     AEDAT 4 (DV software: flatbuffers packets)            the ``aedat`` package
.bin        N-MNIST / N-Caltech101 (40-bit events)                own, vectorised
.dat        Prophesee DAT, Version 2 (N-CARS)                     own, vectorised
.raw        Prophesee EVT 3.0 raw                                 ``expelliarmus``
==========  ====================================================  ===============================

Every reader returns ``(events, sensor_size)`` with ``sensor_size = (width, height,
polarities)`` as in Tonic, and raises ``ValueError`` naming the file for malformed input or
events outside the sensor.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snn.datasets.aedat import DVS128_SENSOR_SIZE, in_time_order, read_aedat31
from snn.datasets.events import EVENT_DTYPE, Events, make_events

SensorSize = tuple[int, int, int]

#: N-MNIST's ATIS crop (Tonic: ``tonic.datasets.NMNIST.sensor_size``)
NMNIST_SENSOR_SIZE: SensorSize = (34, 34, 2)
#: N-CARS samples (Tonic's N-CARS dataset: ``x=120, y=100, p=2``); used for a ``.dat`` file whose
#: header gives no geometry
NCARS_SENSOR_SIZE: SensorSize = (120, 100, 2)
#: Prophesee camera plugins whose EVT3 headers carry no geometry line, and their resolution
PROPHESEE_PLUGIN_GEOMETRY: dict[str, tuple[int, int]] = {
    "hal_plugin_gen41": (1280, 720),  # Gen4.1 / IMX636 HD
    "hal_plugin_imx636": (1280, 720),
    "hal_plugin_gen31": (640, 480),  # Gen3.1 VGA
}

# N-MNIST: a row value of 240 marks a timestamp-overflow record, which adds 2**13 us to all later
# events (Orchard's Read_Ndataset.m, the format's reference reader; Tonic's read_mnist_file)
_NMNIST_OVERFLOW_Y = 240
_NMNIST_TIME_INCREMENT = 2**13
_DAT_EVENT = np.dtype([("t", "<u4"), ("data", "<u4")])
_DAT_CD_TYPES = (0, 12)  # Event2D (Version 2 files) and EventCD share one layout


def read_nmnist_bin(path: str | os.PathLike[str]) -> tuple[Events, SensorSize]:
    """Decode an N-MNIST ``.bin`` file: 5 bytes per event, big-endian bit fields.

    Byte 0 is ``x``, byte 1 ``y``, bit 7 of byte 2 the polarity and the remaining 23 bits
    (byte 2 bits 6..0, bytes 3, 4) the timestamp in microseconds. A record with ``y = 240`` is a
    timestamp overflow: it adds :math:`2^{13}` us to every later event and is not an event
    itself (as in the dataset authors' reader).
    """
    file = os.fspath(path)
    raw = np.fromfile(file, dtype=np.uint8)
    if raw.size % 5:
        raise ValueError(
            f"{file}: {raw.size} bytes is not a whole number of 5-byte N-MNIST events "
            f"({raw.size % 5} trailing bytes; truncated file?)"
        )
    records = raw.reshape(-1, 5).astype(np.int64)
    x, y = records[:, 0], records[:, 1]
    p = records[:, 2] >> 7
    t = ((records[:, 2] & 0x7F) << 16) | (records[:, 3] << 8) | records[:, 4]
    overflow = y == _NMNIST_OVERFLOW_Y
    t = t + _NMNIST_TIME_INCREMENT * np.cumsum(overflow)
    keep = ~overflow
    events = make_events(x[keep], y[keep], t[keep], p[keep])
    return in_time_order(events, NMNIST_SENSOR_SIZE, file), NMNIST_SENSOR_SIZE


def _header_lines(buffer: bytes) -> tuple[list[str], int]:
    """The ``%``-prefixed header lines of a Prophesee file and the offset just after them."""
    lines: list[str] = []
    offset = 0
    while offset < len(buffer) and buffer[offset : offset + 1] == b"%":
        end = buffer.find(b"\n", offset)
        if end < 0:
            end = len(buffer) - 1
        lines.append(buffer[offset:end].decode("latin-1").strip())
        offset = end + 1
        if lines[-1] == "% end":
            break
    return lines, offset


def _header_geometry(lines: list[str]) -> tuple[int, int] | None:
    """``(width, height)`` from a Prophesee header, or None when it does not say."""
    fields: dict[str, str] = {}
    for line in lines:
        parts = line.lstrip("%").strip().split(maxsplit=1)
        if len(parts) == 2:
            fields[parts[0].lower()] = parts[1].strip()
    if fields.get("width", "").isdigit() and fields.get("height", "").isdigit():
        return int(fields["width"]), int(fields["height"])
    if "geometry" in fields:
        match = re.fullmatch(r"(\d+)\s*x\s*(\d+)", fields["geometry"])
        if match:
            return int(match[1]), int(match[2])
    if "format" in fields:  # e.g. "EVT3;height=720;width=1280"
        found = dict(re.findall(r"(width|height)=(\d+)", fields["format"]))
        if "width" in found and "height" in found:
            return int(found["width"]), int(found["height"])
    plugin = fields.get("plugin_name", "")
    for prefix, geometry in PROPHESEE_PLUGIN_GEOMETRY.items():
        if plugin.startswith(prefix):
            return geometry
    return None


def read_prophesee_dat(
    path: str | os.PathLike[str], sensor_size: SensorSize | None = None
) -> tuple[Events, SensorSize]:
    """Decode a Prophesee ``.dat`` file (Version 2 layout, as in N-CARS).

    After the ``%`` header come one byte event type (0 or 12: CD events) and one byte event size
    (8), then events of ``uint32 t`` (us) and ``uint32 data`` with ``x = data & 0x3FFF``,
    ``y = (data >> 14) & 0x3FFF``, ``p = (data >> 28) & 1``. The sensor is the header's
    ``Width``/``Height`` when present, else ``sensor_size``, else :data:`NCARS_SENSOR_SIZE`.
    """
    file = os.fspath(path)
    buffer = Path(file).read_bytes()
    lines, offset = _header_lines(buffer)
    versions = [re.fullmatch(r"%\s*version\s+(\d+)", line, re.IGNORECASE) for line in lines]
    version = next((int(match[1]) for match in versions if match), None)
    if version is not None and version < 2:
        raise ValueError(
            f"{file}: Prophesee DAT Version {version}; only the Version 2 layout "
            "(x: 14 bits, y: 14 bits, p: bit 28) is supported"
        )
    if len(buffer) - offset < 2:
        raise ValueError(f"{file}: no event type/size bytes after the header (truncated file?)")
    event_type, event_size = buffer[offset], buffer[offset + 1]
    if event_type not in _DAT_CD_TYPES or event_size != _DAT_EVENT.itemsize:
        raise ValueError(
            f"{file}: event type {event_type} of size {event_size}; expected CD events "
            f"(type {' or '.join(map(str, _DAT_CD_TYPES))}) of size {_DAT_EVENT.itemsize}"
        )
    payload = len(buffer) - offset - 2
    if payload % _DAT_EVENT.itemsize:
        raise ValueError(
            f"{file}: {payload} payload bytes is not a whole number of "
            f"{_DAT_EVENT.itemsize}-byte events (truncated file?)"
        )
    raw = np.frombuffer(buffer, _DAT_EVENT, offset=offset + 2)
    data = raw["data"]
    events = make_events(data & 0x3FFF, (data >> 14) & 0x3FFF, raw["t"], (data >> 28) & 1)
    geometry = _header_geometry(lines)
    if geometry is not None:
        sensor: SensorSize = (*geometry, 2)
    else:
        sensor = sensor_size if sensor_size is not None else NCARS_SENSOR_SIZE
    return in_time_order(events, sensor, file), sensor


def read_prophesee_evt3(
    path: str | os.PathLike[str], sensor_size: SensorSize | None = None
) -> tuple[Events, SensorSize]:
    """Decode a Prophesee EVT 3.0 ``.raw`` file with ``expelliarmus``.

    The sensor comes from the header (``geometry``, ``format ...;width=;height=``, or the camera
    plugin in :data:`PROPHESEE_PLUGIN_GEOMETRY`), else from ``sensor_size``.
    """
    file = os.fspath(path)
    try:
        from expelliarmus import Wizard
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"reading EVT3 .raw files needs expelliarmus ({exc.name} is missing): "
            "pip install expelliarmus"
        ) from exc
    with open(file, "rb") as handle:
        head = handle.read(4096)
    lines, _ = _header_lines(head)
    if not any("evt 3" in line.lower() or "evt3" in line.lower() for line in lines):
        raise ValueError(f"{file}: the header does not declare EVT 3.0 (expected '% evt 3.0')")
    geometry = _header_geometry(lines)
    if geometry is not None:
        sensor: SensorSize = (*geometry, 2)
    elif sensor_size is not None:
        sensor = sensor_size
    else:
        raise ValueError(
            f"{file}: the EVT3 header gives no sensor geometry; pass sensor_size=(width, height, 2)"
        )
    raw = Wizard(encoding="evt3", fpath=file).read()
    events = make_events(raw["x"], raw["y"], raw["t"], raw["p"])
    return in_time_order(events, sensor, file), sensor


def read_aedat4(
    path: str | os.PathLike[str], sensor_size: SensorSize | None = None
) -> tuple[Events, SensorSize]:
    """Read the polarity events of an AEDAT 4 file with the ``aedat`` package.

    The first event stream (lowest stream id) is read; other streams (IMU, triggers, frames)
    are ignored. The sensor size is the stream's ``width``/``height``.
    """
    file = os.fspath(path)
    try:
        import aedat
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"reading .aedat4 files needs the aedat package ({exc.name} is missing): "
            "pip install aedat"
        ) from exc
    try:
        decoder = aedat.Decoder(file)
    except (OSError, RuntimeError) as exc:
        raise ValueError(f"{file}: not a readable AEDAT 4 file ({exc})") from exc
    streams = {
        stream_id: stream
        for stream_id, stream in decoder.id_to_stream().items()
        if stream["type"] == "events"
    }
    if not streams:
        raise ValueError(f"{file}: the AEDAT 4 file has no event stream")
    stream_id = min(streams)
    stream = streams[stream_id]
    sensor: SensorSize = (int(stream["width"]), int(stream["height"]), 2)
    if sensor_size is not None and tuple(sensor_size[:2]) != sensor[:2]:
        raise ValueError(
            f"{file}: the file's event stream is {sensor[0]}x{sensor[1]}, "
            f"sensor_size says {sensor_size[0]}x{sensor_size[1]}"
        )
    chunks = [
        packet["events"]
        for packet in decoder
        if packet["stream_id"] == stream_id and "events" in packet
    ]
    if not chunks:
        return np.empty(0, dtype=EVENT_DTYPE), sensor
    raw = np.concatenate(chunks)
    events = make_events(raw["x"], raw["y"], raw["t"].astype(np.int64), raw["on"])
    return in_time_order(events, sensor, file), sensor


def read_aedat31_events(
    path: str | os.PathLike[str], sensor_size: SensorSize | None = None
) -> tuple[Events, SensorSize]:
    """:func:`snn.datasets.aedat.read_aedat31` (a DVS128 by default) in the common signature."""
    sensor = sensor_size if sensor_size is not None else DVS128_SENSOR_SIZE
    return read_aedat31(path, sensor), sensor


def _read_nmnist(
    path: str | os.PathLike[str], sensor_size: SensorSize | None = None
) -> tuple[Events, SensorSize]:
    if sensor_size is not None and tuple(sensor_size) != NMNIST_SENSOR_SIZE:
        raise ValueError(
            f"{os.fspath(path)}: N-MNIST .bin files are {NMNIST_SENSOR_SIZE}, "
            f"sensor_size says {sensor_size}"
        )
    return read_nmnist_bin(path)


@dataclass(frozen=True)
class EventReader:
    """One registered file format: its extension, a description and the decoder."""

    extension: str
    description: str
    read: Callable[..., tuple[Events, SensorSize]]


#: the one registry of file formats that :func:`read_events` understands, by extension
EVENT_READERS: dict[str, EventReader] = {}


def register_reader(reader: EventReader) -> None:
    """Add a format to :data:`EVENT_READERS`; an extension can be registered once."""
    extension = reader.extension.lower()
    if not extension.startswith("."):
        raise ValueError(f"extension {reader.extension!r} must start with '.'")
    if extension in EVENT_READERS:
        raise ValueError(f"a reader for {extension} is already registered")
    EVENT_READERS[extension] = reader


for _reader in (
    EventReader(".aedat", "AEDAT 3.1 (IBM DVS128 Gesture)", read_aedat31_events),
    EventReader(".aedat4", "AEDAT 4 (DV software)", read_aedat4),
    EventReader(".bin", "N-MNIST / N-Caltech101 binary", _read_nmnist),
    EventReader(".dat", "Prophesee DAT (N-CARS)", read_prophesee_dat),
    EventReader(".raw", "Prophesee EVT 3.0 raw", read_prophesee_evt3),
):
    register_reader(_reader)


def read_events(
    path: str | os.PathLike[str], sensor_size: SensorSize | None = None
) -> tuple[Events, SensorSize]:
    """Read an event file by its extension; returns ``(events, (width, height, polarities))``.

    ``sensor_size`` is needed only where the file does not say (an EVT3 header without
    geometry); where the file does say, a different ``sensor_size`` is an error or ignored as
    each reader documents. Unknown extensions raise ``ValueError`` listing the supported ones.
    """
    extension = Path(path).suffix.lower()
    reader = EVENT_READERS.get(extension)
    if reader is None:
        supported = ", ".join(f"{ext} ({r.description})" for ext, r in EVENT_READERS.items())
        raise ValueError(
            f"{os.fspath(path)}: unknown event file extension {extension or '(none)'!r}; "
            f"supported: {supported}"
        )
    return reader.read(path, sensor_size)
