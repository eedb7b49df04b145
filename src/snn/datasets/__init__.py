"""Event data: readers for event-camera formats, DVS128 Gesture, frames and a synthetic set.

One event format for the whole project (:mod:`snn.datasets.events`): structured arrays with
fields ``x, y, t, p`` (t in microseconds), sensor sizes ``(width, height, polarities)``.
"""

from snn.datasets.aedat import (
    DVS128_SENSOR_SIZE,
    GestureWindow,
    convert_ibm_gesture,
    read_aedat31,
    read_gesture_labels,
    read_trial_list,
    slice_gesture_samples,
)
from snn.datasets.dvs_gesture import GESTURE_CLASSES, DVSGestureFrames
from snn.datasets.events import EVENT_DTYPE, check_events, make_events
from snn.datasets.frames import REPRESENTATIONS, CorruptCacheError, FrameOptions, to_frames
from snn.datasets.readers import EVENT_READERS, read_events
from snn.datasets.synthetic import (
    DVSEmulator,
    DVSGestureFolder,
    SyntheticGestureConfig,
    generate_gesture_dataset,
    render_gesture,
    synthetic_gesture_sample,
)

__all__ = [
    "DVS128_SENSOR_SIZE",
    "EVENT_DTYPE",
    "EVENT_READERS",
    "GESTURE_CLASSES",
    "REPRESENTATIONS",
    "CorruptCacheError",
    "DVSEmulator",
    "DVSGestureFolder",
    "DVSGestureFrames",
    "FrameOptions",
    "GestureWindow",
    "SyntheticGestureConfig",
    "check_events",
    "convert_ibm_gesture",
    "generate_gesture_dataset",
    "make_events",
    "read_aedat31",
    "read_events",
    "read_gesture_labels",
    "read_trial_list",
    "render_gesture",
    "slice_gesture_samples",
    "synthetic_gesture_sample",
    "to_frames",
]
