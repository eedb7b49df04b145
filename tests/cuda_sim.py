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
import subprocess
import sys

import pytest


def use_simulator() -> None:
    """Import numba.cuda with NUMBA_ENABLE_CUDASIM=1 (unless set), then restore the variable.

    Numba reads its configuration when ``numba`` is first imported, which another test module
    may already have done (any module with a Numba kernel): the configuration is re-read here so
    that the simulator is still chosen, as long as ``numba.cuda`` itself is not yet imported.
    """
    before = os.environ.get("NUMBA_ENABLE_CUDASIM")
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
    try:
        if importlib.util.find_spec("numba_cuda") is not None:
            if "numba.core.config" in sys.modules and "numba.cuda" not in sys.modules:
                sys.modules["numba.core.config"].reload_config()
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


def clean_env() -> dict[str, str]:
    """The environment for a subprocess that must see the real CUDA target (no simulator)."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


_PTX_PROBE = """
from numba import cuda, float64

def kernel(a):
    a[0] = 1.0

cuda.compile_ptx(kernel, (float64[::1],), cc=(9, 0))
"""


def skip_unless_nvvm() -> None:
    """Skip the calling test unless PTX can be compiled here (NVVM: a CUDA toolkit or the
    nvidia-nvvm wheel via CUDA_HOME; no GPU needed)."""
    probe = subprocess.run(
        [sys.executable, "-c", _PTX_PROBE],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if probe.returncode != 0:
        pytest.skip("NVVM/NVRTC (CUDA toolkit) not installed: cannot compile PTX here")


def run_without_simulator(code: str, timeout: float = 300.0) -> str:
    """Run ``python -c code`` with the real CUDA target (no simulator); its stdout.

    The test fails with the subprocess's stderr when it exits non-zero.
    """
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        pytest.fail(out.stderr[-3000:])
    return out.stdout
