"""The original IBM DVS128 Gesture release: AEDAT 3.1 recordings, label files and trial lists.

The release (``DvsGesture/``) holds, per trial ``userXX_<lighting>``, a recording
``userXX_<lighting>.aedat`` (AEDAT 3.1, one DVS128 camera), a label file
``userXX_<lighting>_labels.csv`` with one row per gesture (``class,startTime_usec,endTime_usec``,
classes 1..11) and the two split files ``trials_to_train.txt`` / ``trials_to_test.txt`` (one
``userXX_<lighting>.aedat`` per line). :func:`convert_ibm_gesture` turns it into Tonic's
``DVSGesture`` layout so that one loader (:class:`snn.datasets.dvs_gesture.DVSGestureFrames`)
reads either.

AEDAT 3.1 (https://docs.inivation.com/software/software-advanced-usage/file-formats/aedat-3.1.html):
ASCII header lines from ``#!AER-DAT3.1`` to ``#!END-HEADER\\r\\n``, then packets. Each packet is a
28-byte little-endian header

====  =====  ==================================================================
byte  type   field
====  =====  ==================================================================
0     int16  eventType (1 = polarity; every other type is skipped)
2     int16  eventSource
4     int32  eventSize (bytes per event; 8 for polarity events)
8     int32  eventTSOffset (byte offset of the timestamp inside an event)
12    int32  eventTSOverflow (high bits of the timestamps of this packet)
16    int32  eventCapacity (events the payload holds)
20    int32  eventNumber (events in use, valid or not)
24    int32  eventValid (valid events)
====  =====  ==================================================================

followed by ``eventCapacity * eventSize`` payload bytes. A polarity event is ``uint32 data, int32
timestamp`` with ``valid = data & 1``, ``p = (data >> 1) & 1``, ``y = (data >> 2) & 0x1FFF``,
``x = (data >> 17) & 0x1FFF``, and the full timestamp in microseconds is
``t = (eventTSOverflow << 31) | timestamp``.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
import shutil
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from snn.datasets.events import EVENT_DTYPE, Events, check_events, make_events

#: first bytes of every AEDAT 3.1 file
AEDAT31_MAGIC = b"#!AER-DAT3.1"
#: last header line
AEDAT31_END_HEADER = b"#!END-HEADER"
#: DVS128 sensor of the IBM recordings, ``(width, height, polarities)`` as in Tonic
DVS128_SENSOR_SIZE = (128, 128, 2)
#: number of gesture classes; the label files number them 1..11, samples 0..10
N_GESTURE_CLASSES = 11

POLARITY_EVENT = 1
# eventType, eventSource, eventSize, eventTSOffset, eventTSOverflow, eventCapacity, eventNumber,
# eventValid
_PACKET_HEADER = struct.Struct("<hhiiiiii")
_POLARITY_EVENT_SIZE = 8  # uint32 data, int32 timestamp
_LABELS_HEADER = ("class", "startTime_usec", "endTime_usec")
_TRIAL_NAME = re.compile(r"^(user\d+)_(\w+)\.aedat$")
#: Tonic's folder names (``tonic.datasets.DVSGesture.folder_name``)
TONIC_SPLIT_FOLDERS = {"train": "ibmGestureTrain", "test": "ibmGestureTest"}
TRIAL_LISTS = {"train": "trials_to_train.txt", "test": "trials_to_test.txt"}


def _aedat31_data_start(buffer: bytes, file: str) -> int:
    """Byte offset of the first packet: just after the ``#!END-HEADER`` line."""
    if not buffer.startswith(AEDAT31_MAGIC):
        found = buffer[: len(AEDAT31_MAGIC)]
        raise ValueError(
            f"{file}: not an AEDAT 3.1 file: it starts with {found!r}, expected {AEDAT31_MAGIC!r}"
        )
    end = buffer.find(b"\n" + AEDAT31_END_HEADER)
    if end < 0:
        raise ValueError(f"{file}: AEDAT 3.1 header has no {AEDAT31_END_HEADER!r} line")
    line_end = buffer.find(b"\n", end + 1)
    if line_end < 0:
        raise ValueError(f"{file}: AEDAT 3.1 header ends without a newline after the last line")
    return line_end + 1


