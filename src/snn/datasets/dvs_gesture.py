"""DVS128 Gesture as frames: Tonic's on-disk layout in, ``(frames, label)`` out.

The data live in Tonic's ``DVSGesture`` layout::

    <root>/DVSGesture/ibmGestureTrain/userXX_<lighting>/<class index>.npy
    <root>/DVSGesture/ibmGestureTest/userXX_<lighting>/<class index>.npy

either extracted from Tonic's archives (``ibmGestureTrain.tar.gz``, ``ibmGestureTest.tar.gz``)
or converted from IBM's original release with :func:`snn.datasets.aedat.convert_ibm_gesture`.
Each ``.npy`` is an ``(N, 4)`` array of ``x, y, p, t`` with ``t`` in milliseconds.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from snn.datasets.aedat import DVS128_SENSOR_SIZE, TONIC_SPLIT_FOLDERS, in_time_order
from snn.datasets.events import Events, make_events
from snn.datasets.frames import (
    CorruptCacheError,
    FrameCacheReader,
    FrameOptions,
    Frames,
    frame_cache_path,
    load_or_build_frame_cache,
)

#: the 11 class names, in class-index order (as ``tonic.datasets.DVSGesture.classes``)
GESTURE_CLASSES: tuple[str, ...] = (
    "Hand clapping",
    "Right hand wave",
    "Left hand wave",
    "Right arm cw",
    "Right arm ccw",
    "Left arm cw",
    "Left arm ccw",
    "Arm roll",
    "Air drums",
    "Air guitar",
    "Other gestures",
)


def missing_data_message(save_to: Path, split: str) -> str:
    """Where the DVS128 Gesture files go, in which layout, and how to get them."""
    folder = save_to / "DVSGesture" / TONIC_SPLIT_FOLDERS[split]
    return (
        f"DVS128 Gesture {split} split not found: no .npy sample under {folder}.\n"
        "Put the data in one of these ways (nothing is downloaded unless download=True):\n"
        f"  1. Tonic's layout: extract ibmGestureTrain.tar.gz and ibmGestureTest.tar.gz (Tonic's "
        f"copy on figshare) into {save_to / 'DVSGesture'}/, giving "
        f"{save_to / 'DVSGesture'}/ibmGestureTrain/userXX_<lighting>/<class 0..10>.npy;\n"
        "  2. IBM's original release: unpack DvsGesture.tar.gz (userXX_<lighting>.aedat, "
        "userXX_<lighting>_labels.csv, trials_to_train.txt, trials_to_test.txt) and run "
        f"snn.datasets.aedat.convert_ibm_gesture('<path>/DvsGesture', '{save_to}');\n"
        "  3. pass download=True to let tonic.datasets.DVSGesture download Tonic's archives."
    )


def load_tonic_gesture_sample(path: str | os.PathLike[str]) -> Events:
    """One sample ``.npy`` of Tonic's layout as :data:`EVENT_DTYPE` events.

    Same conversion as ``tonic.datasets.DVSGesture.__getitem__``: columns ``x, y, p, t``,
    ``t`` multiplied by 1000 (ms to us), ``p`` nonzero = ON.
    """
    file = os.fspath(path)
    table = np.load(file)
    if table.ndim != 2 or table.shape[1] != 4:
        raise ValueError(
            f"{file}: array of shape {table.shape}; a DVSGesture sample is (N, 4): x, y, p, t [ms]"
        )
    events = make_events(
        x=table[:, 0].astype(np.int64),
        y=table[:, 1].astype(np.int64),
        t=(table[:, 3] * 1000).astype(np.int64),
        p=(table[:, 2] != 0).astype(np.int64),
    )
    return in_time_order(events, DVS128_SENSOR_SIZE, file)


def _tonic_datasets() -> Any:
    try:
        import tonic.datasets
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"DVSGestureFrames needs Tonic ({exc.name} is missing): pip install tonic"
        ) from exc
    return tonic.datasets


def _offline_tonic_class() -> type:
    """``tonic.datasets.DVSGesture`` that indexes files already on disk and never downloads."""
    tonic_datasets = _tonic_datasets()

    # the name must stay DVSGesture: Tonic derives the folder <save_to>/DVSGesture from it
    class DVSGesture(tonic_datasets.DVSGesture):  # type: ignore[name-defined]
        def _check_exists(self) -> bool:
            return True

        def download(self) -> None:
            raise RuntimeError("DVSGestureFrames indexes files on disk; it does not download here")

    return DVSGesture


class DVSGestureFrames:
    """DVS128 Gesture samples as frames: ``dataset[i] -> (float32 (T, C, H, W), label 0..10)``.

    A map-style dataset (``len`` and indexing) that ``torch.utils.data.DataLoader`` batches
    directly. ``root`` is Tonic's ``save_to`` folder (holding ``DVSGesture/``) or the
    ``DVSGesture`` folder itself. Files are indexed with ``tonic.datasets.DVSGesture`` and sorted
    by user, lighting and class; frames are made with :func:`snn.datasets.frames.to_frames` (see
    there for binning, ``downsample``, ``denoise_filter_time`` in microseconds,
    ``representation`` and ``clip``).

    Attributes: ``sensor_size`` (the native ``(128, 128, 2)``), ``classes`` (11 names),
    ``n_time_bins``, ``channels`` (2 for ``"counts"``: OFF, ON; 1 for ``"polarity"``: ON - OFF),
    ``frame_shape`` ``(C, H, W)``, ``targets``, ``users``, ``lighting``, ``files``.

    With ``cache_dir``, all frames of the split are computed once into one HDF5 file per split
    and options (:func:`snn.datasets.frames.load_or_build_frame_cache`) and read from there.
    Without files on disk nothing is downloaded unless ``download=True``; a
    ``FileNotFoundError`` says where to put them.
    """

    sensor_size = DVS128_SENSOR_SIZE
    classes = GESTURE_CLASSES

    def __init__(
        self,
        root: str | os.PathLike[str],
        train: bool = True,
        *,
        n_time_bins: int = 16,
        downsample: int = 1,
        denoise_filter_time: int | None = None,
        representation: str = "counts",
        clip: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        download: bool = False,
    ) -> None:
        self.options = FrameOptions(
            n_time_bins, downsample, denoise_filter_time, representation, clip
        )
        self.split = "train" if train else "test"
        self.n_time_bins = n_time_bins
        self.channels = self.options.channels(self.sensor_size)
        self.frame_shape = self.options.frame_shape(self.sensor_size)
        root_path = Path(root).expanduser()
        is_dvsgesture_folder = root_path.name == "DVSGesture" and any(
            (root_path / folder).is_dir() for folder in TONIC_SPLIT_FOLDERS.values()
        )
        self.root = root_path.parent if is_dvsgesture_folder else root_path
        self.split_dir = self.root / "DVSGesture" / TONIC_SPLIT_FOLDERS[self.split]
        self._index(download)
        self._cache: FrameCacheReader | None = None
        if cache_dir is not None:
            self._cache = self._open_cache(Path(cache_dir))

    def _index(self, download: bool) -> None:
        has_files = self.split_dir.is_dir() and next(self.split_dir.rglob("*.npy"), None)
        if has_files:
            tonic_dataset = _offline_tonic_class()(str(self.root), train=self.split == "train")
        elif download:
            tonic_dataset = _tonic_datasets().DVSGesture(
                str(self.root), train=self.split == "train"
            )
        else:
            raise FileNotFoundError(missing_data_message(self.root, self.split))
        # Tonic lists files in os.walk order, which differs between file systems
        order = sorted(
            range(len(tonic_dataset.data)),
            key=lambda i: (
                tonic_dataset.users[i],
                tonic_dataset.lighting[i],
                tonic_dataset.targets[i],
            ),
        )
        self.files = [Path(tonic_dataset.data[i]) for i in order]
        self.targets = [int(tonic_dataset.targets[i]) for i in order]
        self.users = [int(tonic_dataset.users[i]) for i in order]
        self.lighting = [str(tonic_dataset.lighting[i]) for i in order]
        bad = [
            f for f, target in zip(self.files, self.targets, strict=True) if not 0 <= target < 11
        ]
        if bad:
            raise ValueError(f"{bad[0]}: the file name is not a class index 0..10")
        if not self.files:
            raise FileNotFoundError(missing_data_message(self.root, self.split))

    def source_fingerprint(self) -> str:
        """Hash of the sample files' relative paths, sizes and modification times."""
        digest = hashlib.sha256()
        for file in self.files:
            stat = file.stat()
            digest.update(
                f"{file.relative_to(self.split_dir)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode()
            )
        return digest.hexdigest()

    def cache_description(self) -> dict[str, Any]:
        """What the cache key is made of: dataset, split, sensor and frame options."""
        return {
            "dataset": "DVSGesture",
            "split": self.split,
            "sensor_size": list(self.sensor_size),
            "options": asdict(self.options),
        }

    def _open_cache(self, cache_dir: Path) -> FrameCacheReader:
        description = self.cache_description()
        path = frame_cache_path(cache_dir, "dvsgesture", self.split, description)
        return load_or_build_frame_cache(
            path,
            description,
            self.source_fingerprint(),
            (self.n_time_bins, *self.frame_shape),
            len(self.files),
            self.convert,
        )

    @property
    def cache_path(self) -> Path | None:
        """The cache file in use, or None."""
        return None if self._cache is None else self._cache.path

    def close(self) -> None:
        """Close this process's handle on the cache file (reopened on the next read)."""
        if self._cache is not None:
            self._cache.close()

    def __len__(self) -> int:
        return len(self.files)

    def events(self, index: int) -> Events:
        """The raw events of sample ``index`` (microseconds, :data:`EVENT_DTYPE`)."""
        return load_tonic_gesture_sample(self.files[index])

    def convert(self, index: int) -> tuple[Frames, int]:
        """Frames and label of sample ``index`` computed from its events (no cache)."""
        frames = self.options.to_frames(self.events(index), self.sensor_size)
        return frames, self.targets[index]

    def __getitem__(self, index: int) -> tuple[Frames, int]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"sample {index} out of range for {len(self)} samples")
        index %= len(self)
        if self._cache is not None:
            try:
                return self._cache[index]
            except CorruptCacheError as exc:
                warnings.warn(f"{exc}; recomputing this sample", RuntimeWarning, stacklevel=2)
        return self.convert(index)
