"""Data-parallel training under ``torchrun``: two CPU processes with the gloo backend.

``torchrun --standalone`` picks a free port and sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT`` in each process, exactly as on a cluster; the trainer reads
them (:func:`snn.training.init_distributed`). The reference for the averaged gradient is an
independent single-process step on the union of the two shards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

from snn.deep import lower_torch  # noqa: E402
from snn.training import TrainConfig, build_network, load_checkpoint, make_optimizer  # noqa: E402
from snn.training.loop import logits_of  # noqa: E402

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(),
    reason="torch.distributed with the gloo backend is not available",
)

#: one step: 4 samples, 2 per process and batch
CONFIG = TrainConfig(
    model="csnn", model_options={"channels": 2}, epochs=1, batch_size=2, lr=1e-2, seed=7
)

WORKER = textwrap.dedent(
    """
    import os
    import sys
    from pathlib import Path

    import torch

    torch.set_num_threads(1)
    from torch.utils.data import TensorDataset

    from snn.training import TrainConfig, shutdown_distributed, train

    root = Path(sys.argv[1])
    config = TrainConfig.from_dict(torch.load(root / "config.pt", weights_only=True))
    frames, labels = torch.load(root / "data.pt", weights_only=True)
    rank = int(os.environ["RANK"])
    result = train(
        config,
        TensorDataset(frames, labels),
        TensorDataset(frames, labels),
        root / f"out-rank{rank}",  # rank 1 must leave its folder unmade
        classes=3,
        progress=False,
        plots=False,
        log=None,
        device="cpu",
    )
    torch.save(result.module.state_dict(), root / f"weights-rank{rank}.pt")
    torch.save(torch.tensor(result.confusion), root / f"confusion-rank{rank}.pt")
    shutdown_distributed()
    """
)


def _torchrun() -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1"]


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command, cwd=cwd, env=_environment(), capture_output=True, text=True, timeout=240
    )
    if done.returncode != 0:
        pytest.fail(f"torchrun failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def test_two_processes_hold_identical_weights_equal_to_one_big_batch(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    frames = (torch.rand(4, 4, 2, 32, 32, generator=g) < 0.3).float()
    labels = torch.tensor([0, 1, 2, 0])
    torch.save(CONFIG.to_dict(), tmp_path / "config.pt")
    torch.save((frames, labels), tmp_path / "data.pt")
    (tmp_path / "worker.py").write_text(WORKER)

    _run([*_torchrun(), "--nproc_per_node", "2", "worker.py", str(tmp_path)], cwd=tmp_path)

    rank0 = torch.load(tmp_path / "weights-rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "weights-rank1.pt", weights_only=True)
    initial = lower_torch(build_network(CONFIG, (2, 32, 32), 3)).state_dict()
    assert rank0.keys() == rank1.keys() == initial.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), f"{key} differs between the ranks"
    trained = [k for k in rank0 if not torch.equal(rank0[k], initial[k])]
    assert any(k.startswith("kernels.") for k in trained), "the step changed no kernel"

    # DDP averages the two shards' mean gradients: one step on all 4 samples at once
    torch.manual_seed(CONFIG.seed)
    module = lower_torch(build_network(CONFIG, (2, 32, 32), 3))
    optimizer = make_optimizer(CONFIG, module.parameters())
    loss = torch.nn.functional.cross_entropy(logits_of(module, frames), labels)
    loss.backward()
    optimizer.step()
    for key, value in module.state_dict().items():
        torch.testing.assert_close(rank0[key], value, rtol=1e-5, atol=1e-6, msg=key)

    # the test split is sharded and the confusion counts summed: every sample counted once
    confusion = torch.load(tmp_path / "confusion-rank1.pt", weights_only=True)
    assert int(confusion.sum()) == 4
    assert torch.equal(confusion, torch.load(tmp_path / "confusion-rank0.pt", weights_only=True))

    # only rank 0 writes
    assert not (tmp_path / "out-rank1").exists()
    checkpoint = load_checkpoint(tmp_path / "out-rank0" / "checkpoint.pt")
    assert checkpoint["world_size"] == 2 and checkpoint["epoch"] == 1
    for key, value in checkpoint["model"].items():
        assert torch.equal(value, rank0[key]), key


def test_cli_under_torchrun_trains_a_synthetic_set(tmp_path: Path) -> None:
    pytest.importorskip("tonic")
    data, out = tmp_path / "data", tmp_path / "run"
    argv = [
        "-m", "snn.cli", "train", "dvs-gesture", "--data", str(data), "--synthetic", "8",
        "--synthetic-test", "4", "--model", "csnn", "--channels", "2", "--epochs", "1",
        "--batch-size", "2", "--time-bins", "4", "--out", str(out), "--no-progress",
    ]  # fmt: skip
    done = _run([*_torchrun(), "--nproc_per_node", "2", *argv], cwd=tmp_path)
    # rank 0 alone logs: one header line, one epoch line
    assert done.stdout.count("training csnn") == 1, done.stdout
    assert "x 2 processes (gloo)" in done.stdout
    assert done.stdout.count("epoch 1/1:") == 1
    checkpoint = load_checkpoint(out / "checkpoint.pt")
    assert checkpoint["world_size"] == 2 and checkpoint["config"]["data"]["time_bins"] == 4
    assert (out / "model.h5").is_file() and (out / "accuracy.png").is_file()
    assert len(list((data / "snn-frame-cache").glob("*.h5"))) == 2
