"""Data-parallel training across processes and machines, as launched by ``torchrun``.

``torchrun`` (``python -m torch.distributed.run``) starts one process per device and sets
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` in each; for
several machines run it on each with the same ``--nnodes``, ``--rdzv-endpoint`` (or
``--master-addr``/``--master-port``) and its own ``--node-rank``. :func:`init_distributed` reads
those variables and joins the process group: ``nccl`` when each process has a CUDA device,
``gloo`` on CPUs. Without them (``WORLD_SIZE`` unset or 1) it returns a single-process context and
touches nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")

#: the environment variables torchrun sets in each process
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands: ``rank`` of ``world_size`` processes, ``local_rank`` on its
    machine, the ``device`` it trains on and the process group's ``backend`` (None alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    backend: str | None = None

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, plots and logs."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def all_sum(self, values: torch.Tensor) -> torch.Tensor:
        """Element-wise sum of ``values`` over all processes (a copy; float64 or int64)."""
        if not self.distributed:
            return values.clone()
        total = values.detach().clone().to(self.device)
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total.cpu()

    def on_main(self, work: Callable[[], T]) -> T:
        """Run ``work`` on rank 0 and give its result (or its ``ValueError``/``OSError``) to all.

        Every process raises the same error, so no rank waits forever for one that failed.
        """
        if not self.distributed:
            return work()
        box: list[Any] = [None]
        if self.is_main:
            try:
                box[0] = ("ok", work())
            except (ValueError, OSError) as exc:
                box[0] = ("error", exc)
        dist.broadcast_object_list(box, src=0, device=self._object_device())
        status, value = box[0]
        if status == "error":
            raise value
        return value

    def on_each_machine(self, work: Callable[[], T]) -> T | None:
        """Run ``work`` on local rank 0 of every machine while its other processes wait.

        For per-machine preparation (writing a data set, a frame cache): local rank 0 gets the
        result, the others None once it is done. A ``ValueError``/``OSError`` there is raised
        in that process, and every other process raises a ``RuntimeError`` pointing to it.
        """
        if not self.distributed:
            return work()
        result: T | None = None
        error: BaseException | None = None
        if self.local_rank == 0:
            try:
                result = work()
            except (ValueError, OSError) as exc:
                error = exc
        failures = int(self.all_sum(torch.tensor([0 if error is None else 1]))[0])
        if error is not None:
            raise error
        if failures:
            raise RuntimeError(
                f"{failures} machine(s) failed to prepare the data; see the error of local rank 0 "
                "there"
            )
        return result

    def _object_device(self) -> torch.device | None:
        return self.device if self.backend == "nccl" else None


def _int_variable(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"environment variable {name}={text!r} must be an integer >= 0")
    return value


def distributed_env(env: Mapping[str, str] | None = None) -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from torchrun's variables (``(0, 1, 0)`` without)."""
    env = os.environ if env is None else env
    world_size = _int_variable(env, "WORLD_SIZE", 1)
    rank = _int_variable(env, "RANK", 0)
    local_rank = _int_variable(env, "LOCAL_RANK", rank)
    if world_size < 1 or rank >= world_size:
        raise ValueError(
            f"RANK={rank} and WORLD_SIZE={world_size}: need 0 <= RANK < WORLD_SIZE; launch "
            "with torchrun, which sets both"
        )
    if world_size > 1:
        missing = [v for v in ("MASTER_ADDR", "MASTER_PORT") if not env.get(v)]
        if missing:
            raise ValueError(
                f"WORLD_SIZE={world_size} but {', '.join(missing)} is not set; launch with "
                "torchrun, which sets the rendezvous address"
            )
    return rank, world_size, local_rank


def _pick_device(device: str | torch.device | None, local_rank: int) -> torch.device:
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N") from exc
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' requested but torch sees no CUDA device")
        if chosen.index is None:
            chosen = torch.device("cuda", local_rank % torch.cuda.device_count())
    return chosen


def init_distributed(device: str | torch.device | None = None) -> DistributedContext:
    """This process's :class:`DistributedContext`; joins torchrun's process group if needed.

    ``device``: ``"auto"``/None (this process's CUDA device ``LOCAL_RANK`` if any, else CPU),
    ``"cpu"`` or ``"cuda"``. Calling it again returns the same group.
    """
    rank, world_size, local_rank = distributed_env()
    chosen = _pick_device(device, local_rank)
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if world_size == 1:
        return DistributedContext(device=chosen)
    backend = "nccl" if chosen.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    else:
        backend = str(dist.get_backend())
    return DistributedContext(rank, world_size, local_rank, chosen, backend)


def shutdown_distributed() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
