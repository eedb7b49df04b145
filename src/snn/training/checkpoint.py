"""Training checkpoints: one file that resumes a run exactly, written atomically, read safely.

A checkpoint is a ``torch.save`` of plain containers and tensors only, so that
``torch.load(path, weights_only=True)`` reads it (no pickled objects, nothing executed):

* ``format``, ``version``: :data:`CHECKPOINT_FORMAT`, :data:`CHECKPOINT_VERSION`;
* ``config``: :meth:`TrainConfig.to_dict`; ``input_shape``, ``n_classes``, ``class_names``;
* ``epoch``: epochs completed; ``world_size``: processes that trained it;
* ``model``, ``optimizer``, ``scheduler``: the three ``state_dict``\\s;
* ``history``: per-epoch lists (see :data:`HISTORY_FIELDS`);
* ``rng``: the states of torch's, NumPy's and Python's global generators, of CUDA's, and of the
  generator that shuffles the training set (:func:`capture_rng` / :func:`restore_rng`).

The file is written beside its final name and renamed over it when complete
(:func:`snn.io.atomic_write`), so the previous checkpoint stays intact until the new one is whole.
"""

from __future__ import annotations

import os
import pickle
import random
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from snn.io import atomic_write

CHECKPOINT_FORMAT = "snn-stack training checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"

#: per-epoch lists in ``history`` (times in seconds, accuracies as fractions; ``nan`` without a
#: test set)
HISTORY_FIELDS: tuple[str, ...] = (
    "epoch",
    "lr",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "epoch_time",
    "step_time",
)

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "config": dict,
    "input_shape": list,
    "n_classes": int,
    "class_names": list,
    "epoch": int,
    "world_size": int,
    "model": dict,
    "optimizer": dict,
    "scheduler": dict,
    "history": dict,
    "rng": dict,
}


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, truncated, foreign, or of another run."""


# ---------------------------------------------------------------------------------------------
# random number generators
# ---------------------------------------------------------------------------------------------
def capture_rng(shuffle: torch.Generator | None = None) -> dict[str, Any]:
    """The states of every generator a training step may draw from, as tensors and lists."""
    # NumPy's legacy global generator is the one third-party transforms draw from
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # noqa: NPY002
    version, mt_state, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "bit_generator": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": int(version), "state": list(mt_state), "gauss_next": gauss_next},
        "shuffle": None if shuffle is None else shuffle.get_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
    }
    return state


def restore_rng(state: Mapping[str, Any], shuffle: torch.Generator | None = None) -> None:
    """Put back the generator states of :func:`capture_rng`."""
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            np_state["bit_generator"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    py_state = state["python"]
    random.setstate((py_state["version"], tuple(py_state["state"]), py_state["gauss_next"]))
    if shuffle is not None and state.get("shuffle") is not None:
        shuffle.set_state(state["shuffle"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and CUDA) global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002
    torch.manual_seed(seed)


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------
def save_checkpoint(path: str | os.PathLike[str], checkpoint: Mapping[str, Any]) -> None:
    """Write ``checkpoint`` (the fields of the module docstring) atomically to ``path``."""
    content = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **checkpoint}
    with atomic_write(path) as tmp:
        torch.save(content, tmp)


def _unusable(path: Path, reason: str) -> CheckpointError:
    return CheckpointError(
        f"checkpoint {path} cannot be used: {reason}. The file was left as it is; restore a "
        "good copy, or move it away (or choose another output directory) to start afresh"
    )


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a checkpoint with ``torch.load(..., weights_only=True)``.

    Raises :class:`CheckpointError` (a ``ValueError``) that names the file for a truncated,
    corrupt or foreign file, or one written by a newer version; the file is never modified.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no checkpoint at {file}")
    try:
        content = torch.load(file, map_location="cpu", weights_only=True)
    except (
        RuntimeError,
        EOFError,
        OSError,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
    ) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _unusable(
            file, f"it is truncated, corrupt or not a torch file ({first_line})"
        ) from exc
    if not isinstance(content, dict) or content.get("format") != CHECKPOINT_FORMAT:
        raise _unusable(file, f"it is not an {CHECKPOINT_FORMAT}")
    version = content.get("version")
    if not isinstance(version, int) or not 1 <= version <= CHECKPOINT_VERSION:
        raise _unusable(
            file, f"format version {version!r}; this snn-stack reads up to {CHECKPOINT_VERSION}"
        )
    for key, kind in _REQUIRED.items():
        if not isinstance(content.get(key), kind):
            raise _unusable(file, f"field {key!r} is missing or damaged")
    return content