def read_aedat31(
    path: str | os.PathLike[str], sensor_size: tuple[int, int, int] = DVS128_SENSOR_SIZE
) -> Events:
    """Read the polarity events of an AEDAT 3.1 file (one DVS camera) into :data:`EVENT_DTYPE`.

    Non-polarity packets (special, frame, IMU events) and events whose valid bit is 0 are
    skipped; of each polarity packet only the first ``eventNumber`` slots are read. Events come
    back in time order (a stable sort by ``t`` is applied only when packets are out of order).

    Raises ``ValueError`` naming the file for: a missing or wrong header, a truncated packet
    header or payload, a polarity packet with an event size other than 8 bytes, inconsistent
    packet counts, a negative timestamp, or events outside ``sensor_size`` (``(width, height,
    polarities)``).
    """
    file = os.fspath(path)
    with open(file, "rb") as handle:
        buffer = handle.read()
    offset = _aedat31_data_start(buffer, file)
    payloads: list[memoryview] = []
    overflows: list[tuple[int, int]] = []  # (events, eventTSOverflow) per polarity packet
    view = memoryview(buffer)
    size = len(buffer)
    # one Python step per packet (hundreds per second of recording), none per event
    while offset < size:
        if size - offset < _PACKET_HEADER.size:
            raise ValueError(
                f"{file}: truncated packet header at byte {offset}: "
                f"{size - offset} bytes left, a header has {_PACKET_HEADER.size}"
            )
        (event_type, _, event_size, ts_offset, ts_overflow, capacity, number, _) = (
            _PACKET_HEADER.unpack_from(buffer, offset)
        )
        if event_size <= 0 or capacity < 0 or not 0 <= number <= capacity:
            raise ValueError(
                f"{file}: corrupt packet header at byte {offset}: eventSize={event_size}, "
                f"eventCapacity={capacity}, eventNumber={number} (need eventSize > 0 and "
                "0 <= eventNumber <= eventCapacity)"
            )
        payload = offset + _PACKET_HEADER.size
        end = payload + capacity * event_size
        if end > size:
            raise ValueError(
                f"{file}: truncated packet payload at byte {payload}: eventCapacity={capacity} "
                f"x eventSize={event_size} needs {end - payload} bytes, {size - payload} remain"
            )
        if event_type == POLARITY_EVENT and number > 0:
            if event_size != _POLARITY_EVENT_SIZE or ts_offset != 4:
                raise ValueError(
                    f"{file}: polarity packet at byte {offset} has eventSize={event_size} and "
                    f"eventTSOffset={ts_offset}, expected 8 and 4"
                )
            if ts_overflow < 0:
                raise ValueError(
                    f"{file}: packet at byte {offset} has a negative eventTSOverflow {ts_overflow}"
                )
            payloads.append(view[payload : payload + number * event_size])
            overflows.append((number, ts_overflow))
        offset = end

    if not payloads:
        return np.empty(0, dtype=EVENT_DTYPE)
    # columns of (uint32 data, int32 timestamp) pairs, decoded as whole arrays
    pairs = np.frombuffer(b"".join(payloads), dtype="<u4").reshape(-1, 2)
    data, stamp = pairs[:, 0], pairs[:, 1]
    valid = (data & 1).astype(bool)
    negative = valid & (stamp > 0x7FFFFFFF)
    if np.any(negative):
        first = int(np.flatnonzero(negative)[0])
        raise ValueError(
            f"{file}: negative event timestamp {int(stamp[first].astype(np.int64)) - 2**32} "
            f"(event {first}); AEDAT 3.1 timestamps are 31-bit non-negative, the high bits are "
            "in eventTSOverflow"
        )
    t = stamp.astype(np.int64)
    start = 0
    for number, overflow in overflows:
        if overflow:
            t[start : start + number] |= overflow << 31
        start += number
    events = make_events(
        x=((data >> 17) & 0x1FFF)[valid],
        y=((data >> 2) & 0x1FFF)[valid],
        t=t[valid],
        p=((data >> 1) & 1)[valid],
    )
    return in_time_order(events, sensor_size, file)


def in_time_order(events: Events, sensor_size: tuple[int, int, int], file: str) -> Events:
    """``events`` stably sorted by ``t`` (a no-op when they already are), checked on the sensor.

    Raises ``ValueError`` naming ``file`` when an event lies outside ``sensor_size``.
    """
    if np.any(np.diff(events["t"]) < 0):
        events = events[np.argsort(events["t"], kind="stable")]
    check_events(events, sensor_size, what=file)
    return events


@dataclass(frozen=True)
class GestureWindow:
    """One labelled gesture of a recording: ``class_id`` 1..11 during ``[start_us, end_us)``."""

    class_id: int
    start_us: int
    end_us: int

    @property
    def class_index(self) -> int:
        """The 0-based class index used by Tonic and :class:`DVSGestureFrames` (0..10)."""
        return self.class_id - 1


