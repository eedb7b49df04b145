"""The synthetic DVS gesture set: emulator against closed forms, scenes, Tonic's on-disk layout.

Closed forms used (``L = ln I`` with ``log_eps = 0``):

* exponential ramp ``I(t) = I0 exp(k t)``: ``L`` is linear, so the ``n``-th ON event is at
  ``t_n = n theta / k`` exactly and ``floor(k T / theta)`` events fire by ``T``;
* with ``log_eps = eps > 0``: ``t_n = ln((exp(ln(I0 + eps) + n theta) - eps) / I0) / k``;
* a constant scene emits only the Poisson background, ``rate * pixels * duration`` events.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from snn.datasets.events import EVENT_DTYPE, check_events
from snn.datasets.synthetic import (
    GESTURE_CLASSES,
    DVSEmulator,
    DVSGestureFolder,
    SyntheticGestureConfig,
    generate_gesture_dataset,
    read_gesture_npy,
    render_gesture,
    synthetic_gesture_sample,
)

QUIET = {"threshold_sigma": 0.0, "noise_rate": 0.0, "refractory_period": 0.0}

#: a small, short set: fast to generate, same motions as the default 128 x 128
SMALL = SyntheticGestureConfig(sensor_size=(48, 48, 2), duration=(0.9, 1.1))


def _ramp(
    i0: float, k: float, duration: float, dt: float, shape: tuple[int, int] = (1, 1)
) -> tuple[np.ndarray, np.ndarray]:
    times = np.arange(0.0, duration + dt / 2, dt)
    frames = i0 * np.exp(k * times)[:, None, None] * np.ones(shape)
    return frames, times


@pytest.mark.parametrize("k", [3.0, -2.5])
def test_exponential_ramp_fires_at_closed_form_times(k: float) -> None:
    theta, duration = 0.2, 1.0
    frames, times = _ramp(0.5, k, duration, dt=0.01)
    emulator = DVSEmulator(threshold_on=theta, threshold_off=theta, log_eps=0.0, **QUIET)
    events = emulator.emulate(frames, times, np.random.default_rng(0))
    n = np.arange(1, int(abs(k) * duration / theta + 1e-9) + 1)
    expected_us = n * theta / abs(k) * 1e6
    assert len(events) == len(n)
    np.testing.assert_allclose(events["t"], expected_us, atol=1.0)
    assert np.all(events["p"] == (1 if k > 0 else 0))


def test_ramp_with_log_offset_matches_closed_form() -> None:
    i0, k, eps, theta = 0.05, 4.0, 0.02, 0.15
    frames, times = _ramp(i0, k, 1.0, dt=1e-3)
    emulator = DVSEmulator(threshold_on=theta, log_eps=eps, **QUIET)
    events = emulator.emulate(frames, times, np.random.default_rng(0))
    l_end = np.log(i0 * np.exp(k) + eps)
    n = np.arange(1, int((l_end - np.log(i0 + eps)) / theta) + 1)
    expected_s = np.log((np.exp(np.log(i0 + eps) + n * theta) - eps) / i0) / k
    assert len(events) == len(n)
    # linear interpolation of ln(I + eps) between 1 ms frames: error well under 10 us here
    np.testing.assert_allclose(events["t"], expected_s * 1e6, atol=10.0)


def test_step_spanning_several_thresholds_gives_interpolated_burst() -> None:
    frames = np.stack([np.full((2, 3), 0.1), np.full((2, 3), 0.1 * np.exp(1.0))])
    times = np.array([0.0, 0.01])
    emulator = DVSEmulator(threshold_on=0.3, log_eps=0.0, **QUIET)
    events = emulator.emulate(frames, times, np.random.default_rng(0))
    assert len(events) == 3 * 6  # floor(1.0 / 0.3) per pixel
    per_pixel = np.sort(np.unique(events["t"]))
    np.testing.assert_allclose(per_pixel, np.array([0.3, 0.6, 0.9]) * 1e4, atol=1.0)


def test_per_pixel_threshold_mismatch_sets_event_counts() -> None:
    k, duration = 3.0, 1.0
    frames, times = _ramp(0.2, k, duration, dt=0.01, shape=(20, 30))
    emulator = DVSEmulator(threshold_on=0.2, threshold_sigma=0.04, log_eps=0.0, noise_rate=0.0)
    on, off = emulator.pixel_thresholds(20, 30, np.random.default_rng(5))
    assert abs(on.std() - 0.04) < 0.01 and abs(off.mean() - 0.2) < 0.01
    events = emulator.emulate(frames, times, np.random.default_rng(1), thresholds=(on, off))
    counts = np.bincount(events["y"] * 30 + events["x"], minlength=600).reshape(20, 30)
    np.testing.assert_array_equal(counts, np.floor(k * duration / on + 1e-9).astype(int))


def test_refractory_period_drops_events_greedily() -> None:
    theta, k, refractory = 0.2, 20.0, 0.025  # crossings every 10 ms
    frames, times = _ramp(0.5, k, 0.5, dt=0.002)
    emulator = DVSEmulator(
        threshold_on=theta,
        log_eps=0.0,
        refractory_period=refractory,
        threshold_sigma=0.0,
        noise_rate=0.0,
    )
    events = emulator.emulate(frames, times, np.random.default_rng(0))
    crossings = np.arange(1, int(k * 0.5 / theta + 1e-9) + 1) * theta / k
    kept, last = [], -np.inf
    for t in crossings:
        if t - last >= refractory:
            kept.append(t)
            last = t
    np.testing.assert_allclose(events["t"], np.array(kept) * 1e6, atol=1.0)
    assert np.diff(events["t"]).min() >= refractory * 1e6 - 1


def test_constant_scene_gives_only_poisson_background() -> None:
    height, width, duration, rate = 24, 32, 2.0, 4.0
    frames = np.full((3, height, width), 0.3)
    times = np.array([0.0, 1.0, duration])
    events = DVSEmulator(noise_rate=rate).emulate(frames, times, np.random.default_rng(3))
    check_events(events, (width, height, 2))
    expected = rate * height * width * duration
    assert abs(len(events) - expected) < 5 * np.sqrt(expected)
    assert abs(events["p"].mean() - 0.5) < 5 * 0.5 / np.sqrt(expected)
    # uniform in time: each half of the recording holds half the events
    first_half = np.count_nonzero(events["t"] < duration / 2 * 1e6)
    assert abs(first_half - len(events) / 2) < 5 * np.sqrt(len(events)) / 2
    per_pixel = np.bincount(events["y"] * width + events["x"], minlength=height * width)
    assert abs(per_pixel.var() / per_pixel.mean() - 1.0) < 0.25  # Poisson: variance = mean


def test_hot_pixels_fire_at_their_rate_with_one_polarity() -> None:
    emulator = DVSEmulator(noise_rate=0.0, hot_pixel_fraction=0.02, hot_pixel_rate=200.0)
    events = emulator.noise_events(40, 50, 0.0, 1.0, np.random.default_rng(2))
    pixels, inverse, counts = np.unique(
        events["y"].astype(int) * 50 + events["x"], return_inverse=True, return_counts=True
    )
    assert abs(len(pixels) - 40) < 5 * np.sqrt(40)
    assert abs(counts.mean() - 200.0) < 5 * np.sqrt(200.0 / len(pixels))
    for i in range(len(pixels)):
        assert len(np.unique(events["p"][inverse == i])) == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold_on": 0.0}, "threshold_on"),
        ({"noise_rate": -1.0}, "noise_rate"),
        ({"refractory_period": float("nan")}, "refractory_period"),
        ({"hot_pixel_fraction": 2.0}, "hot_pixel_fraction"),
    ],
)
def test_emulator_rejects_bad_parameters(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DVSEmulator(**kwargs)


def test_emulator_rejects_bad_input() -> None:
    emulator = DVSEmulator()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="strictly increasing"):
        emulator.emulate(np.ones((2, 4, 4)), np.array([0.0, 0.0]), rng)
    with pytest.raises(ValueError, match=r"\(T, H, W\)"):
        emulator.emulate(np.ones((4, 4)), np.array([0.0, 1.0]), rng)
    with pytest.raises(ValueError, match=">= 0"):
        emulator.emulate(-np.ones((2, 4, 4)), np.array([0.0, 1.0]), rng)


def test_classes_follow_tonic() -> None:
    tonic = pytest.importorskip("tonic")
    assert list(GESTURE_CLASSES) == list(tonic.datasets.DVSGesture.classes)


def test_samples_are_pure_functions_of_seed_split_index() -> None:
    a, label = synthetic_gesture_sample(14, seed=7, config=SMALL)
    b, _ = synthetic_gesture_sample(14, seed=7, config=SMALL)
    c, _ = synthetic_gesture_sample(14, seed=7, split="test", config=SMALL)
    d, _ = synthetic_gesture_sample(14, seed=8, config=SMALL)
    assert label == 14 % 11 and a.dtype == EVENT_DTYPE
    check_events(a, SMALL.sensor_size)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, d)


def test_config_and_sample_reject_bad_choices() -> None:
    with pytest.raises(ValueError, match=r"\(width, height, 2\)"):
        SyntheticGestureConfig(sensor_size=(128, 128, 1))
    with pytest.raises(ValueError, match="duration"):
        SyntheticGestureConfig(duration=(1.5, 1.0))
    with pytest.raises(ValueError, match=r"\['test', 'train'\]"):
        synthetic_gesture_sample(0, split="validation")
    with pytest.raises(ValueError, match="Right arm cw"):
        render_gesture(11, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown field"):
        SyntheticGestureConfig.from_dict({"resolution": 64})


def _accumulated(events: np.ndarray, config: SyntheticGestureConfig, pool: int = 4) -> np.ndarray:
    width, height, _ = config.sensor_size
    image = np.zeros((2, height // pool, width // pool))
    np.add.at(image, (events["p"], events["y"] // pool, events["x"] // pool), 1.0)
    return (image / image.sum()).ravel()


def _angular_momentum(events: np.ndarray, config: SyntheticGestureConfig, side: int) -> float:
    """Sum of ``r x dr`` of the per-50-ms event centroid on one half (> 0: clockwise on image)."""
    width = config.sensor_size[0]
    half = events[(events["x"] >= width // 2) == (side > 0)]
    bins = half["t"] // 50_000
    centroids = np.array(
        [
            [np.median(half["x"][bins == b]), np.median(half["y"][bins == b])]
            for b in np.unique(bins)
            if np.count_nonzero(bins == b) > 20
        ]
    )
    r = centroids - centroids.mean(axis=0)
    dr = np.diff(r, axis=0)
    return float(np.sum(r[:-1, 0] * dr[:, 1] - r[:-1, 1] * dr[:, 0]))


@pytest.mark.parametrize(("cw", "side"), [(3, +1), (5, -1)])
def test_cw_and_ccw_differ_only_in_time(cw: int, side: int) -> None:
    """Accumulated images cannot tell cw from ccw; the time course of the centroid can."""
    n_each = 24
    samples = [
        (synthetic_gesture_sample(label + 11 * k, seed=3, config=SMALL)[0], label)
        for k in range(n_each)
        for label in (cw, cw + 1)
    ]
    features = np.array([_accumulated(ev, SMALL) for ev, _ in samples])
    labels = np.array([label == cw for _, label in samples])
    correct = 0
    for i in range(len(samples)):  # leave-one-out nearest centroid
        rest = np.arange(len(samples)) != i
        centroid_cw = features[rest & labels].mean(axis=0)
        centroid_ccw = features[rest & ~labels].mean(axis=0)
        guess = np.linalg.norm(features[i] - centroid_cw) < np.linalg.norm(
            features[i] - centroid_ccw
        )
        correct += guess == labels[i]
    assert correct / len(samples) < 0.72  # chance is 0.5; 0.72 is > 3 sd above it at n = 48
    momentum = np.array([_angular_momentum(ev, SMALL, side) for ev, _ in samples])
    assert np.mean((momentum > 0) == labels) >= 0.95


def test_written_set_opens_in_tonic_without_download(tmp_path: Path) -> None:
    tonic = pytest.importorskip("tonic")
    config = SyntheticGestureConfig(sensor_size=(24, 24, 2), duration=(0.15, 0.25))
    with pytest.warns(UserWarning, match="DVSGestureFolder"):
        folder = generate_gesture_dataset(tmp_path, n_train=100, n_test=12, seed=4, config=config)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["seed"] == 4 and manifest["splits"]["train"]["n_samples"] == 100
    assert SyntheticGestureConfig.from_dict(manifest["config"]) == config

    dataset = tonic.datasets.DVSGesture(save_to=str(tmp_path), train=True)
    assert len(dataset) == 100
    assert sorted(dataset.targets) == sorted(i % 11 for i in range(100))
    index = dataset.data.index(str(folder / "ibmGestureTrain" / "user01_lab" / "3.npy"))
    events, target = dataset[index]
    ours, label = synthetic_gesture_sample(25, seed=4, config=config)
    assert target == label == 3
    np.testing.assert_array_equal(events["x"], ours["x"])
    np.testing.assert_array_equal(events["p"], ours["p"] == 1)
    np.testing.assert_array_equal(events["t"], ours["t"] // 1000 * 1000)

    # fewer than Tonic's 100 files: our reader opens the split, in the project dtype
    test_split = DVSGestureFolder(tmp_path, train=False)
    assert len(test_split) == 12 and set(test_split.users) == {1}
    assert test_split.sensor_size == (24, 24, 2)
    assert test_split.lighting[-1] == "fluorescent_led"
    events, target = test_split[0]
    assert events.dtype == EVENT_DTYPE and target == 0

    # complete files are skipped on a rerun; a different seed under the same root is refused
    path = folder / "ibmGestureTest" / "user01_fluorescent" / "0.npy"
    before = path.stat().st_mtime_ns
    with pytest.warns(UserWarning):
        generate_gesture_dataset(tmp_path, n_train=100, n_test=12, seed=4, config=config)
    assert path.stat().st_mtime_ns == before
    with pytest.raises(ValueError, match="seed=4"):
        generate_gesture_dataset(tmp_path, n_train=100, n_test=12, seed=5, config=config)

    # a DVSGesture folder without our manifest (e.g. the real download) is never written into
    foreign = tmp_path / "real" / "DVSGesture" / "ibmGestureTrain" / "user24_led"
    foreign.mkdir(parents=True)
    np.save(foreign / "0.npy", np.zeros((1, 4), dtype=np.int32))
    with pytest.raises(ValueError, match=r"no manifest\.json"):
        generate_gesture_dataset(tmp_path / "real", n_train=100, n_test=0, config=config)


def test_parallel_generation_matches_serial(tmp_path: Path) -> None:
    config = SyntheticGestureConfig(sensor_size=(24, 24, 2), duration=(0.1, 0.2))
    with pytest.warns(UserWarning):
        serial = generate_gesture_dataset(tmp_path / "a", 13, 0, seed=1, config=config)
    with pytest.warns(UserWarning):
        parallel = generate_gesture_dataset(tmp_path / "b", 13, 0, seed=1, config=config, workers=2)
    files = sorted(p.relative_to(serial) for p in serial.rglob("*.npy"))
    assert len(files) == 13
    for name in files:
        np.testing.assert_array_equal(
            read_gesture_npy(serial / name), read_gesture_npy(parallel / name)
        )
