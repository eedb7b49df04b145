r"""The training loop: surrogate-gradient BPTT of a deep SNN on frames, with exact resume.

Each step runs a batch of frames ``(B, T, C, H, W)`` through the :class:`SpikingModule` (which
unrolls the membrane recurrence over the ``T`` bins plus the network's latency, so
``loss.backward()`` is backpropagation through time with the configured surrogate derivative) and
minimises the cross-entropy of the time-averaged readout potentials,

.. math:: \mathcal L = -\frac1B \sum_b \log \frac{e^{z_{b, y_b}}}{\sum_k e^{z_{b,k}}}, \qquad
          z_{b,k} = \frac1{n} \sum_{m=1}^{n} v^{readout}_{b,k}(m),

with Adam or RAdam and a cosine learning-rate schedule over the epochs
(:meth:`TrainConfig.lr_at`). After every epoch the test split is evaluated (confusion matrix)
and rank 0 writes, each atomically, into the output directory:

* ``checkpoint.pt``: everything needed to continue exactly (:mod:`snn.training.checkpoint`);
* ``history.csv`` and ``accuracy.png``: per-epoch loss, accuracy, learning rate and times;
* ``confusion.csv`` and ``confusion.png``: the latest test confusion matrix (rows: true class);

and at the end ``model.h5``: the trained weights exported into the frontend network
(:meth:`SpikingModule.export`, :func:`snn.save`), which every ``snn`` backend can run.

A run of ``E`` epochs and a run stopped after ``k`` epochs (``stop_after=k``) then resumed to
``E`` end with the same weights bit for bit on the same machine and thread count.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler, Sampler

from snn.deep.torch_lowering import SpikingModule
from snn.io import atomic_write
from snn.io import save as save_network
from snn.network import Network
from snn.training.checkpoint import (
    CHECKPOINT_NAME,
    HISTORY_FIELDS,
    CheckpointError,
    capture_rng,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
    seed_everything,
)
from snn.training.config import TrainConfig, build_network, config_differences, cosine_factor
from snn.training.distributed import DistributedContext, init_distributed

#: the files a run writes into its output directory
OUTPUT_FILES = {
    "checkpoint": CHECKPOINT_NAME,
    "history": "history.csv",
    "accuracy_plot": "accuracy.png",
    "confusion": "confusion.csv",
    "confusion_plot": "confusion.png",
    "model": "model.h5",
}

Log = Callable[[str], None]


def make_optimizer(config: TrainConfig, parameters: Any) -> torch.optim.Optimizer:
    """``config.optimizer`` over ``parameters`` at ``config.lr``."""
    optimizers: dict[str, Callable[..., torch.optim.Optimizer]] = {
        "adam": torch.optim.Adam,
        "radam": torch.optim.RAdam,
    }
    if config.optimizer not in optimizers:
        raise ValueError(
            f"unknown optimizer {config.optimizer!r}; valid choices: {', '.join(optimizers)}"
        )
    return optimizers[config.optimizer](parameters, lr=config.lr, weight_decay=config.weight_decay)


def make_scheduler(
    config: TrainConfig, optimizer: torch.optim.Optimizer
) -> torch.optim.lr_scheduler.LambdaLR:
    """The cosine schedule of :meth:`TrainConfig.lr_at`, stepped once per epoch.

    A closed form of the epoch (not a recursion on the previous rate), so that a resumed run
    whose ``epochs`` changed continues on the new schedule.
    """
    floor = config.lr_min / config.lr

    def factor(epoch: int) -> float:
        return floor + (1.0 - floor) * cosine_factor(epoch, config.epochs)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Collate:
    """Stack ``(frames, label)`` samples into float32 frames and int64 labels, checked."""

    n_classes: int

    def __call__(self, batch: Sequence[tuple[Any, Any]]) -> tuple[torch.Tensor, torch.Tensor]:
        frames = torch.stack(
            [torch.as_tensor(np.asarray(f), dtype=torch.float32) for f, _ in batch]
        )
        labels = torch.tensor([int(label) for _, label in batch], dtype=torch.int64)
        bad = labels[(labels < 0) | (labels >= self.n_classes)]
        if bad.numel():
            raise ValueError(
                f"label {int(bad[0])} is not a class index 0..{self.n_classes - 1} "
                f"({self.n_classes} classes)"
            )
        return frames, labels


def _size(dataset: Dataset[Any]) -> int:
    if not isinstance(dataset, Sized):
        raise ValueError(
            f"{type(dataset).__name__} has no len(): training needs map-style datasets "
            "(len and indexing), e.g. snn.datasets.dvs_gesture.DVSGestureFrames"
        )
    return len(dataset)


def _sample_shape(dataset: Dataset[Any]) -> tuple[int, ...]:
    frames, _ = dataset[0]
    shape = tuple(np.shape(frames))
    if len(shape) != 4:
        raise ValueError(
            f"the dataset yields frames of shape {shape}; expected (T, C, H, W) per sample"
        )
    return shape


def _class_names(classes: Sequence[str] | int | None, dataset: Dataset[Any]) -> list[str]:
    if classes is None:
        classes = getattr(dataset, "classes", None)
    if classes is None:
        raise ValueError(
            "the number of classes is unknown: pass classes=<names or count>, or give the "
            "dataset a 'classes' attribute"
        )
    if isinstance(classes, int):
        if classes < 2:
            raise ValueError(f"need at least 2 classes, got {classes}")
        return [str(k) for k in range(classes)]
    names = [str(c) for c in classes]
    if len(names) < 2:
        raise ValueError(f"need at least 2 classes, got {names}")
    return names


# ---------------------------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------------------------
def logits_of(module: nn.Module, frames: torch.Tensor) -> torch.Tensor:
    """The readout's time-averaged potentials as ``(batch, n_classes)``."""
    logits: torch.Tensor = module(frames)
    return logits.reshape(frames.shape[0], -1)


