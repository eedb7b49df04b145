"""DVS128 Gesture for :func:`snn.training.train`: the real recordings or a synthetic stand-in.

Both come in Tonic's ``DVSGesture`` layout and are read by
:class:`snn.datasets.dvs_gesture.DVSGestureFrames` (frames ``(T, C, H, W)``, labels 0..10,
optionally through an HDF5 frame cache); :func:`snn.datasets.synthetic.generate_gesture_dataset`
writes the synthetic set into that layout first.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

from snn.training.distributed import DistributedContext

#: the default frame cache folder, inside the data root
DEFAULT_CACHE_FOLDER = "snn-frame-cache"


def generate_synthetic_gestures(
    root: str | os.PathLike[str],
    n_train: int,
    n_test: int | None = None,
    *,
    seed: int = 0,
    workers: int = 1,
) -> Path:
    """Write (or extend) a synthetic DVS gesture set under ``root``; ``n_test`` defaults to
    ``ceil(n_train / 4)``. Returns the ``DVSGesture`` folder."""
    from snn.datasets.synthetic import generate_gesture_dataset

    if n_test is None:
        n_test = math.ceil(n_train / 4)
    Path(root).mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # small splits: Tonic's own class would not open them, DVSGestureFrames does
        warnings.filterwarnings("ignore", message=".*only opens a split with.*")
        return generate_gesture_dataset(root, n_train, n_test, seed=seed, workers=workers)


def gesture_datasets(
    root: str | os.PathLike[str],
    *,
    time_bins: int = 16,
    downsample: int = 4,
    representation: str = "counts",
    denoise_filter_time: int | None = None,
    clip: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    ctx: DistributedContext | None = None,
) -> tuple[Any, Any]:
    """The train and test splits of DVS128 Gesture under ``root`` (Tonic's ``save_to``).

    Frames ``float32 (T, C, H, W)`` with ``T = time_bins``, ``H = W = 128 // downsample`` and
    ``C`` = 2 for ``representation="counts"``, 1 for ``"polarity"``
    (:mod:`snn.datasets.frames`). With ``cache_dir`` the frames are computed once into HDF5
    files there; under torchrun local rank 0 of each machine builds them while the others wait.
    """
    from snn.datasets.dvs_gesture import DVSGestureFrames

    options: dict[str, Any] = {
        "n_time_bins": time_bins,
        "downsample": downsample,
        "denoise_filter_time": denoise_filter_time,
        "representation": representation,
        "clip": clip,
        "cache_dir": cache_dir,
    }

    def open_splits() -> tuple[Any, Any]:
        return (
            DVSGestureFrames(root, train=True, **options),
            DVSGestureFrames(root, train=False, **options),
        )

    if ctx is None or not ctx.distributed or cache_dir is None:
        return open_splits()
    # local rank 0 of each machine writes the caches; the others open the finished files
    splits = ctx.on_each_machine(open_splits)
    return open_splits() if splits is None else splits
