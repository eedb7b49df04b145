"""Training (``snn.training``, ``snn train``): learning, exact resume, checkpoints, bad input.

Tiny CSNNs (2 channels, 32x32 frames of 4 bins) on tiny tensor datasets keep every run well
under a second of training; the PNGs are skipped (``plots=False``) except where they are tested.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.utils.data import TensorDataset  # noqa: E402

import snn  # noqa: E402
from snn.cli import main  # noqa: E402
from snn.deep import lower_torch  # noqa: E402
from snn.training import (  # noqa: E402
    CHECKPOINT_FORMAT,
    CheckpointError,
    TrainConfig,
    build_network,
    capture_rng,
    distributed_env,
    evaluate,
    load_checkpoint,
    restore_rng,
    train,
)
from snn.training.loop import logits_of  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def toy_frames(n: int, seed: int, classes: int = 3, steps: int = 4, size: int = 32) -> Any:
    """Sparse background spikes plus a dense vertical band whose position is the class."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % classes
    frames = (torch.rand(n, steps, 2, size, size, generator=g) < 0.05).float()
    band = size // classes
    for i, k in enumerate(labels.tolist()):
        active = torch.rand(steps, 2, size, band, generator=g) < 0.4
        frames[i, :, :, :, k * band : (k + 1) * band] += active.float()
    return TensorDataset(frames, labels)


TRAIN_SET = toy_frames(12, seed=1)
TEST_SET = toy_frames(6, seed=2)


def tiny_config(**changes: Any) -> TrainConfig:
    options: dict[str, Any] = {
        "model": "csnn",
        "model_options": {"channels": 2},
        "epochs": 3,
        "batch_size": 4,
        "lr": 1e-2,
        "seed": 5,
        "data": {"dataset": "toy", "time_bins": 4},
    }
    options.update(changes)
    return TrainConfig(**options)


def quick_train(config: TrainConfig, out: Path, **options: Any) -> Any:
    options.setdefault("classes", 3)
    options.setdefault("progress", False)
    options.setdefault("plots", False)
    options.setdefault("log", None)
    return train(config, TRAIN_SET, TEST_SET, out, **options)


