"""Shared set-up of the CUDA test modules: Numba's CUDA simulator when there is no GPU.

Call :func:`use_simulator` at the top of a test module, before anything imports ``numba.cuda``;
then :func:`skip_module_unless_available` skips the module cleanly when the simulator could not
be switched on (``numba.cuda`` was imported earlier in the same process, e.g. by another test
module: run the file on its own).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from typing import Any

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


#: a script fragment that compiles and "launches" kernels without a GPU: the current device
#: reports compute capability 9.0, host arrays stand in for device arrays, and a ``_Capture``
#: put in a kernel's place records one launch's arguments in ``launched["args"]``
FAKE_LAUNCH_SCRIPT = """
import numba, numpy as np
from numba import cuda
import numba.cuda.dispatcher as dispatcher

class _Device:  # device functions are compiled for the current device's compute capability
    compute_capability = (9, 0)

dispatcher.get_current_device = lambda: _Device()
cuda.to_device = np.asarray
cuda.device_array = lambda shape, dtype: np.zeros(shape, dtype)
launched = {}

class _Capture:
    def __getitem__(self, config):
        return lambda *args: launched.setdefault("args", args)
"""

#: the start of a script (run by :func:`kernel_counts`, with a mode ``ptx`` or ``ir`` as its
#: argument) that compiles a ``CudaSimulator``'s step kernel for sm_90 without a GPU:
#: ``captured_kernel(sim)`` fakes one launch of a chunk to capture the kernel and its argument
#: types (host arrays stand in for device arrays), ``llvm_ir`` types and lowers it as numba-cuda
#: would for NVVM, ``ours`` drops numba-cuda's xoroshiro128+ functions from that IR (their one
#: product scales a 53-bit integer by 2**-53: exact, and compared, never added)
KERNEL_SCRIPT_PRELUDE = (
    """
import json, re, sys
from snn.backends import cuda_backend as cb
from snn.compiled import compile_network
import snn
"""
    + FAKE_LAUNCH_SCRIPT
    + """
cb.unavailable_reason = lambda: None
cb.init_xoroshiro128p_states = lambda states, seed: None  # numpy stand-ins: no device copy

def captured_kernel(sim):
    kernel, sim._kernel, sim._blocks = sim._kernel, _Capture(), 1
    try:
        sim._run_chunk(2)
    except Exception:
        pass  # the fake launch returns nothing to harvest
    return kernel.py_func, tuple(numba.typeof(a) for a in launched.pop("args"))

def llvm_ir(pyfunc, sig):
    # numba-cuda's typing and lowering, without NVVM (a private function: skip if it moved)
    lib, _ = compiler._compile_pyfunc_with_fixup(
        pyfunc, sig, device=False, cc=(9, 0), abi="numba"
    )
    return "\\n".join(lib.llvm_strs)

def ours(code):
    return "".join(
        f for f in re.split(r"(?m)^(?=define )", code)
        if "4cuda6random" not in f.split("\\n", 1)[0]
    )

mode = sys.argv[1]
if mode == "ir":
    from numba.cuda import compiler
    if not hasattr(compiler, "_compile_pyfunc_with_fixup"):
        print("SKIP numba-cuda has no compiler._compile_pyfunc_with_fixup")
        sys.exit(0)
"""
)


def kernel_counts(script: str, mode: str) -> list[dict[str, Any]]:
    """Run a kernel-compiling ``script`` (:data:`KERNEL_SCRIPT_PRELUDE` and what follows it)
    with ``mode`` and the real CUDA target; its rows of instruction counts (one JSON object a
    line). Skips the test when the script says ``SKIP``; fails it with the script's stderr when
    it exits non-zero."""
    out = subprocess.run(
        [sys.executable, "-c", script, mode],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    if out.stdout.startswith("SKIP"):
        pytest.skip(out.stdout[5:].strip())
    return [json.loads(line) for line in out.stdout.splitlines()]
