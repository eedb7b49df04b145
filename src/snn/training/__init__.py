"""Training deep spiking networks with surrogate gradients (``snn train``).

* :class:`TrainConfig`: the run's hyper-parameters (model, optimizer, schedule, surrogate, seed);
* :func:`train`: the loop (BPTT, cosine schedule, per-epoch checkpoints, exact resume,
  evaluation with a confusion matrix, export of the trained weights to ``model.h5``), alone or
  as one process of ``torchrun`` (:mod:`snn.training.distributed`);
* :func:`gesture_datasets`: DVS128 Gesture (real or synthetic) as frame datasets for it.

Needs PyTorch.
"""

from snn.training.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    CheckpointError,
    capture_rng,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from snn.training.config import MODELS, OPTIMIZER_NAMES, TrainConfig, build_network
from snn.training.distributed import (
    DistributedContext,
    distributed_env,
    init_distributed,
    shutdown_distributed,
)
from snn.training.gesture import gesture_datasets
from snn.training.loop import (
    OUTPUT_FILES,
    TrainResult,
    accuracy,
    confusion_table,
    evaluate,
    make_optimizer,
    make_scheduler,
    train,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "MODELS",
    "OPTIMIZER_NAMES",
    "OUTPUT_FILES",
    "CheckpointError",
    "DistributedContext",
    "TrainConfig",
    "TrainResult",
    "accuracy",
    "build_network",
    "capture_rng",
    "confusion_table",
    "distributed_env",
    "evaluate",
    "gesture_datasets",
    "init_distributed",
    "load_checkpoint",
    "make_optimizer",
    "make_scheduler",
    "restore_rng",
    "save_checkpoint",
    "shutdown_distributed",
    "train",
]
