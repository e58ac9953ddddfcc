"""Training engine: Trainer, optimizers and schedules, checkpoints, hooks, metrics, MPI."""
