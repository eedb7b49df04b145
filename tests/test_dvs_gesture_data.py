"""DVS128 Gesture feed: IBM release -> Tonic layout, frames, and the frame cache.

A fake IBM release is written in the exact on-disk formats (AEDAT 3.1 recordings, label CSVs,
trial lists); the converted folders are read back both by ``tonic.datasets.DVSGesture`` (the
reference) and by :class:`DVSGestureFrames`. Frames are compared with an independent
``np.add.at`` histogram that follows Tonic's ``ToFrame(n_time_bins)`` binning. Nothing is
downloaded.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from snn.datasets.aedat import convert_ibm_gesture
from snn.datasets.dvs_gesture import DVSGestureFrames, load_tonic_gesture_sample
from snn.datasets.events import Events, make_events
from snn.datasets.frames import FrameOptions, open_frame_cache, to_frames
from test_event_readers import write_aedat31

tonic = pytest.importorskip("tonic")

SENSOR = (128, 128, 2)
#: trial -> list of (class_id, start_us, end_us, n_events); n_events 0 makes an empty window
TRIALS = {
    "train": {
        "user01_fluorescent": [
            (1, 1_000_000, 2_000_000, 3000),
            (2, 2_500_000, 3_600_000, 2500),
            (11, 4_000_000, 4_800_000, 0),
        ],
        "user02_led": [(3, 2**31 - 400_000, 2**31 + 600_000, 4000), (1, 10_000, 900_000, 2000)],
    },
    "test": {
        "user24_lab": [(5, 500_000, 1_700_000, 3500), (10, 2_000_000, 2_900_000, 1500)],
    },
}


def gesture_events(rng: np.random.Generator, start: int, end: int, n: int) -> Events:
    """A blob moving across the sensor during [start, end), both polarities."""
    t = np.sort(rng.integers(start, end, n))
    phase = (t - start) / (end - start)
    x = np.clip(20 + 80 * phase + rng.normal(0, 6, n), 0, 127).astype(int)
    y = np.clip(64 + rng.normal(0, 10, n), 0, 127).astype(int)
    return make_events(x, y, t, rng.integers(0, 2, n))


def make_release(folder: Path, seed: int = 0) -> dict[str, Events]:
    """Write a fake ``DvsGesture/`` folder; returns the events of each window by
    ``split/trial/class index``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    truth: dict[str, Events] = {}
    for split, trials in TRIALS.items():
        (folder / f"trials_to_{split}.txt").write_text(
            "".join(f"{trial}.aedat\r\n" for trial in trials)
        )
        for trial, windows in trials.items():
            parts = [gesture_events(rng, 0, 10_000, 300)]  # background before the first label
            rows = ["class,startTime_usec,endTime_usec"]
            for class_id, start, end, n in windows:
                part = gesture_events(rng, start, end, n)
                parts.append(part)
                truth[f"{split}/{trial}/{class_id - 1}"] = part
                rows.append(f"{class_id},{start},{end}")
            events = np.concatenate(parts)
            events = events[np.argsort(events["t"], kind="stable")]
            write_aedat31(folder / f"{trial}.aedat", events, packet_size=512)
            (folder / f"{trial}_labels.csv").write_text("\r\n".join(rows) + "\r\n")
    return truth


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Events]]:
    base = tmp_path_factory.mktemp("gesture")
    truth = make_release(base / "DvsGesture")
    report = convert_ibm_gesture(base / "DvsGesture", base / "data")
    assert report.n_recordings == {"train": 2, "test": 1}
    assert report.n_samples == {"train": 4, "test": 2}
    assert [(trial, w.class_id) for trial, w in report.skipped_empty] == [
        ("user01_fluorescent", 11)
    ]
    flat = {key: events for key, events in truth.items() if len(events)}
    return base / "data", flat


def reference_counts(events: Events, sensor: tuple[int, int, int], n_bins: int) -> np.ndarray:
    """Tonic's n_time_bins rule written out: window w = (t_last - t_first) // T,
    bin k = (t - t_first) // w, events with k >= T dropped; np.add.at per (k, p, y, x)."""
    width, height, polarities = sensor
    frames = np.zeros((n_bins, polarities, height, width), dtype=np.int64)
    t = events["t"].astype(np.int64)
    window = (t[-1] - t[0]) // n_bins
    k = (t - t[0]) // window
    keep = k < n_bins
    np.add.at(frames, (k[keep], events["p"][keep], events["y"][keep], events["x"][keep]), 1)
    return frames


