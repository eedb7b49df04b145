"""Events to dense frames, and a disk cache of converted frames.

:func:`to_frames` turns one sample of :data:`~snn.datasets.events.EVENT_DTYPE` events into a
``float32`` array ``(T, C, H, W)``:

1. optional denoising, ``tonic.transforms.Denoise(filter_time)``: an event is kept only if one of
   its 4 neighbours fired within ``filter_time`` us before it (on the full-resolution sensor;
   Tonic also keeps every event with ``t < filter_time``). It is a per-event Python loop, about
   1 s per 300k events: use it with the cache;
2. optional spatial downsampling by an integer ``factor``: :math:`x' = \\lfloor x / f \\rfloor`,
   :math:`y' = \\lfloor y / f \\rfloor` (exact integer pooling; the factor must divide the
   sensor's width and height);
3. event counts per time bin, polarity and pixel with ``tonic.transforms.ToFrame(n_time_bins=T)``.
   Tonic's rule: the window is :math:`w = \\lfloor (t_{last} - t_{first}) / T \\rfloor` us and an
   event falls in bin :math:`k = \\lfloor (t - t_{first}) / w \\rfloor`; events with
   :math:`k \\ge T` (the last fraction of a window at the end) are dropped. Where Tonic's
   window would be 0 us (events spanning fewer than ``T`` us, which Tonic turns into empty
   frames) the window is 1 us instead;
4. optional clipping of each count to ``clip``;
5. the representation (:data:`REPRESENTATIONS`): ``"counts"`` keeps one channel per polarity
   (channel 0 = OFF, 1 = ON, ``C = polarities``); ``"polarity"`` is one signed channel,
   ON count minus OFF count (``C = 1``).

The cache (:func:`load_or_build_frame_cache`) keeps all frames of one split in one HDF5 file
whose name carries a hash of the conversion options; files are written atomically and checked on
opening (options, cache version, source fingerprint, shapes), stale ones rebuilt, corrupt ones
reported and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from numpy.typing import NDArray

from snn.datasets.events import Events, check_events

SensorSize = tuple[int, int, int]
Frames = NDArray[np.float32]

#: the largest count Tonic's int16 frames hold; above it :func:`to_frames` counts in int64
_INT16_MAX = int(np.iinfo(np.int16).max)


@dataclass(frozen=True)
class Representation:
    """How per-polarity counts ``(T, P, H, W)`` become the channels of a frame."""

    name: str
    description: str
    channels: Callable[[int], int]
    encode: Callable[[NDArray[np.int64]], Frames]


def _counts(counts: NDArray[np.int64]) -> Frames:
    return counts.astype(np.float32)


def _signed_polarity(counts: NDArray[np.int64]) -> Frames:
    return (counts[:, 1:2] - counts[:, 0:1]).astype(np.float32)


def _one_channel(polarities: int) -> int:
    if polarities != 2:
        raise ValueError(
            f"representation 'polarity' needs a sensor with 2 polarities, not {polarities}"
        )
    return 1


#: frame representations by name
REPRESENTATIONS: dict[str, Representation] = {
    r.name: r
    for r in (
        Representation(
            "counts", "event counts per polarity: C = polarities (0 = OFF, 1 = ON)", int, _counts
        ),
        Representation(
            "polarity", "one signed channel: ON count - OFF count", _one_channel, _signed_polarity
        ),
    )
}


@dataclass(frozen=True)
class FrameOptions:
    """Everything that decides the frames of a sample; hashed into the cache key.

    ``n_time_bins``: frames per sample ``T``; ``downsample``: integer spatial pooling factor;
    ``denoise_filter_time``: Tonic's ``Denoise`` window in microseconds, or None for no
    denoising; ``representation``: a key of :data:`REPRESENTATIONS`; ``clip``: largest count per
    pixel, polarity and bin, or None.
    """

    n_time_bins: int
    downsample: int = 1
    denoise_filter_time: int | None = None
    representation: str = "counts"
    clip: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.n_time_bins, bool) or not isinstance(self.n_time_bins, int):
            raise ValueError(f"n_time_bins must be an int, got {self.n_time_bins!r}")
        if self.n_time_bins < 1:
            raise ValueError(f"n_time_bins must be >= 1, got {self.n_time_bins}")
        if not isinstance(self.downsample, int) or self.downsample < 1:
            raise ValueError(f"downsample must be an int >= 1, got {self.downsample!r}")
        if self.denoise_filter_time is not None and not self.denoise_filter_time > 0:
            raise ValueError(
                f"denoise_filter_time must be > 0 us or None, got {self.denoise_filter_time!r}"
            )
        if self.representation not in REPRESENTATIONS:
            raise ValueError(
                f"unknown representation {self.representation!r}; choose one of "
                f"{', '.join(REPRESENTATIONS)}"
            )
        if self.clip is not None and (not isinstance(self.clip, int) or self.clip < 1):
            raise ValueError(f"clip must be an int >= 1 or None, got {self.clip!r}")

    def output_sensor_size(self, sensor_size: SensorSize) -> SensorSize:
        """The sensor after downsampling, ``(width, height, polarities)``."""
        width, height, polarities = sensor_size
        factor = self.downsample
        if width % factor or height % factor:
            valid = [
                f for f in range(1, min(width, height) + 1) if not width % f and not height % f
            ]
            raise ValueError(
                f"downsample={factor} does not divide the {width}x{height} sensor; "
                f"use one of {valid}"
            )
        return (width // factor, height // factor, polarities)

    def channels(self, sensor_size: SensorSize) -> int:
        """Channels ``C`` of a frame from a sensor with ``sensor_size[2]`` polarities."""
        return REPRESENTATIONS[self.representation].channels(sensor_size[2])

    def frame_shape(self, sensor_size: SensorSize) -> tuple[int, int, int]:
        """``(C, H, W)`` of one frame."""
        width, height, _ = self.output_sensor_size(sensor_size)
        return (self.channels(sensor_size), height, width)

    def to_frames(self, events: Events, sensor_size: SensorSize) -> Frames:
        """:func:`to_frames` with these options."""
        return to_frames(events, sensor_size, **asdict(self))


def tonic_transforms() -> Any:
    """``tonic.transforms``, or a ``ModuleNotFoundError`` that says how to install Tonic."""
    try:
        import tonic.transforms
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"event frames need Tonic ({exc.name} is missing): pip install tonic"
        ) from exc
    return tonic.transforms


def _count_events(events: Events, sensor_size: SensorSize, n_time_bins: int) -> NDArray[np.int64]:
    """Counts ``(T, P, H, W)`` with Tonic's ``ToFrame(n_time_bins)`` binning."""
    width, height, polarities = sensor_size
    counts_shape = (n_time_bins, polarities, height, width)
    if events.size == 0:
        # Tonic returns (T, P, W, H) here, transposed for non-square sensors
        return np.zeros(counts_shape, dtype=np.int64)
    duration = int(events["t"][-1] - events["t"][0])
    pixel = (events["p"].astype(np.int64) * height + events["y"]) * width + events["x"]
    overflow = np.bincount(pixel).max() > _INT16_MAX
    if overflow:
        warnings.warn(
            f"a pixel has more than {_INT16_MAX} events, beyond Tonic's int16 frames; "
            "counting in int64 with the same binning",
            RuntimeWarning,
            stacklevel=3,
        )
    if overflow or duration < n_time_bins:
        # Tonic's window duration // n_time_bins is 0 us when the events span fewer
        # microseconds than there are bins, and would drop every event; 1 us bins keep them
        window = max(duration // n_time_bins, 1)
        time_bin = (events["t"] - events["t"][0]) // window
        inside = time_bin < n_time_bins
        flat = time_bin[inside] * (polarities * height * width) + pixel[inside]
        counts = np.bincount(flat, minlength=int(np.prod(counts_shape)))
        return counts.reshape(counts_shape)
    frames = tonic_transforms().ToFrame(sensor_size=sensor_size, n_time_bins=n_time_bins)(events)
    return np.asarray(frames, dtype=np.int64)


def to_frames(
    events: Events,
    sensor_size: SensorSize,
    n_time_bins: int,
    *,
    downsample: int = 1,
    denoise_filter_time: int | None = None,
    representation: str = "counts",
    clip: int | None = None,
) -> Frames:
    """Frames ``float32 (T, C, H, W)`` of one sample; the steps are in the module docstring.

    ``sensor_size`` is the full-resolution ``(width, height, polarities)`` of ``events``; the
    output has ``H = height // downsample``, ``W = width // downsample`` and ``C`` from the
    representation. Events must lie on the sensor, be sorted by time and have polarities
    ``0 <= p < polarities``, else ``ValueError``. No events give all-zero frames.
    """
    options = FrameOptions(n_time_bins, downsample, denoise_filter_time, representation, clip)
    check_events(events, sensor_size, what="to_frames events")
    if events.size and (events["p"].min() < 0 or events["p"].max() >= sensor_size[2]):
        raise ValueError(
            f"to_frames events: polarities in [{events['p'].min()}, {events['p'].max()}], "
            f"the sensor has {sensor_size[2]} (0 <= p < {sensor_size[2]})"
        )
    out_sensor = options.output_sensor_size(sensor_size)
    representation_ = REPRESENTATIONS[representation]
    representation_.channels(sensor_size[2])
    if denoise_filter_time is not None and events.size:
        events = tonic_transforms().Denoise(filter_time=denoise_filter_time)(events)
    events = events.copy()  # Tonic's ToFrame writes p in place for 1-polarity sensors
    if downsample > 1:
        events["x"] //= downsample
        events["y"] //= downsample
    counts = _count_events(events, out_sensor, n_time_bins)
    if clip is not None:
        np.minimum(counts, clip, out=counts)
    return representation_.encode(counts)


# ---------------------------------------------------------------------------------------------
# the cache
# ---------------------------------------------------------------------------------------------
#: bump when the cached content changes meaning; older files are then rebuilt
FRAME_CACHE_VERSION = 1
_CACHE_FORMAT = "snn-frame-cache"


class CorruptCacheError(ValueError):
    """A frame cache file that cannot be read (truncated, not HDF5, damaged chunks)."""


def frame_cache_key(description: Mapping[str, Any]) -> str:
    """16 hex digits of the SHA-256 of ``description`` as canonical JSON."""
    canonical = json.dumps(
        {"version": FRAME_CACHE_VERSION, **description}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def frame_cache_path(
    cache_dir: str | os.PathLike[str], name: str, split: str, description: Mapping[str, Any]
) -> Path:
    """``<cache_dir>/<name>-<split>-<key>.h5``: one file per dataset, split and options."""
    return Path(cache_dir) / f"{name}-{split}-{frame_cache_key(description)}.h5"


class FrameCacheReader:
    """Frames and labels of a cache file, read one sample at a time.

    The HDF5 file is opened lazily in each process (so that the reader survives being pickled
    into DataLoader workers). Reading a damaged chunk raises :class:`CorruptCacheError`.
    """

    def __init__(self, path: Path, labels: NDArray[np.int64]) -> None:
        self.path = path
        self.labels = labels
        self._file: h5py.File | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def _frames(self) -> h5py.Dataset:
        if self._file is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file["frames"]

    def __getitem__(self, index: int) -> tuple[Frames, int]:
        try:
            frames = self._frames()[index]
        except (OSError, KeyError, RuntimeError) as exc:
            raise CorruptCacheError(
                f"frame cache {self.path}: sample {index} cannot be read ({exc}); "
                "delete the file to rebuild it"
            ) from exc
        return frames, int(self.labels[index])

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        return state


def write_frame_cache(
    path: str | os.PathLike[str],
    description: Mapping[str, Any],
    fingerprint: str,
    frame_shape: tuple[int, ...],
    samples: int,
    compute_sample: Callable[[int], tuple[Frames, int]],
) -> None:
    """Compute ``samples`` samples one by one into a new cache file, atomically.

    The file is written beside ``path`` under a temporary name and renamed over ``path`` when
    complete (:func:`snn.io.atomic_write`), so readers never see a half-written cache.
    """
    from snn.io import atomic_write

    with atomic_write(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = _CACHE_FORMAT
        f.attrs["version"] = FRAME_CACHE_VERSION
        f.attrs["description"] = json.dumps(dict(description), sort_keys=True)
        f.attrs["fingerprint"] = fingerprint
        frames = f.create_dataset(
            "frames",
            shape=(samples, *frame_shape),
            dtype=np.float32,
            chunks=(1, *frame_shape),
            # uncompressed: lzf or gzip shrink sparse frames 10x but make reading 5-10x slower
            fletcher32=True,  # a damaged chunk fails its checksum instead of reading as garbage
        )
        labels = np.empty(samples, dtype=np.int64)
        for index in range(samples):
            sample_frames, labels[index] = compute_sample(index)
            if sample_frames.shape != tuple(frame_shape):
                raise ValueError(
                    f"sample {index} has frames of shape {sample_frames.shape}, "
                    f"the cache holds {tuple(frame_shape)}"
                )
            frames[index] = sample_frames
        f.create_dataset("labels", data=labels)


def open_frame_cache(
    path: str | os.PathLike[str],
    description: Mapping[str, Any],
    fingerprint: str,
    frame_shape: tuple[int, ...],
    samples: int,
) -> FrameCacheReader | None:
    """A reader of a valid cache file, or None when the file is stale.

    Stale: another cache version, other options (``description``) or other source files
    (``fingerprint``). Raises :class:`CorruptCacheError` naming the file for an unreadable
    file, a missing part, or frames/labels of the wrong shape.
    """
    file = Path(path)
    try:
        with h5py.File(file, "r") as f:
            if f.attrs.get("format") != _CACHE_FORMAT:
                raise CorruptCacheError(
                    f"frame cache {file}: not a frame cache (format attribute "
                    f"{f.attrs.get('format')!r}, expected {_CACHE_FORMAT!r})"
                )
            if int(f.attrs["version"]) != FRAME_CACHE_VERSION:
                return None
            if json.loads(str(f.attrs["description"])) != json.loads(
                json.dumps(dict(description), sort_keys=True)
            ):
                return None
            if str(f.attrs["fingerprint"]) != fingerprint:
                return None
            shape = f["frames"].shape
            labels = np.asarray(f["labels"][()], dtype=np.int64)
    except CorruptCacheError:
        raise
    except (OSError, KeyError, RuntimeError, ValueError, TypeError) as exc:
        # h5py reports truncated files, bad superblocks and broken object headers this way
        raise CorruptCacheError(f"frame cache {file}: unreadable or damaged ({exc})") from exc
    expected = (samples, *frame_shape)
    if shape != expected or labels.shape != (samples,):
        raise CorruptCacheError(
            f"frame cache {file}: frames {shape} and labels {labels.shape}, expected "
            f"{expected} and ({samples},)"
        )
    return FrameCacheReader(file, labels)


def load_or_build_frame_cache(
    path: str | os.PathLike[str],
    description: Mapping[str, Any],
    fingerprint: str,
    frame_shape: tuple[int, ...],
    samples: int,
    compute_sample: Callable[[int], tuple[Frames, int]],
) -> FrameCacheReader:
    """Open the cache at ``path``; build it first when it is missing, stale or corrupt.

    A corrupt file is reported with a ``RuntimeWarning`` that names it and the problem, then
    rebuilt.
    """
    file = Path(path)
    if file.exists():
        try:
            reader = open_frame_cache(file, description, fingerprint, frame_shape, samples)
        except CorruptCacheError as exc:
            warnings.warn(f"{exc}; recomputing the frames", RuntimeWarning, stacklevel=2)
            reader = None
        if reader is not None:
            return reader
    file.parent.mkdir(parents=True, exist_ok=True)
    write_frame_cache(file, description, fingerprint, frame_shape, samples, compute_sample)
    reader = open_frame_cache(file, description, fingerprint, frame_shape, samples)
    if reader is None:  # pragma: no cover - we just wrote it with these values
        raise RuntimeError(f"frame cache {file}: freshly written file does not match")
    return reader
