r"""An offline stand-in for DVS128 Gesture: rendered moving shapes seen through a DVS emulator.

Three layers, each usable on its own:

1. :class:`DVSEmulator`, an event-camera model. Every pixel keeps a reference log intensity
   :math:`L_\mathrm{ref}` and sees

   .. math:: L(t) = \ln\bigl(I(t) + \varepsilon\bigr),

   linearly interpolated between rendered frames. An ON event fires each time
   :math:`L(t) - L_\mathrm{ref} \ge \theta_\mathrm{on}` (then :math:`L_\mathrm{ref} \mathrel{+}=
   \theta_\mathrm{on}`), an OFF event each time :math:`L_\mathrm{ref} - L(t) \ge
   \theta_\mathrm{off}` (then :math:`L_\mathrm{ref} \mathrel{-}= \theta_\mathrm{off}`). A change
   spanning :math:`n` thresholds between two frames gives :math:`n` events at the times where the
   interpolated :math:`L` crosses each level. The per-pixel thresholds are
   :math:`\theta \sim \mathcal N(\bar\theta, \sigma^2)` (fixed-pattern mismatch); an event closer
   than the refractory period to the pixel's previous *emitted* event is dropped (the reference
   still moves, so a dropped event is lost, not postponed). Background activity is a Poisson
   process of ``noise_rate`` Hz per pixel with random polarity, and a fraction of "hot" pixels
   fire at ``hot_pixel_rate`` Hz with a fixed polarity each; these are added to the signal
   events, independent of it and of the refractory period.
2. :func:`render_gesture`, bright soft-edged discs ("hands") over a dim textured background whose
   trajectories follow the eleven classes of DVS128 Gesture (:data:`GESTURE_CLASSES`, Tonic's
   names and order), with randomised position, size, period, phase, timing jitter and a
   distractor disc on a straight bouncing path. Clockwise and counter-clockwise arm circles differ
   only in the direction of motion: their time-accumulated event images have the same
   distribution, so a classifier needs time (or the order of ON and OFF edges within short
   windows) to tell them apart.
3. :func:`generate_gesture_dataset`, a writer into the on-disk layout of
   :class:`tonic.datasets.DVSGesture` (``DVSGesture/ibmGestureTrain/user01_fluorescent/3.npy``, an
   ``(N, 4)`` integer array of columns ``x, y, p, t`` with ``t`` in milliseconds), and
   :class:`DVSGestureFolder`, a reader of that layout that needs no download and returns the
   project's :data:`~snn.datasets.events.EVENT_DTYPE`.

Sample ``i`` of a split is a pure function of ``(seed, split, i)`` and the
:class:`SyntheticGestureConfig`, so sets can be generated in parallel and extended later.

Scene coordinates: ``X`` to the right, ``Y`` downwards (image rows), in units of the sensor's
shorter side, origin at the image centre. "Right" means the right half of the image, and
"clockwise" is clockwise as seen on the image.
"""

from __future__ import annotations

import io
import json
import math
import os
import tarfile
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

from snn.datasets.dvs_gesture import GESTURE_CLASSES
from snn.datasets.events import Events, check_events, make_events

__all__ = [
    "GESTURE_CLASSES",
    "LIGHTING_CONDITIONS",
    "DVSEmulator",
    "DVSGestureFolder",
    "SyntheticGestureConfig",
    "generate_gesture_dataset",
    "read_gesture_npy",
    "render_gesture",
    "sample_path",
    "synthetic_gesture_sample",
    "write_gesture_npy",
]


#: the lighting conditions of DVS128 Gesture, used (round robin) to name the session folders
LIGHTING_CONDITIONS: tuple[str, ...] = ("fluorescent", "fluorescent_led", "lab", "led", "natural")

#: folder of each split inside ``<root>/DVSGesture`` (Tonic's ``folder_name``)
SPLIT_FOLDERS: dict[str, str] = {"train": "ibmGestureTrain", "test": "ibmGestureTest"}
_SPLIT_CODES = {"train": 0, "test": 1}

#: Tonic's ``DVSGesture._check_exists`` wants at least this many ``.npy`` files per split
TONIC_MIN_FILES = 100