@torch.no_grad()
def _confusion(
    module: SpikingModule,
    dataset: Dataset[Any],
    n_classes: int,
    batch_size: int,
    device: torch.device,
    indices: Sequence[int] | None = None,
) -> tuple[NDArray[np.int64], float]:
    """Confusion counts (true x predicted) and the summed loss over ``indices`` of ``dataset``."""
    was_training = module.training
    module.eval()
    confusion = torch.zeros((n_classes, n_classes), dtype=torch.int64)
    loss_sum = 0.0
    subset = list(range(_size(dataset))) if indices is None else list(indices)
    loader = DataLoader(
        dataset, batch_size=batch_size, sampler=subset, collate_fn=_Collate(n_classes)
    )
    for frames, labels in loader:
        logits = logits_of(module, frames.to(device))
        labels_d = labels.to(device)
        loss_sum += float(F.cross_entropy(logits, labels_d, reduction="sum"))
        predicted = logits.argmax(dim=1).cpu()
        confusion += torch.bincount(
            labels * n_classes + predicted, minlength=n_classes * n_classes
        ).reshape(n_classes, n_classes)
    module.train(was_training)
    return confusion.numpy(), loss_sum


def evaluate(
    module: SpikingModule,
    dataset: Dataset[Any],
    n_classes: int,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> tuple[NDArray[np.int64], float]:
    """Confusion matrix (rows: true class, columns: predicted) and mean cross-entropy."""
    confusion, loss_sum = _confusion(module, dataset, n_classes, batch_size, torch.device(device))
    return confusion, loss_sum / max(1, int(confusion.sum()))


def accuracy(confusion: NDArray[np.integer]) -> float:
    """Fraction on the diagonal (``nan`` for an empty matrix)."""
    total = int(confusion.sum())
    return float(np.trace(confusion)) / total if total else math.nan


# ---------------------------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------------------------
def confusion_table(confusion: NDArray[np.integer], class_names: Sequence[str]) -> str:
    """The confusion matrix as aligned text (rows: true class, columns: predicted index)."""
    n = len(class_names)
    width = max(3, len(str(int(confusion.max(initial=0)))))
    name_width = max(len(name) for name in class_names) + 5
    header = " " * name_width + " ".join(f"{k:>{width}d}" for k in range(n)) + "  recall"
    lines = ["true \\ predicted", header]
    for k, name in enumerate(class_names):
        row = confusion[k]
        total = int(row.sum())
        recall = f"{100.0 * row[k] / total:5.1f} %" if total else "    -"
        cells = " ".join(f"{int(c):>{width}d}" for c in row)
        lines.append(f"{k:>2d} {name}".ljust(name_width) + cells + "  " + recall)
    return "\n".join(lines)


def write_confusion_csv(
    path: str | Path, confusion: NDArray[np.integer], class_names: Sequence[str]
) -> None:
    """Rows: true class, columns: predicted class; first row and column hold the names."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["true \\ predicted", *class_names])
    for name, row in zip(class_names, confusion, strict=True):
        writer.writerow([name, *(int(c) for c in row)])
    with atomic_write(path) as tmp:
        tmp.write_text(buffer.getvalue(), encoding="utf-8")


def _save_figure(fig: Any, path: Path) -> None:
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)


def plot_confusion(
    path: str | Path, confusion: NDArray[np.integer], class_names: Sequence[str]
) -> None:
    """Confusion matrix as a PNG: row-normalised colours, counts written in the cells."""
    from matplotlib.figure import Figure

    n = len(class_names)
    totals = confusion.sum(axis=1, keepdims=True)
    normalised = np.divide(confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)
    fig = Figure(figsize=(2.0 + 0.55 * n, 1.5 + 0.5 * n))
    ax = fig.add_subplot()
    image = ax.imshow(normalised, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="fraction of the true class")
    for i in range(n):
        for j in range(n):
            if confusion[i, j]:
                colour = "white" if normalised[i, j] > 0.5 else "black"
                ax.text(j, i, str(int(confusion[i, j])), ha="center", va="center", color=colour)
    ax.set_xticks(range(n), [str(k) for k in range(n)])
    ax.set_yticks(range(n), [f"{name} ({k})" for k, name in enumerate(class_names)])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(
        f"test accuracy {100 * accuracy(confusion):.1f} % ({int(confusion.sum())} samples)"
    )
    fig.tight_layout()
    _save_figure(fig, Path(path))


def plot_history(path: str | Path, history: Mapping[str, Sequence[float]]) -> None:
    """Accuracy (train, test) and loss against epoch, as a PNG."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = list(history["epoch"])
    fig = Figure(figsize=(9.0, 3.6))
    acc_ax, loss_ax = fig.subplots(1, 2)
    for split, style in (("train", "-o"), ("test", "-s")):
        acc = [100.0 * a for a in history[f"{split}_acc"]]
        if not all(math.isnan(a) for a in acc):
            acc_ax.plot(epochs, acc, style, label=split, markersize=3)
            loss_ax.plot(epochs, history[f"{split}_loss"], style, label=split, markersize=3)
    for ax in (acc_ax, loss_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("accuracy (%)")
    acc_ax.set_ylim(0, 100)
    acc_ax.grid(alpha=0.3)
    acc_ax.legend()
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("cross-entropy")
    loss_ax.grid(alpha=0.3)
    loss_ax.legend()
    fig.tight_layout()
    _save_figure(fig, Path(path))


def write_history_csv(path: str | Path, history: Mapping[str, Sequence[float]]) -> None:
    """One row per epoch, the columns of :data:`HISTORY_FIELDS`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HISTORY_FIELDS)
    for row in zip(*(history[name] for name in HISTORY_FIELDS), strict=True):
        writer.writerow([int(row[0]), *(f"{v:.6g}" for v in row[1:])])
    with atomic_write(path) as tmp:
        tmp.write_text(buffer.getvalue(), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# the loop
# ---------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What :func:`train` leaves: the trained module and network, the per-epoch history, the
    last test confusion matrix (None without a test set) and the files written (rank 0)."""

    module: SpikingModule
    network: Network
    history: dict[str, list[float]]
    confusion: NDArray[np.int64] | None
    class_names: list[str]
    epochs_completed: int
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def test_accuracy(self) -> float:
        return math.nan if self.confusion is None else accuracy(self.confusion)


def _empty_history() -> dict[str, list[float]]:
    return {name: [] for name in HISTORY_FIELDS}


def _check_resume(
    checkpoint: Mapping[str, Any],
    path: Path,
    config: TrainConfig,
    input_shape: Sequence[int],
    class_names: Sequence[str],
) -> None:
    differences = config_differences(checkpoint["config"], config)
    if list(checkpoint["input_shape"]) != list(input_shape):
        differences.append(
            f"frame shape (C, H, W): {checkpoint['input_shape']} -> {list(input_shape)}"
        )
    if list(checkpoint["class_names"]) != list(class_names):
        differences.append(f"classes: {checkpoint['class_names']} -> {list(class_names)}")
    if differences:
        raise CheckpointError(
            f"checkpoint {path} belongs to a run with another configuration ("
            + "; ".join(differences)
            + "). Resume with the options it was written with (only the number of epochs may "
            "change), or choose another output directory for a new run"
        )


def _prepare_output(ctx: DistributedContext, out_dir: Path, resume: bool) -> dict[str, Any] | None:
    """On rank 0: the checkpoint to resume from (or None); refuses to overwrite a run."""
    path = out_dir / CHECKPOINT_NAME

    def work() -> dict[str, Any] | None:
        if out_dir.exists() and not out_dir.is_dir():
            raise ValueError(f"output {out_dir} exists and is not a directory")
        if resume:
            if not path.exists():
                raise ValueError(f"nothing to resume: no {CHECKPOINT_NAME} in {out_dir}")
            return load_checkpoint(path)
        if path.exists():
            raise ValueError(
                f"{out_dir} already holds a training run ({CHECKPOINT_NAME}); pass resume=True "
                "(--resume) to continue it, or choose another output directory"
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        return None

    return ctx.on_main(work)


def train(
    config: TrainConfig,
    train_set: Dataset[Any],
    test_set: Dataset[Any] | None,
    out_dir: str | Path,
    *,
    classes: Sequence[str] | int | None = None,
    resume: bool = False,
    stop_after: int | None = None,
    device: str | torch.device | None = None,
    num_workers: int = 0,
    progress: bool = True,
    plots: bool = True,
    log: Log | None = print,
) -> TrainResult:
    """Train ``config``'s network on ``train_set``; evaluate on ``test_set`` after each epoch.

    Datasets yield ``(frames, label)`` with frames ``(T, C, H, W)`` (array or tensor; the
    network's input shape is taken from the first sample) and integer labels. ``classes``: the
    class names or their number (default: ``train_set.classes``).

    ``resume``: continue the run in ``out_dir`` from its checkpoint (same config except
    ``epochs``); without it an existing checkpoint there is an error, never overwritten.
    ``stop_after``: leave after that many epochs in total (the schedule still spans
    ``config.epochs``), to resume later. ``device``: ``"auto"``/None, ``"cpu"``, ``"cuda"``.
    Under ``torchrun`` each process trains on its shard (``DistributedSampler``) with gradients
    averaged by ``DistributedDataParallel``; only rank 0 writes files and logs (through
    ``log``, default ``print``). ``plots=False`` skips the two PNGs (quick runs, tests).
    """
    ctx = init_distributed(device)
    out = Path(out_dir)
    say: Log = (log or (lambda _: None)) if ctx.is_main else (lambda _: None)
    if stop_after is not None and (isinstance(stop_after, bool) or stop_after < 1):
        raise ValueError(f"stop_after must be a positive number of epochs, got {stop_after!r}")
    if num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {num_workers}")
    n_train, n_test = _size(train_set), 0 if test_set is None else _size(test_set)
    if n_train == 0:
        raise ValueError("the training set is empty")
    sample_shape = _sample_shape(train_set)
    input_shape = sample_shape[1:]
    class_names = _class_names(classes, train_set)
    n_classes = len(class_names)

    seed_everything(config.seed)
    network = build_network(config, input_shape, n_classes)  # fails before any file is made
    module = SpikingModule(
        network,
        surrogate=config.surrogate,
        surrogate_scale=config.surrogate_scale,
        detach_reset=config.detach_reset,
    ).to(ctx.device)
    checkpoint = _prepare_output(ctx, out, resume)
    if checkpoint is not None:
        _check_resume(checkpoint, out / CHECKPOINT_NAME, config, input_shape, class_names)
    optimizer = make_optimizer(config, module.parameters())
    scheduler = make_scheduler(config, optimizer)
    shuffle = torch.Generator().manual_seed(config.seed)
    history = _empty_history()
    start_epoch = 0
    if checkpoint is not None:
        module.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        # the schedule is a closed form of the epoch: re-derive the rate for a changed length
        for group, base in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
            group["lr"] = base * scheduler.lr_lambdas[0](scheduler.last_epoch)
        history = {name: list(checkpoint["history"].get(name, [])) for name in HISTORY_FIELDS}
        start_epoch = int(checkpoint["epoch"])
        restore_rng(checkpoint["rng"], shuffle)
        _say_resumed(say, checkpoint, out, config, ctx)

    trained: nn.Module = module
    if ctx.distributed:
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [ctx.device] if ctx.device.type == "cuda" else None
        trained = DistributedDataParallel(module, device_ids=device_ids, broadcast_buffers=False)
    sampler = _training_sampler(train_set, ctx, config.seed, shuffle)
    loader = DataLoader(
        train_set,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=_Collate(n_classes),
        generator=shuffle,
        pin_memory=ctx.device.type == "cuda",
    )
    # each process evaluates every world_size-th test sample; the confusion counts are summed
    test_indices = list(range(ctx.rank, n_test, ctx.world_size))

    n_params = sum(p.numel() for p in module.parameters())
    say(
        f"training {config.model} ({n_params:,} parameters) on frames {sample_shape} (T, C, H, W), "
        f"{n_train:,} training samples, {n_test:,} test samples; "
        f"{config.optimizer}, lr {config.lr:g} (cosine over {config.epochs} epochs), "
        f"surrogate {config.surrogate}({module.surrogate_scale:g}), batch {config.batch_size}"
        + (f" x {ctx.world_size} processes ({ctx.backend})" if ctx.distributed else "")
        + f", device {ctx.device}"
    )

    files: dict[str, Path] = {}
    confusion: NDArray[np.int64] | None = None
    last_epoch = config.epochs if stop_after is None else min(config.epochs, stop_after)
    for epoch in range(start_epoch, last_epoch):
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
        lr = float(optimizer.param_groups[0]["lr"])
        epoch_start = time.perf_counter()
        stats = _train_epoch(trained, loader, optimizer, ctx, epoch, config.epochs, progress)
        scheduler.step()
        train_time = time.perf_counter() - epoch_start
        totals = ctx.all_sum(torch.tensor(stats[:3], dtype=torch.float64))
        train_loss, train_acc = float(totals[0] / totals[2]), float(totals[1] / totals[2])
        test_loss = test_acc = math.nan
        if test_set is not None:
            local, loss_sum = _confusion(
                module, test_set, n_classes, config.batch_size, ctx.device, test_indices
            )
            confusion = ctx.all_sum(torch.from_numpy(local)).numpy()
            loss_total = float(ctx.all_sum(torch.tensor([loss_sum], dtype=torch.float64))[0])
            test_loss = loss_total / max(1, int(confusion.sum()))
            test_acc = accuracy(confusion)
        epoch_time = time.perf_counter() - epoch_start
        for name, value in zip(
            HISTORY_FIELDS,
            (epoch + 1, lr, train_loss, train_acc, test_loss, test_acc, epoch_time, stats[3]),
            strict=True,
        ):
            history[name].append(float(value))
        say(
            f"epoch {epoch + 1}/{config.epochs}: train loss {train_loss:.4f} acc "
            f"{100 * train_acc:.1f} % | test loss {test_loss:.4f} acc {100 * test_acc:.1f} % | "
            f"lr {lr:.3g} | {epoch_time:.1f} s ({train_time:.1f} s training, "
            f"{1e3 * stats[3]:.0f} ms/step)"
        )
        if ctx.is_main:
            content = {
                "config": config.to_dict(),
                "input_shape": [int(s) for s in input_shape],
                "n_classes": n_classes,
                "class_names": list(class_names),
                "epoch": epoch + 1,
                "world_size": ctx.world_size,
                "model": module.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "history": {name: list(values) for name, values in history.items()},
                "rng": capture_rng(shuffle),
            }
            files.update(_write_epoch(out, content, confusion, plots))
    epochs_completed = max(start_epoch, last_epoch)

    if confusion is None and test_set is not None:
        # nothing trained in this call (already complete): report the stored weights
        local, _ = _confusion(
            module, test_set, n_classes, config.batch_size, ctx.device, test_indices
        )
        confusion = ctx.all_sum(torch.from_numpy(local)).numpy()
    network = module.export()
    if ctx.is_main:
        if confusion is not None:
            say(f"test confusion matrix after epoch {epochs_completed} (rows: true class):")
            say(confusion_table(confusion, class_names))
            say(f"test accuracy {100 * accuracy(confusion):.2f} % ({int(confusion.sum())} samples)")
            files["confusion"] = out / OUTPUT_FILES["confusion"]
            files["confusion_plot"] = out / OUTPUT_FILES["confusion_plot"]
            write_confusion_csv(files["confusion"], confusion, class_names)
            if plots:
                plot_confusion(files["confusion_plot"], confusion, class_names)
            else:
                del files["confusion_plot"]
        files["model"] = out / OUTPUT_FILES["model"]
        save_network(network, files["model"])
        state = "trained" if epochs_completed >= config.epochs else "partly trained"
        say(f"wrote {files['model']} ({state}: epoch {epochs_completed}/{config.epochs})")
    ctx.barrier()
    return TrainResult(module, network, history, confusion, class_names, epochs_completed, files)


def _say_resumed(
    say: Log,
    checkpoint: Mapping[str, Any],
    out: Path,
    config: TrainConfig,
    ctx: DistributedContext,
) -> None:
    stored_epochs = checkpoint["config"].get("epochs")
    say(f"resuming {out / CHECKPOINT_NAME} after epoch {checkpoint['epoch']}/{stored_epochs}")
    if stored_epochs != config.epochs:
        say(f"note: the cosine schedule now spans {config.epochs} epochs, not {stored_epochs}")
    if checkpoint["world_size"] != ctx.world_size:
        say(
            f"note: the checkpoint was trained by {checkpoint['world_size']} process(es), "
            f"this run has {ctx.world_size}: the sample order changes"
        )


def _training_sampler(
    train_set: Dataset[Any], ctx: DistributedContext, seed: int, shuffle: torch.Generator
) -> Sampler[int]:
    """Alone: a random permutation per epoch from ``shuffle`` (whose state the checkpoint keeps).
    Under torchrun: this rank's shard of a permutation seeded by ``seed + epoch``."""
    if ctx.distributed:
        return DistributedSampler(
            train_set, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed
        )
    return RandomSampler(cast(Sized, train_set), generator=shuffle)


def _train_epoch(
    trained: nn.Module,
    loader: DataLoader[Any],
    optimizer: torch.optim.Optimizer,
    ctx: DistributedContext,
    epoch: int,
    epochs: int,
    progress: bool,
) -> tuple[float, float, float, float]:
    """One pass over this process's shard: (loss sum, correct, samples, mean step time s)."""
    from tqdm.auto import tqdm

    trained.train()
    loss_sum = correct = count = 0.0
    step_time = 0.0
    steps = 0
    bar = tqdm(
        loader,
        desc=f"epoch {epoch + 1}/{epochs}",
        unit="batch",
        leave=False,
        disable=not (progress and ctx.is_main),
        dynamic_ncols=True,
    )
    for frames, labels in bar:
        start = time.perf_counter()
        frames = frames.to(ctx.device, non_blocking=True)
        labels = labels.to(ctx.device, non_blocking=True)
        logits = logits_of(trained, frames)
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if ctx.device.type == "cuda":
            torch.cuda.synchronize(ctx.device)
        step_time += time.perf_counter() - start
        steps += 1
        n = labels.shape[0]
        loss_sum += float(loss.detach()) * n
        correct += float((logits.detach().argmax(dim=1) == labels).sum())
        count += n
        bar.set_postfix(loss=f"{loss_sum / count:.4f}", acc=f"{100 * correct / count:.1f}%")
    bar.close()
    return loss_sum, correct, count, step_time / max(1, steps)


def _write_epoch(
    out: Path,
    checkpoint: dict[str, Any],
    confusion: NDArray[np.int64] | None,
    plots: bool,
) -> dict[str, Path]:
    """The checkpoint first (the one file a resume needs), then the history and plots."""
    names = ("checkpoint", "history", "accuracy_plot") if plots else ("checkpoint", "history")
    files = {name: out / OUTPUT_FILES[name] for name in names}
    save_checkpoint(files["checkpoint"], checkpoint)
    history = checkpoint["history"]
    write_history_csv(files["history"], history)
    if plots:
        plot_history(files["accuracy_plot"], history)
    if confusion is not None:
        files["confusion"] = out / OUTPUT_FILES["confusion"]
        write_confusion_csv(files["confusion"], confusion, checkpoint["class_names"])
    return files