def _same_tree(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_tree(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same_tree(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return bool(a == b)


# ---------------------------------------------------------------------------------------------
# learning and outputs
# ---------------------------------------------------------------------------------------------
def test_training_learns_a_separable_task_and_writes_every_output(tmp_path: Path) -> None:
    config = tiny_config(epochs=6, model_options={"channels": 4})  # 2 channels can die early
    big_train, big_test = toy_frames(24, seed=1), toy_frames(12, seed=2)
    lines: list[str] = []
    names = ["left", "middle", "right"]
    result = train(
        config,
        big_train,
        big_test,
        tmp_path,
        classes=names,
        progress=False,
        plots=False,
        log=lines.append,
    )
    # chance is 1/3; the band position is linearly separable from the first conv's spikes
    assert result.test_accuracy >= 0.9
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]
    assert result.epochs_completed == 6
    # (the PNGs, skipped here for speed, are checked in the command-line test)
    for name in ("checkpoint.pt", "history.csv", "confusion.csv", "model.h5"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert not list(tmp_path.glob(".*.tmp")), "temporary files left behind"

    rows = list(csv.reader((tmp_path / "confusion.csv").open()))
    assert rows[0] == ["true \\ predicted", "left", "middle", "right"]
    matrix = np.array([[int(c) for c in row[1:]] for row in rows[1:]])
    np.testing.assert_array_equal(matrix, result.confusion)
    assert matrix.sum() == len(big_test)
    history = list(csv.DictReader((tmp_path / "history.csv").open()))
    assert [int(r["epoch"]) for r in history] == list(range(1, 7))
    # the cosine schedule: full rate in the first epoch, falling to lr (1 + cos(5 pi / 6)) / 2
    assert float(history[0]["lr"]) == pytest.approx(1e-2)
    assert float(history[-1]["lr"]) == pytest.approx(1e-2 * (1 + math.cos(5 * math.pi / 6)) / 2)
    text = "\n".join(lines)
    assert "epoch 6/6" in text and "test accuracy" in text and "recall" in text

    # model.h5 holds the trained weights: lowering it again gives the trained module's logits
    loaded = snn.load(tmp_path / "model.h5")
    frames = torch.stack([big_test[i][0] for i in range(4)])
    again = lower_torch(loaded)
    with torch.no_grad():
        torch.testing.assert_close(
            logits_of(again, frames), logits_of(result.module, frames), rtol=0, atol=0
        )
    # and the event-driven backend agrees with torch on the predictions
    predictions = [snn.deep.run(loaded, f.numpy(), backend="numpy").prediction for f in frames]
    assert predictions == logits_of(result.module, frames).argmax(dim=1).tolist()


def test_evaluate_counts_every_sample_once() -> None:
    config = tiny_config()
    module = lower_torch(build_network(config, (2, 32, 32), 3))
    confusion, loss = evaluate(module, TEST_SET, n_classes=3, batch_size=4)
    frames, labels = TEST_SET.tensors
    with torch.no_grad():
        logits = logits_of(module, frames)
    expected = np.zeros((3, 3), dtype=np.int64)
    for true, predicted in zip(labels.tolist(), logits.argmax(dim=1).tolist(), strict=True):
        expected[true, predicted] += 1
    np.testing.assert_array_equal(confusion, expected)
    assert loss == pytest.approx(float(torch.nn.functional.cross_entropy(logits, labels)))


# ---------------------------------------------------------------------------------------------
# checkpoints and exact resume
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["adam", "radam"])
def test_stop_and_resume_equals_one_run_bit_for_bit(tmp_path: Path, optimizer: str) -> None:
    config = tiny_config(optimizer=optimizer)
    whole = quick_train(config, tmp_path / "whole")
    first = quick_train(config, tmp_path / "parts", stop_after=1)
    assert first.epochs_completed == 1 and len(first.history["epoch"]) == 1
    rest = quick_train(config, tmp_path / "parts", resume=True)
    assert rest.epochs_completed == 3

    a = load_checkpoint(tmp_path / "whole" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "parts" / "checkpoint.pt")
    for key in ("model", "optimizer", "scheduler", "rng", "epoch", "config"):
        assert _same_tree(a[key], b[key]), key
    for name in ("train_loss", "train_acc", "test_loss", "test_acc", "lr"):
        assert a["history"][name] == b["history"][name], name
    for key, value in whole.module.state_dict().items():
        assert torch.equal(value, rest.module.state_dict()[key]), key
    # and training did something
    initial = lower_torch(build_network(config, (2, 32, 32), 3)).state_dict()
    assert any(not torch.equal(v, whole.module.state_dict()[k]) for k, v in initial.items())


def test_checkpoint_is_plain_data_readable_with_weights_only(tmp_path: Path) -> None:
    config = tiny_config(epochs=1)
    quick_train(config, tmp_path)
    content = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert content["format"] == CHECKPOINT_FORMAT
    assert content["epoch"] == 1 and content["world_size"] == 1
    assert content["config"] == config.to_dict()
    assert TrainConfig.from_dict(content["config"]) == config
    assert content["input_shape"] == [2, 32, 32] and content["n_classes"] == 3
    assert set(content["rng"]) == {"torch", "numpy", "python", "shuffle", "cuda"}
    assert isinstance(content["rng"]["shuffle"], torch.Tensor)
    assert {"state", "param_groups"} <= set(content["optimizer"])
    assert "last_epoch" in content["scheduler"]


def test_rng_states_round_trip() -> None:
    import random

    shuffle = torch.Generator().manual_seed(3)
    torch.rand(3, generator=shuffle)
    state = capture_rng(shuffle)
    draws = (
        random.random(),
        np.random.standard_normal(),  # noqa: NPY002 - the global generator is the point
        torch.rand(2),
        torch.rand(2, generator=shuffle),
    )
    restore_rng(state, shuffle)
    again = (
        random.random(),
        np.random.standard_normal(),  # noqa: NPY002
        torch.rand(2),
        torch.rand(2, generator=shuffle),
    )
    assert draws[:2] == again[:2]
    assert torch.equal(draws[2], again[2]) and torch.equal(draws[3], again[3])


def test_resume_with_more_epochs_follows_the_new_schedule(tmp_path: Path) -> None:
    quick_train(tiny_config(epochs=2), tmp_path)
    lines: list[str] = []
    result = quick_train(tiny_config(epochs=4), tmp_path, resume=True, log=lines.append)
    assert result.history["epoch"] == [1, 2, 3, 4]
    assert result.history["lr"][2] == pytest.approx(1e-2 * (1 + math.cos(math.pi * 2 / 4)) / 2)
    assert any("now spans 4 epochs" in line for line in lines)


def test_resume_of_a_finished_run_trains_nothing(tmp_path: Path) -> None:
    done = quick_train(tiny_config(epochs=1), tmp_path)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    again = quick_train(tiny_config(epochs=1), tmp_path, resume=True)
    assert again.epochs_completed == 1
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    np.testing.assert_array_equal(again.confusion, done.confusion)


def test_an_existing_run_is_never_overwritten(tmp_path: Path) -> None:
    quick_train(tiny_config(epochs=1), tmp_path)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(ValueError, match=r"already holds a training run.*--resume"):
        quick_train(tiny_config(epochs=1), tmp_path)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


def test_resume_without_a_checkpoint_says_so(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"nothing to resume: no checkpoint\.pt"):
        quick_train(tiny_config(), tmp_path, resume=True)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"lr": 5e-3}, "lr: 0.01 -> 0.005"),
        ({"surrogate": "atan"}, "surrogate: 'fast_sigmoid' -> 'atan'"),
        ({"model_options": {"channels": 3}}, "model_options"),
        ({"data": {"dataset": "toy", "time_bins": 8}}, "data"),
    ],
)
def test_resume_with_another_config_names_the_difference(
    tmp_path: Path, change: dict[str, Any], named: str
) -> None:
    quick_train(tiny_config(epochs=2), tmp_path, stop_after=1)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(CheckpointError, match="another configuration") as info:
        quick_train(tiny_config(epochs=2, **change), tmp_path, resume=True)
    assert named in str(info.value)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