#: Tonic computes ``t_ms * 1000`` in the file's int32 dtype, so t_ms must stay below 2**31 / 1000
_MAX_T_US = (2**31 // 1000) * 1000

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
_DATASET_FOLDER = "DVSGesture"  # Tonic: ``os.path.join(save_to, cls.__name__)``

#: lowest per-pixel contrast threshold after mismatch (ln units), so no pixel fires on rounding
MIN_THRESHOLD = 0.01


# --------------------------------------------------------------------------------------------
# Event-camera emulator
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _dvs_kernel(
    frames: NDArray[np.floating],
    times: NDArray[np.float64],
    threshold_on: NDArray[np.float64],
    threshold_off: NDArray[np.float64],
    refractory_period: float,
    log_eps: float,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int8]]:
    """Threshold crossings of every pixel: (flat pixel index, time in s, polarity), frame order."""
    n_frames, height, width = frames.shape
    reference = np.empty((height, width))
    previous_intensity = np.empty((height, width))
    previous_log = np.empty((height, width))
    last_event = np.full((height, width), -np.inf)
    for y in range(height):
        for x in range(width):
            previous_intensity[y, x] = frames[0, y, x]
            previous_log[y, x] = math.log(frames[0, y, x] + log_eps)
            reference[y, x] = previous_log[y, x]
    capacity = 1 << 16
    pixel = np.empty(capacity, np.int64)
    stamp = np.empty(capacity, np.float64)
    polarity = np.empty(capacity, np.int8)
    n = 0
    for j in range(1, n_frames):
        t0 = times[j - 1]
        dt = times[j] - t0
        for y in range(height):
            for x in range(width):
                intensity = frames[j, y, x]
                # unchanged pixel: its reference already lies within one threshold of L
                if intensity == previous_intensity[y, x]:
                    continue
                log_now = math.log(intensity + log_eps)
                log_before = previous_log[y, x]
                previous_intensity[y, x] = intensity
                previous_log[y, x] = log_now
                ref = reference[y, x]
                change = log_now - ref
                if change >= threshold_on[y, x]:
                    step = threshold_on[y, x]
                    count = int(change / step)
                    sign = 1
                elif -change >= threshold_off[y, x]:
                    step = -threshold_off[y, x]
                    count = int(change / step)
                    sign = 0
                else:
                    continue
                span = log_now - log_before
                for m in range(1, count + 1):
                    frac = (ref + m * step - log_before) / span if span != 0.0 else 1.0
                    frac = min(max(frac, 0.0), 1.0)
                    t_event = t0 + frac * dt
                    if t_event - last_event[y, x] < refractory_period:
                        continue
                    last_event[y, x] = t_event
                    if n == capacity:
                        capacity *= 2
                        grown_pixel = np.empty(capacity, np.int64)
                        grown_stamp = np.empty(capacity, np.float64)
                        grown_polarity = np.empty(capacity, np.int8)
                        grown_pixel[:n] = pixel[:n]
                        grown_stamp[:n] = stamp[:n]
                        grown_polarity[:n] = polarity[:n]
                        pixel, stamp, polarity = grown_pixel, grown_stamp, grown_polarity
                    pixel[n] = y * width + x
                    stamp[n] = t_event
                    polarity[n] = sign
                    n += 1
                reference[y, x] = ref + count * step
    return pixel[:n].copy(), stamp[:n].copy(), polarity[:n].copy()