def read_gesture_labels(path: str | os.PathLike[str]) -> list[GestureWindow]:
    """Read ``<trial>_labels.csv``: header ``class,startTime_usec,endTime_usec``, one row each.

    Blank lines are ignored. Raises ``ValueError`` naming the file and line for a wrong header, a
    row that is not three integers, a class outside 1..11, a window with ``start >= end`` and
    windows that overlap; and for a file without any row. Windows are returned sorted by start.
    """
    file = os.fspath(path)
    with open(file, newline="", encoding="utf-8-sig") as handle:
        rows = [(number, row) for number, row in enumerate(csv.reader(handle), start=1)]
    rows = [(number, [cell.strip() for cell in row]) for number, row in rows if any(row)]
    if not rows:
        raise ValueError(f"{file}: empty label file, expected a header {','.join(_LABELS_HEADER)}")
    header_line, header = rows[0]
    if tuple(header) != _LABELS_HEADER:
        raise ValueError(
            f"{file}: line {header_line}: header {','.join(header)!r} is not "
            f"{','.join(_LABELS_HEADER)!r}"
        )
    windows: list[tuple[int, GestureWindow]] = []
    for number, row in rows[1:]:
        if len(row) != 3:
            raise ValueError(
                f"{file}: line {number}: {len(row)} field(s) {row}, expected 3 "
                "(class,startTime_usec,endTime_usec)"
            )
        try:
            class_id, start, end = (int(cell) for cell in row)
        except ValueError:
            raise ValueError(
                f"{file}: line {number}: fields {row} are not all integers "
                "(class,startTime_usec,endTime_usec)"
            ) from None
        if not 1 <= class_id <= N_GESTURE_CLASSES:
            raise ValueError(
                f"{file}: line {number}: unknown class id {class_id}, "
                f"expected 1..{N_GESTURE_CLASSES}"
            )
        if start >= end:
            raise ValueError(
                f"{file}: line {number}: window start {start} us >= end {end} us "
                "(inverted or empty window)"
            )
        windows.append((number, GestureWindow(class_id, start, end)))
    if not windows:
        raise ValueError(f"{file}: no label rows after the header")
    windows.sort(key=lambda item: item[1].start_us)
    for (line_a, a), (line_b, b) in itertools.pairwise(windows):
        if b.start_us < a.end_us:
            raise ValueError(
                f"{file}: overlapping windows: line {line_a} [{a.start_us}, {a.end_us}) and line "
                f"{line_b} [{b.start_us}, {b.end_us})"
            )
    return [window for _, window in windows]


@dataclass(frozen=True)
class GestureSample:
    """The events of one labelled gesture; ``label`` is the class index 0..10."""

    events: Events
    label: int
    window: GestureWindow


@dataclass(frozen=True)
class SlicedRecording:
    """The samples cut from one recording and the windows skipped because they had no event."""

    samples: list[GestureSample]
    skipped_empty: list[GestureWindow] = field(default_factory=list)


def slice_gesture_samples(
    events: Events, windows: Sequence[GestureWindow], *, rebase_time: bool = False
) -> SlicedRecording:
    """Cut a recording into labelled samples: the events with ``start_us <= t < end_us``.

    ``events`` must be sorted by ``t``. Timestamps stay recording time (microseconds) unless
    ``rebase_time`` is set, then they count from the window start. Tonic's ``DVSGesture`` does no
    rebasing when it loads a sample (it only turns its millisecond column into microseconds), so
    the default keeps recording time.

    Empty-sample rule: a window that contains no event is not a sample; it is left out and listed
    in :attr:`SlicedRecording.skipped_empty` so that the caller can report it.
    """
    t = events["t"]
    samples: list[GestureSample] = []
    skipped: list[GestureWindow] = []
    for window in windows:
        first, last = np.searchsorted(t, [window.start_us, window.end_us], side="left")
        if last <= first:
            skipped.append(window)
            continue
        sample = events[first:last].copy()
        if rebase_time:
            sample["t"] -= window.start_us
        samples.append(GestureSample(sample, window.class_index, window))
    return SlicedRecording(samples, skipped)