# ---------------------------------------------------------------------------------------------
# conversion to Tonic's layout
# ---------------------------------------------------------------------------------------------
def test_conversion_writes_tonic_layout(converted: tuple[Path, dict[str, Events]]) -> None:
    root, truth = converted
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.npy"))
    assert files == [
        "DVSGesture/ibmGestureTest/user24_lab/4.npy",
        "DVSGesture/ibmGestureTest/user24_lab/9.npy",
        "DVSGesture/ibmGestureTrain/user01_fluorescent/0.npy",
        "DVSGesture/ibmGestureTrain/user01_fluorescent/1.npy",
        "DVSGesture/ibmGestureTrain/user02_led/0.npy",
        "DVSGesture/ibmGestureTrain/user02_led/2.npy",
    ]
    table = np.load(root / "DVSGesture/ibmGestureTrain/user02_led/2.npy")
    expected = truth["train/user02_led/2"]
    assert table.dtype == np.int64 and table.shape == (len(expected), 4)
    np.testing.assert_array_equal(table[:, 0], expected["x"])
    np.testing.assert_array_equal(table[:, 1], expected["y"])
    np.testing.assert_array_equal(table[:, 2], expected["p"])
    np.testing.assert_array_equal(table[:, 3], expected["t"] // 1000)  # Tonic stores ms


def test_tonic_reads_the_converted_layout(
    converted: tuple[Path, dict[str, Events]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """tonic.datasets.DVSGesture itself (the reference loader) agrees with our loader."""
    root, truth = converted
    # Tonic wants its .tar.gz beside >= 100 files before it believes the data are there
    monkeypatch.setattr(tonic.datasets.DVSGesture, "_check_exists", lambda self: True)
    monkeypatch.setattr(
        tonic.datasets.DVSGesture, "download", lambda self: pytest.fail("tried to download")
    )
    for train, split in ((True, "train"), (False, "test")):
        reference = tonic.datasets.DVSGesture(str(root), train=train)
        ours = DVSGestureFrames(root, train=train, n_time_bins=4)
        assert len(reference) == len(ours) == sum(k.startswith(split) for k in truth)
        by_file = {Path(path): i for i, path in enumerate(reference.data)}
        for index, file in enumerate(ours.files):
            ref_events, ref_label = reference[by_file[file]]
            events = ours.events(index)
            assert ours.targets[index] == ref_label
            for field in ("x", "y", "t"):
                np.testing.assert_array_equal(events[field], ref_events[field])
            np.testing.assert_array_equal(events["p"], ref_events["p"].astype(np.int8))
            key = f"{split}/{file.parent.name}/{ref_label}"
            np.testing.assert_array_equal(events["t"], truth[key]["t"] // 1000 * 1000)
            assert ours.users[index] == int(file.parent.name[4:6])


def test_conversion_errors(tmp_path: Path) -> None:
    release = tmp_path / "DvsGesture"
    make_release(release)
    convert_ibm_gesture(release, tmp_path / "out")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        convert_ibm_gesture(release, tmp_path / "out")
    convert_ibm_gesture(release, tmp_path / "out", overwrite=True)

    (release / "user02_led_labels.csv").write_text(
        "class,startTime_usec,endTime_usec\n1,10000,20000\n1,30000,40000\n"
    )
    with pytest.raises(ValueError, match=r"user02_led_labels\.csv: class 1 labelled twice"):
        convert_ibm_gesture(release, tmp_path / "out2")
    assert not (tmp_path / "out2/DVSGesture/ibmGestureTrain").exists()  # nothing half-written
    assert not list((tmp_path / "out2/DVSGesture").glob(".*partial"))

    (release / "user02_led_labels.csv").write_text(
        "class,startTime_usec,endTime_usec\n1,10000,5000\n"
    )
    with pytest.raises(ValueError, match=r"line 2: window start 10000 us >= end 5000 us"):
        convert_ibm_gesture(release, tmp_path / "out2")
    (release / "user02_led_labels.csv").write_text(
        "class,startTime_usec,endTime_usec\n1,10000,50000\n"
    )

    (release / "trials_to_test.txt").write_text("user24_lab.aedat\nuser01_fluorescent.aedat\n")
    with pytest.raises(ValueError, match=r"user01_fluorescent listed in both"):
        convert_ibm_gesture(release, tmp_path / "out2")

    (release / "trials_to_test.txt").write_text("user24_lab.aedat\nuser30_led.aedat\n")
    with pytest.raises(FileNotFoundError, match=r"user30_led\.aedat: missing"):
        convert_ibm_gesture(release, tmp_path / "out2")


# ---------------------------------------------------------------------------------------------
# the frames dataset
# ---------------------------------------------------------------------------------------------
def test_missing_data_says_where_and_does_not_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    called: list[str] = []
    monkeypatch.setattr(tonic.datasets.DVSGesture, "download", lambda self: called.append(self.url))
    with pytest.raises(FileNotFoundError) as info:
        DVSGestureFrames(tmp_path, train=True)
    message = str(info.value)
    for needle in (
        str(tmp_path / "DVSGesture" / "ibmGestureTrain"),
        "userXX_<lighting>/<class 0..10>.npy",
        "convert_ibm_gesture",
        "trials_to_train.txt",
        "download=True",
    ):
        assert needle in message
    assert called == []
    # download=True hands over to Tonic's downloader (stubbed here: no network in tests)
    with pytest.raises(FileNotFoundError):
        DVSGestureFrames(tmp_path, train=True, download=True)
    assert called == [tonic.datasets.DVSGesture.train_url]


def test_frames_match_reference_histogram(converted: tuple[Path, dict[str, Events]]) -> None:
    root, _ = converted
    dataset = DVSGestureFrames(root, train=True, n_time_bins=8)
    assert dataset.sensor_size == (128, 128, 2)
    assert dataset.classes == tuple(tonic.datasets.DVSGesture.classes)
    assert (dataset.n_time_bins, dataset.channels, dataset.frame_shape) == (8, 2, (2, 128, 128))
    for index in range(len(dataset)):
        frames, label = dataset[index]
        assert frames.dtype == np.float32 and frames.shape == (8, 2, 128, 128)
        assert label == dataset.targets[index]
        expected = reference_counts(dataset.events(index), SENSOR, 8)
        np.testing.assert_array_equal(frames, expected)


def test_downsample_clip_and_polarity(converted: tuple[Path, dict[str, Events]]) -> None:
    root, _ = converted
    dataset = DVSGestureFrames(
        root / "DVSGesture",
        train=False,
        n_time_bins=5,
        downsample=4,
        clip=2,
        representation="polarity",
    )
    assert dataset.root == root  # the DVSGesture folder itself is accepted too
    assert (dataset.channels, dataset.frame_shape) == (1, (1, 32, 32))
    frames, _ = dataset[0]
    events = dataset.events(0)
    pooled = events.copy()
    pooled["x"] //= 4
    pooled["y"] //= 4
    counts = np.minimum(reference_counts(pooled, (32, 32, 2), 5), 2)
    np.testing.assert_array_equal(frames[:, 0], counts[:, 1] - counts[:, 0])
    assert frames.min() >= -2 and frames.max() <= 2


def test_works_with_a_torch_dataloader(
    converted: tuple[Path, dict[str, Events]], tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch")
    root, _ = converted
    dataset = DVSGestureFrames(root, train=True, n_time_bins=4, downsample=8, cache_dir=tmp_path)
    expected = dataset[1][0]  # the parent opens the cache before the workers start
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=2)
    batches = list(loader)
    frames = torch.cat([batch[0] for batch in batches])
    labels = torch.cat([batch[1] for batch in batches])
    assert tuple(frames.shape) == (4, 4, 2, 16, 16) and frames.dtype == torch.float32
    assert labels.tolist() == dataset.targets
    np.testing.assert_array_equal(frames[1].numpy(), expected)


# ---------------------------------------------------------------------------------------------
# to_frames on its own
# ---------------------------------------------------------------------------------------------
def test_to_frames_edge_cases() -> None:
    empty = make_events(*(np.zeros(0, dtype=int),) * 4)
    assert to_frames(empty, (40, 30, 2), 3).shape == (3, 2, 30, 40)  # (T, C, H, W), not W, H
    short = make_events(np.array([1, 2]), np.array([1, 2]), np.array([0, 2]), np.array([0, 1]))
    # 2 us in 3 bins: Tonic's window 2 // 3 = 0 us would drop both events; the window is 1 us
    frames = to_frames(short, (40, 30, 2), 3)
    assert frames.sum() == 2 and frames[0, 0, 1, 1] == 1 and frames[2, 1, 2, 2] == 1
    single = make_events(np.array([4]), np.array([5]), np.array([7]), np.array([1]))
    assert to_frames(single, (40, 30, 2), 2)[0, 1, 5, 4] == 1
    with pytest.raises(ValueError, match=r"downsample=3 does not divide the 40x30 sensor"):
        to_frames(short, (40, 30, 2), 1, downsample=3)
    with pytest.raises(ValueError, match=r"unknown representation 'binary'; choose one of counts"):
        to_frames(short, (40, 30, 2), 1, representation="binary")
    with pytest.raises(ValueError, match=r"x in \[1, 2\] lies outside the sensor width 2"):
        to_frames(short, (2, 30, 2), 1)
    with pytest.raises(ValueError, match=r"n_time_bins must be >= 1"):
        FrameOptions(0)


def test_to_frames_non_square_matches_reference() -> None:
    rng = np.random.default_rng(5)
    n = 5000
    events = make_events(
        rng.integers(0, 40, n),
        rng.integers(0, 30, n),
        np.sort(rng.integers(0, 10**6, n)),
        rng.integers(0, 2, n),
    )
    np.testing.assert_array_equal(
        to_frames(events, (40, 30, 2), 7), reference_counts(events, (40, 30, 2), 7)
    )


def test_to_frames_counts_beyond_int16() -> None:
    """Tonic accumulates in int16; a pixel with more events is counted exactly in int64."""
    n = 40_000
    events = make_events(np.full(n, 3), np.full(n, 4), np.arange(n) * 10, np.ones(n, dtype=int))
    with pytest.warns(RuntimeWarning, match="beyond Tonic's int16 frames"):
        frames = to_frames(events, (8, 8, 2), 1)
    np.testing.assert_array_equal(frames, reference_counts(events, (8, 8, 2), 1))
    assert frames[0, 1, 4, 3] == n - 1  # Tonic's rule drops the event at t_last


def test_to_frames_denoise() -> None:
    """Tonic's Denoise keeps an event only if a 4-neighbour fired within filter_time before."""
    events = make_events(
        np.array([5, 6, 30, 6]),
        np.array([5, 5, 20, 6]),
        np.array([20_000, 20_500, 21_000, 40_000]),
        np.array([1, 1, 0, 0]),
    )
    frames = to_frames(events, (64, 64, 2), 1, denoise_filter_time=1_000)
    # only (6, 5) survives: its neighbour (5, 5) fired 500 us before
    assert frames.sum() == 1 and frames[0, 1, 5, 6] == 1


# ---------------------------------------------------------------------------------------------
# the cache
# ---------------------------------------------------------------------------------------------
def _no_conversion(self: DVSGestureFrames, index: int) -> tuple[np.ndarray, int]:
    raise AssertionError(f"sample {index} was converted; it should come from the cache")


def test_cache_round_trip_and_key(
    converted: tuple[Path, dict[str, Events]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = converted
    direct = DVSGestureFrames(root, n_time_bins=6, downsample=2)
    cached = DVSGestureFrames(root, n_time_bins=6, downsample=2, cache_dir=tmp_path)
    path = cached.cache_path
    assert (
        path is not None and path.parent == tmp_path and path.name.startswith("dvsgesture-train-")
    )
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    expected = [direct[index] for index in range(len(direct))]
    with monkeypatch.context() as patch:
        patch.setattr(DVSGestureFrames, "convert", _no_conversion)
        again = DVSGestureFrames(root, n_time_bins=6, downsample=2, cache_dir=tmp_path)
        for index, (expected_frames, expected_label) in enumerate(expected):
            frames, label = again[index]
            np.testing.assert_array_equal(frames, expected_frames)
            assert label == expected_label
    other = DVSGestureFrames(root, n_time_bins=6, downsample=2, clip=1, cache_dir=tmp_path)
    test = DVSGestureFrames(root, train=False, n_time_bins=6, downsample=2, cache_dir=tmp_path)
    assert len({path, other.cache_path, test.cache_path}) == 3  # one file per split and options
    assert float(other[0][0].max()) == 1.0


def test_stale_and_corrupt_caches_are_rebuilt(
    converted: tuple[Path, dict[str, Events]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    shutil.copytree(converted[0], root)  # this test edits a sample file
    options = {"n_time_bins": 3, "downsample": 4}
    first = DVSGestureFrames(root, cache_dir=tmp_path, **options)  # type: ignore[arg-type]
    path = first.cache_path
    assert path is not None
    reference = [first[i][0] for i in range(len(first))]
    first.close()  # HDF5 refuses to open a file for writing that this process has open
    conversions: list[int] = []
    convert = DVSGestureFrames.convert

    def counted(self: DVSGestureFrames, index: int) -> tuple[np.ndarray, int]:
        conversions.append(index)
        return convert(self, index)

    monkeypatch.setattr(DVSGestureFrames, "convert", counted)

    # the options recorded in the file differ from those of its name: stale, rebuilt silently
    with h5py.File(path, "r+") as f:
        description = json.loads(f.attrs["description"])
        description["options"]["n_time_bins"] = 9
        f.attrs["description"] = json.dumps(description, sort_keys=True)
    rebuilt = DVSGestureFrames(root, cache_dir=tmp_path, **options)  # type: ignore[arg-type]
    assert conversions == [0, 1, 2, 3]
    assert open_frame_cache(
        path, rebuilt.cache_description(), rebuilt.source_fingerprint(), (3, 2, 32, 32), 4
    )
    np.testing.assert_array_equal(rebuilt[1][0], reference[1])
    rebuilt.close()

    # a source file changed (size or modification time): stale as well
    sample = rebuilt.files[3]
    np.save(sample, np.load(sample)[:-1])
    conversions.clear()
    changed = DVSGestureFrames(root, cache_dir=tmp_path, **options)  # type: ignore[arg-type]
    assert conversions == [0, 1, 2, 3]
    changed.close()

    # not an HDF5 file at all: a warning that names it, then rebuilt
    path.write_bytes(b"this is not HDF5" * 100)
    with pytest.warns(RuntimeWarning, match=rf"frame cache {path}: unreadable or damaged"):
        repaired = DVSGestureFrames(root, cache_dir=tmp_path, **options)  # type: ignore[arg-type]
    np.testing.assert_array_equal(repaired[2][0], reference[2])

    # a damaged chunk fails its checksum on reading: a warning, and the sample is recomputed
    with h5py.File(path, "r") as f:
        chunk = f["frames"].id.get_chunk_info(0)
    with open(path, "r+b") as handle:
        handle.seek(chunk.byte_offset + chunk.size // 2)
        handle.write(b"\xff\x00\xff\x00")
    damaged = DVSGestureFrames(root, cache_dir=tmp_path, **options)  # type: ignore[arg-type]
    with pytest.warns(RuntimeWarning, match=r"sample 0 cannot be read"):
        frames, _ = damaged[0]
    np.testing.assert_array_equal(frames, reference[0])


def test_cache_is_much_faster_than_conversion(tmp_path: Path) -> None:
    """Median time per sample: conversion from events vs reading the cache (DVS Gesture-sized
    samples: ~120k events over ~6 s)."""
    rng = np.random.default_rng(11)
    folder = tmp_path / "data/DVSGesture/ibmGestureTrain/user01_led"
    folder.mkdir(parents=True)
    for label in range(6):
        events = gesture_events(rng, 0, 6_000_000, 120_000)
        table = np.stack([events["x"], events["y"], events["p"], events["t"] // 1000], axis=1)
        np.save(folder / f"{label}.npy", table.astype(np.int64))
    dataset = DVSGestureFrames(tmp_path / "data", n_time_bins=16, downsample=4, cache_dir=tmp_path)

    def median_seconds(load: object) -> float:
        times = []
        for index in range(len(dataset)):
            start = time.perf_counter()
            load(index)  # type: ignore[operator]
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    convert = median_seconds(dataset.convert)
    cached = median_seconds(dataset.__getitem__)
    assert convert > 5 * cached, f"conversion {convert * 1e3:.2f} ms, cache {cached * 1e3:.2f} ms"


def test_load_tonic_sample_rejects_bad_arrays(tmp_path: Path) -> None:
    path = tmp_path / "3.npy"
    np.save(path, np.zeros((5, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"3\.npy: array of shape \(5, 3\)"):
        load_tonic_gesture_sample(path)
    np.save(path, np.array([[200, 1, 1, 5]], dtype=np.int64))
    with pytest.raises(ValueError, match=r"x in \[200, 200\]"):
        load_tonic_gesture_sample(path)