def test_resume_with_other_classes_is_refused(tmp_path: Path) -> None:
    quick_train(tiny_config(epochs=2), tmp_path, stop_after=1)
    with pytest.raises(CheckpointError, match="classes"):
        quick_train(tiny_config(epochs=2), tmp_path, resume=True, classes=["a", "b", "c"])


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "foreign"])
def test_a_damaged_checkpoint_is_reported_and_left_alone(tmp_path: Path, damage: str) -> None:
    quick_train(tiny_config(epochs=2), tmp_path, stop_after=1)
    path = tmp_path / "checkpoint.pt"
    good = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not a checkpoint at all" * 10)
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        torch.save({"weights": torch.zeros(3)}, path)
    damaged = path.read_bytes()
    with pytest.raises(CheckpointError, match=r"checkpoint .*checkpoint\.pt cannot be used"):
        quick_train(tiny_config(epochs=2), tmp_path, resume=True)
    assert path.read_bytes() == damaged
    with pytest.raises(ValueError, match="already holds a training run"):
        quick_train(tiny_config(epochs=2), tmp_path)
    assert path.read_bytes() == damaged


def test_a_checkpoint_with_pickled_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "version": 1, "config": TrainConfig}, path)
    with pytest.raises(CheckpointError, match="cannot be used"):
        load_checkpoint(path)