def read_trial_list(path: str | os.PathLike[str]) -> list[str]:
    """Read ``trials_to_train.txt`` / ``trials_to_test.txt``: trial names without ``.aedat``.

    Blank lines are ignored; any other line must be ``userXX_<lighting>.aedat``; a trial listed
    twice is an error.
    """
    file = os.fspath(path)
    trials: list[str] = []
    with open(file, encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            name = line.strip()
            if not name:
                continue
            if _TRIAL_NAME.match(name) is None:
                raise ValueError(
                    f"{file}: line {number}: {name!r} is not a trial file name "
                    "'userXX_<lighting>.aedat'"
                )
            trial = name[: -len(".aedat")]
            if trial in trials:
                raise ValueError(f"{file}: line {number}: trial {trial} is listed twice")
            trials.append(trial)
    return trials


def tonic_sample_array(events: Events) -> NDArray[np.int64]:
    """One sample as Tonic's ``DVSGesture`` stores it: an ``(N, 4)`` int64 ``.npy`` array.

    Columns are ``x, y, p, t`` (the order of ``tonic.datasets.DVSGesture.dtype``) and ``t`` is in
    milliseconds (Tonic multiplies by 1000 on loading), rounded down: Tonic's copy of the dataset
    has millisecond precision too.
    """
    table = np.empty((len(events), 4), dtype=np.int64)
    table[:, 0] = events["x"]
    table[:, 1] = events["y"]
    table[:, 2] = events["p"]
    table[:, 3] = events["t"] // 1000
    return table


@dataclass
class ConversionReport:
    """What :func:`convert_ibm_gesture` wrote: samples per split, skipped empty windows."""

    output_dir: Path
    n_recordings: dict[str, int] = field(default_factory=dict)
    n_samples: dict[str, int] = field(default_factory=dict)
    #: (trial, window) pairs without any event, not written
    skipped_empty: list[tuple[str, GestureWindow]] = field(default_factory=list)


def convert_ibm_gesture(
    release_dir: str | os.PathLike[str],
    save_to: str | os.PathLike[str],
    *,
    overwrite: bool = False,
) -> ConversionReport:
    """Convert the IBM release folder (``DvsGesture/``) into Tonic's ``DVSGesture`` layout.

    Writes ``<save_to>/DVSGesture/ibmGestureTrain/userXX_<lighting>/<class index>.npy`` (and
    ``ibmGestureTest``), one file per labelled gesture as produced by :func:`tonic_sample_array`,
    the layout that ``tonic.datasets.DVSGesture(save_to)`` and :class:`DVSGestureFrames` read.
    Each split is written to a temporary folder and renamed into place when complete, so an
    interrupted run leaves no half-written split. An existing split folder is an error unless
    ``overwrite``.

    Raises ``ValueError`` for a trial listed in both splits, a recording with the same class
    twice (Tonic's layout has one file per class and trial) and every error of
    :func:`read_aedat31`, :func:`read_gesture_labels` and :func:`read_trial_list`;
    ``FileNotFoundError`` for a missing trial list, recording or label file.
    """
    release = Path(release_dir)
    target = Path(save_to) / "DVSGesture"
    splits: dict[str, list[str]] = {}
    for split, list_name in TRIAL_LISTS.items():
        list_file = release / list_name
        if not list_file.is_file():
            raise FileNotFoundError(
                f"{list_file}: trial list missing; the IBM release folder holds "
                f"{', '.join(TRIAL_LISTS.values())} beside the userXX_<lighting>.aedat files"
            )
        splits[split] = read_trial_list(list_file)
    both = sorted(set(splits["train"]) & set(splits["test"]))
    if both:
        raise ValueError(
            f"{release}: trial(s) {', '.join(both)} listed in both "
            f"{TRIAL_LISTS['train']} and {TRIAL_LISTS['test']}"
        )
    for split in splits:
        final = target / TONIC_SPLIT_FOLDERS[split]
        if final.exists() and not overwrite:
            raise FileExistsError(f"{final} exists; pass overwrite=True to replace it")

    report = ConversionReport(output_dir=target)
    target.mkdir(parents=True, exist_ok=True)
    for split, trials in splits.items():
        final = target / TONIC_SPLIT_FOLDERS[split]
        partial = target / f".{final.name}.partial"
        if partial.exists():
            shutil.rmtree(partial)
        n_samples = 0
        try:
            for trial in trials:
                recording = release / f"{trial}.aedat"
                labels = release / f"{trial}_labels.csv"
                for needed in (recording, labels):
                    if not needed.is_file():
                        raise FileNotFoundError(
                            f"{needed}: missing; {trial} is listed in {TRIAL_LISTS[split]}"
                        )
                windows = read_gesture_labels(labels)
                seen: dict[int, GestureWindow] = {}
                for window in windows:
                    if window.class_id in seen:
                        raise ValueError(
                            f"{labels}: class {window.class_id} labelled twice "
                            f"([{seen[window.class_id].start_us}, {seen[window.class_id].end_us})"
                            f" and [{window.start_us}, {window.end_us})); Tonic's layout holds "
                            "one sample per class and trial"
                        )
                    seen[window.class_id] = window
                sliced = slice_gesture_samples(read_aedat31(recording), windows)
                folder = partial / trial
                folder.mkdir(parents=True)
                for sample in sliced.samples:
                    np.save(folder / f"{sample.label}.npy", tonic_sample_array(sample.events))
                n_samples += len(sliced.samples)
                report.skipped_empty.extend((trial, window) for window in sliced.skipped_empty)
            if not partial.exists():
                partial.mkdir()
            if final.exists():
                shutil.rmtree(final)
            os.replace(partial, final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        report.n_recordings[split] = len(trials)
        report.n_samples[split] = n_samples
    return report
