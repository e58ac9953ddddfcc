"""Training engine: one Trainer for every task, optimizers and schedules, checkpoints, hooks, MPI."""
from .checkpoint import find_latest, load_checkpoint, save_checkpoint  # noqa: F401
from .hooks import Hook  # noqa: F401
from .optim import LARS, AdamW, SGD, build_optimizer, build_param_groups  # noqa: F401
from .schedule import LRSchedule, build_schedule  # noqa: F401
from .trainer import NonFiniteLossError, Trainer, build_val_loader, evaluate, load_model_state  # noqa: F401
