"""Training engine: one Trainer for every task, optimizers and schedules, mixed precision,
checkpoints and work dirs, hooks and progress bars, MPI.

Contracts other tasks build on (details in each module):
* ``trainer``: the model's ``train_step(batch)`` / ``train_step(batch, optim)`` (several optimizers,
  ``optim.step(name, loss)``), ``val_step``, ``after_train_iter(iteration, max_iters)``;
* ``optim``: ``AdamW``, ``Adam``, ``SGD``, parameter groups, named optimizer sets;
* ``amp``: ``train.amp`` and the float16 ``LossScaler``;
* ``checkpoint`` / ``workdir``: the checkpoint format, one run per work dir, resume checks;
* ``sections``: the config sections the engine validates (``jvision.config.register_section``).
"""
from . import sections  # noqa: F401  (registers the engine's config sections)
from .amp import AmpPolicy, LossScaler  # noqa: F401
from .checkpoint import find_latest, read_training_checkpoint, save_checkpoint  # noqa: F401
from .hooks import Hook  # noqa: F401
from .optim import LARS, SGD, Adam, AdamW, OptimizerSet, build_optimizer, build_param_groups  # noqa: F401
from .progress import ProgressBar  # noqa: F401
from .schedule import LRSchedule, build_schedule  # noqa: F401
from .trainer import (NonFiniteLossError, OptimHandle, ResumeError, Trainer, build_val_loader,  # noqa: F401
                      evaluate, load_model_state)
from .workdir import WorkDirError  # noqa: F401