def _check_nonnegative(owner: str, **values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{owner}: {name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class DVSEmulator:
    r"""A dynamic vision sensor watching rendered intensity frames (see the module docstring).

    Parameters (SI units; log intensities in natural-log units):

    * ``threshold_on``, ``threshold_off``: mean contrast thresholds :math:`\bar\theta` (ln units,
      0.2 is about a 22 % brightness change);
    * ``threshold_sigma``: standard deviation of the per-pixel threshold mismatch (ln units);
      thresholds are clipped at :data:`MIN_THRESHOLD`;
    * ``refractory_period``: seconds after an emitted event during which the pixel's further
      crossings are dropped;
    * ``noise_rate``: background-activity rate per pixel, Hz (Poisson, random polarity);
    * ``hot_pixel_fraction``: expected fraction of pixels that are hot;
    * ``hot_pixel_rate``: firing rate of a hot pixel, Hz (Poisson, fixed polarity per pixel);
    * ``log_eps``: :math:`\varepsilon` in :math:`\ln(I + \varepsilon)`, in intensity units (the
      dark-current floor that keeps dark pixels from firing on tiny absolute changes).
    """

    threshold_on: float = 0.2
    threshold_off: float = 0.2
    threshold_sigma: float = 0.03
    refractory_period: float = 1e-4
    noise_rate: float = 0.1
    hot_pixel_fraction: float = 0.0
    hot_pixel_rate: float = 100.0
    log_eps: float = 1e-3

    def __post_init__(self) -> None:
        _check_nonnegative(
            "DVSEmulator",
            threshold_sigma=self.threshold_sigma,
            refractory_period=self.refractory_period,
            noise_rate=self.noise_rate,
            hot_pixel_rate=self.hot_pixel_rate,
            log_eps=self.log_eps,
        )
        for name in ("threshold_on", "threshold_off"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= MIN_THRESHOLD):
                raise ValueError(
                    f"DVSEmulator: {name} must be a contrast (ln units) >= {MIN_THRESHOLD}, "
                    f"got {value!r}"
                )
        if not 0.0 <= self.hot_pixel_fraction <= 1.0:
            raise ValueError(
                "DVSEmulator: hot_pixel_fraction must lie in [0, 1], got "
                f"{self.hot_pixel_fraction!r}"
            )

    def pixel_thresholds(
        self, height: int, width: int, rng: np.random.Generator
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Draw the per-pixel ``(threshold_on, threshold_off)`` maps, each ``(height, width)``."""
        on = self.threshold_on + self.threshold_sigma * rng.standard_normal((height, width))
        off = self.threshold_off + self.threshold_sigma * rng.standard_normal((height, width))
        return np.maximum(on, MIN_THRESHOLD), np.maximum(off, MIN_THRESHOLD)

    def noise_events(
        self, height: int, width: int, t_start: float, t_stop: float, rng: np.random.Generator
    ) -> Events:
        """Background activity and hot-pixel events in ``[t_start, t_stop)`` s, sorted by time."""
        pixel, stamp, polarity = self._noise(height, width, t_start, t_stop, rng)
        return _pack(pixel, stamp, polarity, width)

    def emulate(
        self,
        frames: ArrayLike,
        times: ArrayLike,
        rng: np.random.Generator,
        thresholds: tuple[ArrayLike, ArrayLike] | None = None,
    ) -> Events:
        """Events of the sensor watching ``frames`` (``(T, H, W)``, intensity >= 0) at ``times``.

        ``times`` are the frames' timestamps in seconds, strictly increasing; events are stamped in
        microseconds (rounded) on the same clock and returned sorted by time, on a sensor of size
        ``(W, H, 2)``. The reference is the first frame (it emits nothing). ``thresholds``
        overrides the per-pixel ``(on, off)`` maps, otherwise drawn from ``rng``; noise follows
        from ``rng`` too, over ``[times[0], times[-1])``.
        """
        frames_arr = np.asarray(frames)
        if frames_arr.dtype not in (np.float32, np.float64):
            frames_arr = frames_arr.astype(np.float64)
        frames_arr = np.ascontiguousarray(frames_arr)
        times_arr = np.ascontiguousarray(times, dtype=np.float64)
        if frames_arr.ndim != 3 or frames_arr.shape[0] < 2:
            raise ValueError(
                f"DVSEmulator.emulate: frames must have shape (T, H, W) with T >= 2, got "
                f"{frames_arr.shape}"
            )
        n_frames, height, width = frames_arr.shape
        if times_arr.shape != (n_frames,):
            raise ValueError(
                f"DVSEmulator.emulate: times must hold one timestamp (s) per frame, {n_frames}, "
                f"got shape {times_arr.shape}"
            )
        if not np.all(np.isfinite(times_arr)) or np.any(np.diff(times_arr) <= 0):
            raise ValueError("DVSEmulator.emulate: times must be finite and strictly increasing")
        lowest = float(frames_arr.min())
        if not np.isfinite(frames_arr).all() or lowest < 0:
            raise ValueError("DVSEmulator.emulate: frames must be finite intensities >= 0")
        if self.log_eps == 0 and lowest <= 0:
            raise ValueError(
                "DVSEmulator.emulate: with log_eps = 0 every intensity must be > 0 (ln 0 is "
                "undefined); set log_eps > 0 or brighten the frames"
            )
        if thresholds is None:
            on, off = self.pixel_thresholds(height, width, rng)
        else:
            on = np.ascontiguousarray(thresholds[0], dtype=np.float64)
            off = np.ascontiguousarray(thresholds[1], dtype=np.float64)
            for name, arr in (("on", on), ("off", off)):
                if arr.shape != (height, width) or not np.all(arr >= MIN_THRESHOLD):
                    raise ValueError(
                        f"DVSEmulator.emulate: thresholds[{name}] must be a ({height}, {width}) "
                        f"map of contrasts >= {MIN_THRESHOLD}, got shape {arr.shape}"
                    )
        pixel, stamp, polarity = _dvs_kernel(
            frames_arr, times_arr, on, off, float(self.refractory_period), float(self.log_eps)
        )
        noise_pixel, noise_stamp, noise_polarity = self._noise(
            height, width, float(times_arr[0]), float(times_arr[-1]), rng
        )
        return _pack(
            np.concatenate([pixel, noise_pixel]),
            np.concatenate([stamp, noise_stamp]),
            np.concatenate([polarity, noise_polarity]),
            width,
        )

    def _noise(
        self, height: int, width: int, t_start: float, t_stop: float, rng: np.random.Generator
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int8]]:
        if not t_stop >= t_start:
            raise ValueError(f"DVSEmulator: t_stop ({t_stop}) must be >= t_start ({t_start})")
        n_pixels = height * width
        duration = t_stop - t_start
        n_noise = int(rng.poisson(self.noise_rate * n_pixels * duration))
        pixel = rng.integers(0, n_pixels, n_noise)
        polarity = rng.integers(0, 2, n_noise).astype(np.int8)
        n_hot = int(rng.binomial(n_pixels, self.hot_pixel_fraction))
        hot = rng.choice(n_pixels, n_hot, replace=False)
        hot_counts = rng.poisson(self.hot_pixel_rate * duration, n_hot)
        hot_polarity = rng.integers(0, 2, n_hot).astype(np.int8)
        pixel = np.concatenate([pixel, np.repeat(hot, hot_counts)])
        polarity = np.concatenate([polarity, np.repeat(hot_polarity, hot_counts)])
        stamp = rng.uniform(t_start, t_stop, len(pixel))
        return pixel.astype(np.int64), stamp, polarity


def _pack(
    pixel: NDArray[np.int64], stamp: NDArray[np.float64], polarity: NDArray[np.int8], width: int
) -> Events:
    """Events in microseconds, sorted by time (stable: ties keep the emulator's order)."""
    t_us = np.rint(stamp * 1e6).astype(np.int64)
    order = np.argsort(t_us, kind="stable")
    pixel = pixel[order]
    return make_events(pixel % width, pixel // width, t_us[order], polarity[order])


# --------------------------------------------------------------------------------------------
# Scene rendering
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _render_discs(
    background: NDArray[np.float32],
    centre_x: NDArray[np.float64],
    centre_y: NDArray[np.float64],
    radius: NDArray[np.float64],
    intensity: NDArray[np.float64],
    edge_width: float,
    out: NDArray[np.float32],
) -> None:
    """Composite soft discs over ``background`` into ``out[t]``; later discs occlude earlier.

    Coverage of a pixel at distance ``d`` from a disc's centre is
    ``clip((radius - d) / edge_width + 1/2, 0, 1)`` (a linear edge ramp, antialiasing the motion).
    """
    n_frames, height, width = out.shape
    n_discs = centre_x.shape[1]
    for t in range(n_frames):
        out[t] = background
        for k in range(n_discs):
            cx = centre_x[t, k]
            cy = centre_y[t, k]
            reach = radius[k] + edge_width
            x_lo = max(0, math.floor(cx - reach))
            x_hi = min(width - 1, math.ceil(cx + reach))
            y_lo = max(0, math.floor(cy - reach))
            y_hi = min(height - 1, math.ceil(cy + reach))
            for y in range(y_lo, y_hi + 1):
                for x in range(x_lo, x_hi + 1):
                    d = math.sqrt((x - cx) ** 2 + (y - cy) ** 2)
                    cover = (radius[k] - d) / edge_width + 0.5
                    if cover <= 0.0:
                        continue
                    if cover > 1.0:
                        cover = 1.0
                    out[t, y, x] = out[t, y, x] * (1.0 - cover) + intensity[k] * cover


def _validate_range(name: str, value: tuple[float, float], low: float = 0.0) -> None:
    if len(value) != 2 or not (low <= value[0] <= value[1]) or not math.isfinite(value[1]):
        raise ValueError(
            f"SyntheticGestureConfig: {name} must be a (min, max) pair with {low} <= min <= max, "
            f"got {value!r}"
        )


@dataclass(frozen=True)
class SyntheticGestureConfig:
    """Generator parameters; every sample draws its own values from these ranges.

    * ``sensor_size``: ``(width, height, polarities)``, Tonic's convention; polarities must be 2;
    * ``duration``: range of the recording length, s (uniform);
    * ``frame_interval``: rendering step, s (the emulator interpolates ``ln I`` linearly between
      frames; 4 ms keeps the discs' motion under about 1.5 pixel per frame at 128 x 128);
    * ``threshold``: range of the mean contrast threshold (ln units, uniform; OFF threshold within
      +-10 % of ON); ``threshold_sigma``: per-pixel mismatch (ln units);
    * ``noise_rate``: range of the background-activity rate, Hz per pixel (log-uniform);
    * ``refractory_period``: s; ``hot_pixel_fraction``, ``hot_pixel_rate`` (Hz): as in
      :class:`DVSEmulator`;
    * ``distractor_probability``: chance that a small disc crosses the scene on a straight,
      wall-bouncing path;
    * ``version``: bumps whenever the same seed would give different samples.
    """

    sensor_size: tuple[int, int, int] = (128, 128, 2)
    duration: tuple[float, float] = (1.0, 1.5)
    frame_interval: float = 0.004
    threshold: tuple[float, float] = (0.15, 0.3)
    threshold_sigma: float = 0.03
    noise_rate: tuple[float, float] = (0.05, 0.5)
    refractory_period: float = 5e-4
    hot_pixel_fraction: float = 2e-4
    hot_pixel_rate: float = 100.0
    distractor_probability: float = 1.0
    version: int = MANIFEST_VERSION

    def __post_init__(self) -> None:
        width, height, polarities = self.sensor_size
        if width < 16 or height < 16 or polarities != 2:
            raise ValueError(
                "SyntheticGestureConfig: sensor_size must be (width, height, 2) with width, "
                f"height >= 16, got {self.sensor_size!r}"
            )
        _validate_range("duration", self.duration, low=1e-3)
        _validate_range("threshold", self.threshold, low=MIN_THRESHOLD)
        _validate_range("noise_rate", self.noise_rate, low=1e-12)
        if not 0 < self.frame_interval <= 0.05:
            raise ValueError(
                "SyntheticGestureConfig: frame_interval must lie in (0, 0.05] s, got "
                f"{self.frame_interval!r}"
            )
        if not 0.0 <= self.distractor_probability <= 1.0:
            raise ValueError(
                "SyntheticGestureConfig: distractor_probability must lie in [0, 1], got "
                f"{self.distractor_probability!r}"
            )
        if self.version != MANIFEST_VERSION:
            raise ValueError(
                f"SyntheticGestureConfig: this code generates version {MANIFEST_VERSION}, got "
                f"version={self.version!r}"
            )
        DVSEmulator(  # validates the remaining fields with the emulator's own messages
            threshold_sigma=self.threshold_sigma,
            refractory_period=self.refractory_period,
            hot_pixel_fraction=self.hot_pixel_fraction,
            hot_pixel_rate=self.hot_pixel_rate,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (tuples become lists)."""
        return {key: list(v) if isinstance(v, tuple) else v for key, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SyntheticGestureConfig:
        """Inverse of :meth:`to_dict`; missing fields take their defaults, unknown ones raise."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"SyntheticGestureConfig: unknown field(s) {sorted(unknown)}; valid: "
                f"{sorted(known)}"
            )
        kwargs: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        return cls(**kwargs)


@dataclass(frozen=True)
class _Style:
    """One performer's take on a gesture: where, how big, how fast (scene units, s, rad)."""

    offset_x: float
    offset_y: float
    scale: float
    hand_radius: float
    period: float
    phase: float
    jitter_amplitude: float
    jitter_period: float
    jitter_phase: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> _Style:
        return cls(
            offset_x=rng.uniform(-0.05, 0.05),
            offset_y=rng.uniform(-0.05, 0.05),
            scale=rng.uniform(0.85, 1.15),
            hand_radius=rng.uniform(0.045, 0.065),
            period=rng.uniform(0.5, 0.8),
            phase=rng.uniform(0, 2 * np.pi),
            jitter_amplitude=rng.uniform(0.0, 0.5),
            jitter_period=rng.uniform(0.7, 2.0),
            jitter_phase=rng.uniform(0, 2 * np.pi),
        )

    def angle(self, t: NDArray[np.float64], period_factor: float = 1.0) -> NDArray[np.float64]:
        """Motion phase: steady rotation with a slow, irregular speed wobble (human timing)."""
        wobble = self.jitter_amplitude * np.sin(
            2 * np.pi * t / self.jitter_period + self.jitter_phase
        )
        return 2 * np.pi * t / (self.period * period_factor) + wobble


#: disc centres (T, K, 2) and radii (K,), scene units
_Motion = tuple[NDArray[np.float64], NDArray[np.float64]]
#: one trajectory per class: (times, style, rng) -> motion
_Trajectory = Callable[[NDArray[np.float64], _Style, np.random.Generator], _Motion]


def _stack(*tracks: tuple[NDArray[np.float64], NDArray[np.float64]]) -> NDArray[np.float64]:
    return np.stack([np.stack([x, y], axis=-1) for x, y in tracks], axis=1)


def _clap(t: NDArray[np.float64], s: _Style, rng: np.random.Generator) -> _Motion:
    theta = s.angle(t) + s.phase
    far = rng.uniform(0.13, 0.2)
    near = 1.05 * s.hand_radius
    half = near + (far - near) * 0.5 * (1 + np.cos(theta))
    y = 0.05 + 0.01 * np.sin(theta)
    return _stack((half, y), (-half, y)), np.full(2, s.hand_radius)


def _wave(side: float) -> _Trajectory:
    def trajectory(t: NDArray[np.float64], s: _Style, rng: np.random.Generator) -> _Motion:
        theta = s.angle(t, 0.8) + s.phase
        amplitude = rng.uniform(0.07, 0.11)
        x = side * 0.22 + amplitude * np.sin(theta)
        y = -0.12 + 0.3 * amplitude * np.sin(theta) ** 2  # the hand swings on an arc
        return _stack((x, y)), np.full(1, s.hand_radius)

    return trajectory


def _circle(side: float, clockwise: bool) -> _Trajectory:
    def trajectory(t: NDArray[np.float64], s: _Style, rng: np.random.Generator) -> _Motion:
        # X right, Y down: increasing angle turns clockwise on the image
        theta = s.phase + (1.0 if clockwise else -1.0) * s.angle(t)
        radius = rng.uniform(0.09, 0.13)
        aspect = rng.uniform(0.85, 1.15)
        x = side * 0.2 + radius * np.cos(theta)
        y = -0.02 + aspect * radius * np.sin(theta)
        return _stack((x, y)), np.full(1, s.hand_radius)

    return trajectory


def _roll(t: NDArray[np.float64], s: _Style, rng: np.random.Generator) -> _Motion:
    direction = rng.choice([-1.0, 1.0])
    theta = s.phase + direction * s.angle(t, 0.7)
    radius = rng.uniform(0.05, 0.08)
    aspect = rng.uniform(0.6, 1.0)
    x = radius * np.cos(theta)
    y = 0.05 + aspect * radius * np.sin(theta)
    return _stack((x, y), (-x, 0.1 - y)), np.full(2, 0.85 * s.hand_radius)


def _drums(t: NDArray[np.float64], s: _Style, rng: np.random.Generator) -> _Motion:
    theta = s.angle(t) + s.phase
    spread = rng.uniform(0.12, 0.17)
    amplitude = rng.uniform(0.05, 0.09)
    y = 0.12 + amplitude * np.sin(theta)
    return _stack((np.full_like(t, spread), y), (np.full_like(t, -spread), 0.24 - y)), np.full(
        2, s.hand_radius
    )


def _guitar(t: NDArray[np.float64], s: _Style, rng: np.random.Generator) -> _Motion:
    theta = s.angle(t, 0.6) + s.phase
    amplitude = rng.uniform(0.05, 0.08)
    strum = (0.08 + 0.2 * amplitude * np.sin(theta), 0.15 + amplitude * np.sin(theta))
    drift = rng.uniform(0, 2 * np.pi, 2)
    fret = (
        -0.22 + 0.012 * np.sin(2 * np.pi * t / 1.3 + drift[0]),
        0.0 + 0.008 * np.sin(2 * np.pi * t / 0.9 + drift[1]),
    )
    return _stack(strum, fret), np.full(2, s.hand_radius)


def _other(t: NDArray[np.float64], s: _Style, rng: np.random.Generator) -> _Motion:
    tracks = []
    for _ in range(int(rng.integers(1, 3))):
        start = (rng.uniform(-0.25, 0.25), rng.uniform(-0.15, 0.15))
        coords = []
        for centre in start:
            freq = rng.uniform(0.3, 1.5, 3)
            amp = rng.uniform(0.02, 0.07, 3)
            ph = rng.uniform(0, 2 * np.pi, 3)
            coords.append(centre + (amp * np.sin(2 * np.pi * freq * t[:, None] + ph)).sum(axis=1))
        tracks.append((coords[0], coords[1]))
    return _stack(*tracks), np.full(len(tracks), s.hand_radius)


#: the registry of motions, in :data:`GESTURE_CLASSES` order
_TRAJECTORIES: tuple[_Trajectory, ...] = (
    _clap,
    _wave(+1.0),
    _wave(-1.0),
    _circle(+1.0, clockwise=True),
    _circle(+1.0, clockwise=False),
    _circle(-1.0, clockwise=True),
    _circle(-1.0, clockwise=False),
    _roll,
    _drums,
    _guitar,
    _other,
)


def _bounce(position: NDArray[np.float64], wall: float) -> NDArray[np.float64]:
    """Fold an unbounded straight path back into ``[-wall, wall]`` (elastic reflections)."""
    period = 4 * wall
    folded = np.mod(position + wall, period)
    return np.where(folded < 2 * wall, folded, period - folded) - wall


def _background(
    height: int, width: int, rng: np.random.Generator
) -> tuple[NDArray[np.float32], float]:
    """A dim, smoothly textured static backdrop (bilinear upsampling of a coarse random grid)."""
    level = rng.uniform(0.08, 0.2)
    coarse = rng.uniform(-1, 1, (7, 7))
    rows = np.linspace(0, 6, height)
    cols = np.linspace(0, 6, width)
    r0 = np.minimum(rows.astype(int), 5)
    c0 = np.minimum(cols.astype(int), 5)
    fr = (rows - r0)[:, None]
    fc = (cols - c0)[None, :]
    texture = (
        coarse[r0][:, c0] * (1 - fr) * (1 - fc)
        + coarse[r0 + 1][:, c0] * fr * (1 - fc)
        + coarse[r0][:, c0 + 1] * (1 - fr) * fc
        + coarse[r0 + 1][:, c0 + 1] * fr * fc
    )
    return (level * (1 + 0.35 * texture)).astype(np.float32), level


def render_gesture(
    label: int, rng: np.random.Generator, config: SyntheticGestureConfig | None = None
) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    """Render one randomised performance of class ``label``: ``(frames (T, H, W), times (T,) s)``.

    Frames are linear intensities (the backdrop about 0.1, hands 1.6 to 4 times brighter) at
    ``config.frame_interval`` steps from 0 to a duration drawn from ``config.duration``.
    """
    config = SyntheticGestureConfig() if config is None else config
    if not 0 <= label < len(GESTURE_CLASSES):
        raise ValueError(
            f"render_gesture: label must be a class index in 0..{len(GESTURE_CLASSES) - 1} "
            f"({', '.join(f'{i}={n}' for i, n in enumerate(GESTURE_CLASSES))}), got {label!r}"
        )
    width, height, _ = config.sensor_size
    side = min(width, height)
    duration = rng.uniform(*config.duration)
    times: NDArray[np.float64] = np.arange(
        0.0, duration + 0.5 * config.frame_interval, config.frame_interval, dtype=np.float64
    )
    style = _Style.draw(rng)
    background, level = _background(height, width, rng)
    positions, radii = _TRAJECTORIES[label](times, style, rng)
    positions = positions * style.scale + np.array([style.offset_x, style.offset_y])
    radii = radii * style.scale
    intensity = level * rng.uniform(1.6, 4.0, len(radii))
    if rng.random() < config.distractor_probability:
        start = rng.uniform(-0.45, 0.45, 2)
        heading = rng.uniform(0, 2 * np.pi)
        speed = rng.uniform(0.05, 0.3)
        path = start + speed * times[:, None] * np.array([np.cos(heading), np.sin(heading)])
        distractor = _bounce(path, 0.48)[:, None, :]
        # the distractor moves behind the hands
        positions = np.concatenate([distractor, positions], axis=1)
        radii = np.concatenate([[rng.uniform(0.015, 0.03)], radii])
        intensity = np.concatenate([[level * rng.uniform(1.6, 4.0)], intensity])
    centre_x = (width - 1) / 2 + side * positions[..., 0]
    centre_y = (height - 1) / 2 + side * positions[..., 1]
    frames = np.empty((len(times), height, width), dtype=np.float32)
    _render_discs(
        background,
        np.ascontiguousarray(centre_x),
        np.ascontiguousarray(centre_y),
        side * radii,
        intensity,
        1.0,
        frames,
    )
    return frames, times


def _sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    if split not in _SPLIT_CODES:
        raise ValueError(f"split must be one of {sorted(_SPLIT_CODES)}, got {split!r}")
    if index < 0:
        raise ValueError(f"sample index must be >= 0, got {index}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(_SPLIT_CODES[split], index))
    )


def synthetic_gesture_sample(
    index: int,
    *,
    seed: int = 0,
    split: str = "train",
    config: SyntheticGestureConfig | None = None,
) -> tuple[Events, int]:
    """Sample ``index`` of a split: ``(events, label)`` with ``label = index % 11``.

    A pure function of ``(seed, split, index, config)``; events are
    :data:`~snn.datasets.events.EVENT_DTYPE` in microseconds on ``config.sensor_size``.
    """
    config = SyntheticGestureConfig() if config is None else config
    rng = _sample_rng(seed, split, index)
    label = index % len(GESTURE_CLASSES)
    frames, times = render_gesture(label, rng, config)
    threshold = rng.uniform(*config.threshold)
    low, high = np.log(config.noise_rate)
    emulator = DVSEmulator(
        threshold_on=threshold,
        threshold_off=max(MIN_THRESHOLD, threshold * rng.uniform(0.9, 1.1)),
        threshold_sigma=config.threshold_sigma,
        refractory_period=config.refractory_period,
        noise_rate=float(np.exp(rng.uniform(low, high))),
        hot_pixel_fraction=config.hot_pixel_fraction,
        hot_pixel_rate=config.hot_pixel_rate,
    )
    return emulator.emulate(frames, times, rng), label


# --------------------------------------------------------------------------------------------
# Tonic's DVSGesture layout: writer and reader
# --------------------------------------------------------------------------------------------


def _session_folder(index: int) -> str:
    """``userXX_lighting`` of sample ``index``: eleven consecutive samples share one session."""
    session = index // len(GESTURE_CLASSES)
    user = 1 + session // len(LIGHTING_CONDITIONS)
    return f"user{user:02d}_{LIGHTING_CONDITIONS[session % len(LIGHTING_CONDITIONS)]}"


def sample_path(root: str | os.PathLike[str], split: str, index: int) -> Path:
    """Where sample ``index`` of ``split`` lives under ``root`` (Tonic's ``save_to``)."""
    if split not in SPLIT_FOLDERS:
        raise ValueError(f"split must be one of {sorted(SPLIT_FOLDERS)}, got {split!r}")
    label = index % len(GESTURE_CLASSES)
    return (
        Path(root)
        / _DATASET_FOLDER
        / SPLIT_FOLDERS[split]
        / _session_folder(index)
        / f"{label}.npy"
    )


def write_gesture_npy(path: str | os.PathLike[str], events: Events) -> None:
    """Write ``events`` as Tonic's DVSGesture stores them, atomically (temp file, then rename).

    The file is an ``(N, 4)`` ``int32`` array of columns ``x, y, p, t`` with ``t`` in whole
    milliseconds (floored), which Tonic multiplies by 1000 in place on loading.
    """
    path = Path(path)
    check_events(events, (1 << 15, 1 << 15, 2), what=str(path))
    if len(events) and not 0 <= events["t"][0] <= events["t"][-1] < _MAX_T_US:
        raise ValueError(
            f"{path}: timestamps must lie in [0, {_MAX_T_US}) us (Tonic scales int32 ms by 1000 "
            f"in place), got [{events['t'][0]}, {events['t'][-1]}]"
        )
    table = np.empty((len(events), 4), dtype=np.int32)
    table[:, 0] = events["x"]
    table[:, 1] = events["y"]
    table[:, 2] = events["p"]
    table[:, 3] = events["t"] // 1000
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # not matched by glob("*.npy")
    with open(temp, "wb") as handle:
        np.save(handle, table)
    os.replace(temp, path)


def read_gesture_npy(path: str | os.PathLike[str]) -> Events:
    """Read one DVSGesture ``.npy`` (columns ``x, y, p, t`` in ms) as project events (t in us)."""
    table = np.load(path)
    if table.ndim != 2 or table.shape[1] != 4:
        raise ValueError(f"{path}: expected an (N, 4) array of x, y, p, t, got {table.shape}")
    ms = table[:, 3]
    t_us = (
        np.rint(ms * 1000.0) if np.issubdtype(ms.dtype, np.floating) else ms.astype(np.int64) * 1000
    )
    return make_events(table[:, 0], table[:, 1], t_us.astype(np.int64), table[:, 2] != 0)


def _atomic_write_text(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(text)
    os.replace(temp, path)


def _placeholder_archive(path: Path, manifest: str) -> None:
    """A tiny valid ``.tar.gz`` (holding the manifest) where Tonic looks for its download."""
    if path.exists():
        return
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = manifest.encode()
        info = tarfile.TarInfo(f"SYNTHETIC_{MANIFEST_NAME}")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_bytes(buffer.getvalue())
    os.replace(temp, path)


def _write_sample(root: str, seed: int, split: str, index: int, config_dict: dict[str, Any]) -> int:
    path = sample_path(root, split, index)
    if path.exists():
        return 0
    config = SyntheticGestureConfig.from_dict(config_dict)
    events, _ = synthetic_gesture_sample(index, seed=seed, split=split, config=config)
    write_gesture_npy(path, events)
    return 1


def generate_gesture_dataset(
    root: str | os.PathLike[str],
    n_train: int,
    n_test: int,
    *,
    seed: int = 0,
    config: SyntheticGestureConfig | None = None,
    workers: int = 1,
) -> Path:
    """Write a synthetic DVS gesture set under ``root`` in Tonic's DVSGesture layout.

    Creates ``root/DVSGesture/{ibmGestureTrain,ibmGestureTest}/userXX_<lighting>/<label>.npy``
    (sample ``i`` has label ``i % 11`` and session ``i // 11``), a ``manifest.json`` with the
    generator's parameters and seed, and a small placeholder ``ibmGesture{Train,Test}.tar.gz``
    where Tonic expects its download, so that ``tonic.datasets.DVSGesture(save_to=root)`` opens
    the set without downloading **provided the split holds at least 100 samples** (Tonic's
    ``_check_exists`` rule; smaller splits warn, read them with :class:`DVSGestureFolder`).

    Each sample is written atomically and skipped when already present, so a run can be resumed
    or extended (same seed and config, larger counts); a different seed or config under the same
    root raises ``ValueError``. ``workers > 1`` generates in that many processes. Returns
    ``root/DVSGesture``.
    """
    config = SyntheticGestureConfig() if config is None else config
    for name, value in (("n_train", n_train), ("n_test", n_test), ("seed", seed)):
        if int(value) != value or value < 0:
            raise ValueError(
                f"generate_gesture_dataset: {name} must be an integer >= 0, got {value}"
            )
    if workers < 1:
        raise ValueError(f"generate_gesture_dataset: workers must be >= 1, got {workers}")
    folder = Path(root) / _DATASET_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / MANIFEST_NAME
    counts = {"train": n_train, "test": n_test}
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        old_config = SyntheticGestureConfig.from_dict(old.get("config", {}))
        if old.get("seed") != seed or old_config != config:
            raise ValueError(
                f"generate_gesture_dataset: {folder} already holds a set made with "
                f"seed={old.get('seed')} and config={old_config}; pass the same seed and config "
                "to extend it, or choose another root"
            )
        counts = {k: max(v, int(old["splits"][k]["n_samples"])) for k, v in counts.items()}
    elif any(next((folder / name).glob("*_*/*.npy"), None) for name in SPLIT_FOLDERS.values()):
        raise ValueError(
            f"generate_gesture_dataset: {folder} holds DVSGesture files but no {MANIFEST_NAME} "
            "(a real download, or another tool's output); choose another root"
        )
    manifest = json.dumps(
        {
            "format": "snn-stack synthetic DVS gesture (tonic.datasets.DVSGesture layout)",
            "manifest_version": MANIFEST_VERSION,
            "seed": seed,
            "config": config.to_dict(),
            "classes": list(GESTURE_CLASSES),
            "label_rule": "sample i has label i % 11 and folder user(1 + (i // 11) // 5)_"
            "lighting[(i // 11) % 5]",
            "columns": ["x", "y", "p", "t"],
            "time_unit": "ms",
            "splits": {
                split: {"folder": SPLIT_FOLDERS[split], "n_samples": n}
                for split, n in counts.items()
            },
        },
        indent=2,
    )
    _atomic_write_text(manifest_path, manifest)
    for split in ("train", "test"):
        if 0 < counts[split] < TONIC_MIN_FILES:
            warnings.warn(
                f"generate_gesture_dataset: the {split} split has {counts[split]} samples; "
                f"tonic.datasets.DVSGesture only opens a split with >= {TONIC_MIN_FILES} .npy "
                "files (otherwise it tries to download), so read it with DVSGestureFolder",
                stacklevel=2,
            )
        if counts[split]:
            _placeholder_archive(folder / f"{SPLIT_FOLDERS[split]}.tar.gz", manifest)
    jobs = [
        (str(root), seed, split, index, config.to_dict())
        for split in ("train", "test")
        for index in range(counts[split])
    ]
    if workers == 1:
        for job in jobs:
            _write_sample(*job)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(_write_sample, *zip(*jobs, strict=True), chunksize=8))
    return folder


class DVSGestureFolder:
    """Read a DVSGesture-layout folder (synthetic, or Tonic's real download) without Tonic.

    ``root`` is the same ``save_to`` as Tonic's; any number of files works (Tonic wants >= 100).
    Samples are listed by (user, lighting, label) (Tonic's order follows ``os.walk``); an item is
    ``(events, label)`` with events in :data:`~snn.datasets.events.EVENT_DTYPE` (``t`` in us, at
    the files' ms precision), passed through ``transform`` when given. ``sensor_size`` comes from
    the manifest of a synthetic set, else it is DVS128's ``(128, 128, 2)``.
    """

    classes = GESTURE_CLASSES

    def __init__(
        self,
        root: str | os.PathLike[str],
        train: bool = True,
        transform: Callable[[Events], Any] | None = None,
    ) -> None:
        dataset = Path(root) / _DATASET_FOLDER
        folder = dataset / SPLIT_FOLDERS["train" if train else "test"]
        if not folder.is_dir():
            raise ValueError(
                f"DVSGestureFolder: no folder {folder}; write one with "
                "generate_gesture_dataset(root, ...) or pass the save_to given to Tonic"
            )
        self.root = Path(root)
        self.train = train
        self.transform = transform
        self.sensor_size: tuple[int, int, int] = (128, 128, 2)
        if (dataset / MANIFEST_NAME).exists():
            manifest = json.loads((dataset / MANIFEST_NAME).read_text())
            width, height, polarities = manifest["config"]["sensor_size"]
            self.sensor_size = (int(width), int(height), int(polarities))
        entries = []
        for path in folder.glob("*_*/*.npy"):
            user, lighting = path.parent.name.split("_", 1)
            entries.append((int(user[4:]), lighting, int(path.stem), path))
        entries.sort()
        self.users: tuple[int, ...] = tuple(e[0] for e in entries)
        self.lighting: tuple[str, ...] = tuple(e[1] for e in entries)
        self.targets: tuple[int, ...] = tuple(e[2] for e in entries)
        self.paths: tuple[Path, ...] = tuple(e[3] for e in entries)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        events = read_gesture_npy(self.paths[index])
        return (events if self.transform is None else self.transform(events)), self.targets[index]

    def __iter__(self) -> Iterator[tuple[Any, int]]:
        return (self[i] for i in range(len(self)))