def test_a_failed_save_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_train(tiny_config(epochs=3), tmp_path, stop_after=1)
    path = tmp_path / "checkpoint.pt"
    good = path.read_bytes()
    real_save = torch.save

    def save_half_then_fail(obj: Any, f: Any) -> None:
        real_save(obj, f)
        Path(f).write_bytes(Path(f).read_bytes()[:100])  # a partial file on disk...
        raise OSError("disk full")  # ...and the write fails

    monkeypatch.setattr(torch, "save", save_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        quick_train(tiny_config(epochs=3), tmp_path, resume=True)
    assert path.read_bytes() == good
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert load_checkpoint(path)["epoch"] == 1


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": "resnet"}, "unknown model 'resnet'; valid choices: cordone, csnn"),
        ({"optimizer": "sgd"}, "unknown optimizer 'sgd'; valid choices: adam, radam"),
        ({"surrogate": "relu"}, "unknown surrogate 'relu'; valid choices: .*fast_sigmoid"),
        ({"surrogate_scale": -1.0}, "surrogate scale must be a positive number"),
        ({"model_options": {"depth": 3}}, r"takes no option\(s\) \['depth'\]; valid: .*channels"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"lr": float("nan")}, "lr must be a finite number"),
        ({"lr_min": 1.0}, "lr_min 1.0 exceeds lr"),
    ],
)
def test_bad_configs_say_what_is_valid(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tiny_config(**change)


def test_frames_that_do_not_fit_the_model_are_reported(tmp_path: Path) -> None:
    small = TensorDataset(torch.zeros(4, 2, 2, 16, 16), torch.zeros(4, dtype=torch.int64))
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"model 'csnn' cannot take frames of shape \(2, 16, 16\)"):
        train(tiny_config(), small, None, out, classes=3, progress=False, log=None)
    assert not out.exists()
    flat = TensorDataset(torch.zeros(4, 2, 32, 32), torch.zeros(4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"expected \(T, C, H, W\)"):
        train(tiny_config(), flat, None, tmp_path, classes=3, progress=False, log=None)
    with pytest.raises(ValueError, match=r"label 2 is not a class index 0\.\.1 \(2 classes\)"):
        train(tiny_config(), TRAIN_SET, None, tmp_path / "labels", classes=2, progress=False)
    with pytest.raises(ValueError, match="number of classes is unknown"):
        train(tiny_config(), TRAIN_SET, None, tmp_path, progress=False, log=None)


def test_torchrun_variables_are_checked() -> None:
    assert distributed_env({}) == (0, 1, 0)
    env = {
        "RANK": "1",
        "WORLD_SIZE": "2",
        "LOCAL_RANK": "1",
        "MASTER_ADDR": "h",
        "MASTER_PORT": "1",
    }
    assert distributed_env(env) == (1, 2, 1)
    with pytest.raises(ValueError, match="need 0 <= RANK < WORLD_SIZE"):
        distributed_env({**env, "RANK": "2"})
    with pytest.raises(ValueError, match="WORLD_SIZE='two' must be an integer"):
        distributed_env({**env, "WORLD_SIZE": "two"})
    with pytest.raises(ValueError, match="MASTER_PORT is not set"):
        distributed_env({k: v for k, v in env.items() if k != "MASTER_PORT"})


# ---------------------------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------------------------
def test_cli_trains_on_a_synthetic_gesture_set_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tonic")
    data, out = tmp_path / "data", tmp_path / "run"
    argv = [
        "train", "dvs-gesture", "--data", str(data), "--synthetic", "11", "--synthetic-test",
        "11", "--model", "csnn", "--channels", "2", "--epochs", "2", "--batch-size", "6",
        "--time-bins", "4", "--representation", "polarity", "--out", str(out), "--no-progress",
    ]  # fmt: skip
    assert main([*argv, "--stop-after", "1"]) == 0
    text = capsys.readouterr().out
    assert "11 training and 11 test samples" in text
    assert "frames (4, 1, 32, 32)" in text  # polarity: one signed channel at 128 / 4
    assert "epoch 1/2" in text and "epoch 2/2" not in text
    assert "partly trained: epoch 1/2" in text
    assert main([*argv, "--resume"]) == 0
    text = capsys.readouterr().out
    assert "resuming" in text and "epoch 2/2" in text and "ms per training step" in text
    for name in ("checkpoint.pt", "history.csv", "confusion.csv", "model.h5"):
        assert (out / name).is_file(), name
    for name in ("accuracy.png", "confusion.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert load_checkpoint(out / "checkpoint.pt")["config"]["data"]["representation"] == "polarity"
    net = snn.load(out / "model.h5")
    assert net.populations[0].shape == (1, 32, 32)

    # the same run again without --resume, another representation on --resume: one-line errors
    assert main(argv) == 2
    assert "already holds a training run" in capsys.readouterr().err
    changed = [a if a != "polarity" else "counts" for a in argv]
    assert main([*changed, "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("snn: error: checkpoint") and "'polarity'" in err and "'counts'" in err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--model", "resnet"], "unknown model 'resnet'; valid choices: cordone, csnn"),
        (["--optimizer", "sgd"], "unknown optimizer 'sgd'; valid choices: adam, radam"),
        (["--surrogate", "relu"], "unknown surrogate 'relu'; valid choices"),
        (["--representation", "voxels"], "unknown representation 'voxels'"),
        (["--epochs", "0"], "must be a positive integer"),
        (["--model", "cordone", "--channels", "4"], "model 'cordone' takes no option"),
        (["--device", "tpu"], "unknown device 'tpu'; valid: auto, cpu, cuda, cuda:N"),
    ],
)
def test_cli_bad_options_fail_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str], message: str
) -> None:
    pytest.importorskip("tonic")
    data = tmp_path / "data"
    from snn.training.gesture import generate_synthetic_gestures

    generate_synthetic_gestures(data, 1, 1)
    argv = ["train", "dvs-gesture", "--data", str(data), "--model", "csnn", "--epochs", "1",
            "--time-bins", "4", "--no-cache", "--out", str(tmp_path / "run"), *option]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("snn: error:") and message in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_cli_reports_missing_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tonic")
    argv = ["train", "dvs-gesture", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    assert "DVS128 Gesture train split not found" in capsys.readouterr().err


def test_cli_help_names_every_registered_choice(capsys: pytest.CaptureFixture[str]) -> None:
    from snn.datasets.frames import REPRESENTATIONS
    from snn.deep.surrogate import SURROGATES
    from snn.training import MODELS, OPTIMIZER_NAMES

    assert main(["train", "dvs-gesture", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in [*MODELS, *OPTIMIZER_NAMES, *SURROGATES, *REPRESENTATIONS]:
        assert name in text, name
    assert "torchrun --nproc_per_node" in text


@pytest.mark.slow
def test_demo_learns_synthetic_gestures_and_needs_time(tmp_path: Path) -> None:
    """The demo's budget: >= 90 % on 1100 synthetic gestures; one accumulated frame falls short."""
    from snn.training.demo import gesture_demo

    res = gesture_demo(tmp_path, seed=1, progress=False, log=lambda _msg: None)
    assert res.test_accuracy >= 90.0
    assert res.baseline_accuracy is not None
    assert res.baseline_accuracy <= res.test_accuracy - 10.0
    same, total = res.numba_agreement
    assert same >= 0.98 * total
