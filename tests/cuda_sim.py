"""Shared set-up of the CUDA test modules: Numba's CUDA simulator when there is no GPU.

Call :func:`use_simulator` at the top of a test module, before anything imports ``numba.cuda``;
then :func:`skip_module_unless_available` skips the module cleanly when the simulator could not
be switched on (``numba.cuda`` was imported earlier in the same process, e.g. by another test
module: run the file on its own).
"""

from __future__ import annotations

import importlib
import importlib.util
import os

import pytest


def use_simulator() -> None:
    """Import numba.cuda with NUMBA_ENABLE_CUDASIM=1 (unless set), then restore the variable."""
    before = os.environ.get("NUMBA_ENABLE_CUDASIM")
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
    try:
        if importlib.util.find_spec("numba_cuda") is not None:
            importlib.import_module("numba.cuda")
    finally:
        if before is None:
            del os.environ["NUMBA_ENABLE_CUDASIM"]


def skip_module_unless_available() -> None:
    """Skip the calling module when the cuda backend cannot run (with the reason)."""
    from snn.backends import cuda_backend

    reason = cuda_backend.unavailable_reason()
    if reason is not None:
        pytest.skip(
            f"{reason} (numba.cuda was imported before this module could enable the simulator: "
            "run this file on its own)",
            allow_module_level=True,
        )
