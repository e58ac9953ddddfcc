"""Masked-image-modelling pieces for the one Trainer: hooks and the validation metric.

Configs load them with ``custom_imports = ["jvision.mim.training"]``:

* ``ReconstructionHook``: every ``interval`` iterations (and after the last) writes
  ``work_dir/vis/recon_iter_<n>.png``: image | masked | reconstruction | pasted for a fixed set of
  images (the first validation batch, else the first training batch) with a fixed mask;
* ``ShardStatsHook``: adds the web-shard reader's counts (``data_samples``, ``data_skipped``) to the
  logged records and writes every skipped sample (shard and key, reason) to ``log.txt``;
* ``MIMValLoss`` (``evaluation.metric``): the model's loss averaged over the validation set (masks
  drawn from a seed, so two evaluations of one checkpoint agree), all-reduced over MPI ranks.
"""
from __future__ import annotations

import numpy as np

from ..engine.dist import get_world_size, is_main_process
from ..engine.hooks import Hook
from ..registry import HOOKS, METRICS
from .visualize import reconstruction_grid, save_png

__all__ = ["ReconstructionHook", "ShardStatsHook", "MIMValLoss"]


def _every(trainer, interval: int) -> bool:
    return trainer.iter == trainer.max_iters or (interval > 0 and trainer.iter % interval == 0)


@HOOKS.register()
class ReconstructionHook(Hook):
    """Reconstruction grids during pre-training (see the module docstring).

    Args:
        interval: iterations between pictures (0: only after the last iteration).
        num_images: rows of the grid.
        mean, std: the pipeline's normalisation (0-255 units), undone for display.
        seed: the fixed mask's seed.
    """

    priority = 75

    def __init__(self, interval: int = 0, num_images: int = 4, mean=(123.675, 116.28, 103.53),
                 std=(58.395, 57.12, 57.375), seed: int = 0):
        self.interval, self.num_images, self.seed = interval, num_images, seed
        self.mean, self.std = mean, std
        self._images = None

    def before_run(self, trainer) -> None:
        if not is_main_process():
            return
        loader = trainer.val_loader or trainer.train_loader
        chunks, have = [], 0
        for _, batch in loader.iter_from(0, endless=False):
            img = batch["img"].numpy()
            chunks.append(img)
            have += img.shape[0]
            if have >= self.num_images:
                break
        self._images = np.concatenate(chunks)[:self.num_images]

    def after_iter(self, trainer, logs: dict) -> None:
        if self._images is None or not _every(trainer, self.interval):
            return
        grid, out = reconstruction_grid(trainer.model, self._images, self.mean, self.std, seed=self.seed)
        path = save_png(trainer.work_dir / "vis" / f"recon_iter_{trainer.iter:07d}.png", grid)
        trainer.log_text(f"reconstructions ({out['loss']:.4f} loss on {len(self._images)} images) -> {path}")


@HOOKS.register()
class ShardStatsHook(Hook):
    """Counts of a streaming dataset (``stats``/``skipped_log``) in the log (see the module docstring)."""

    priority = 55   # before LoggerHook (60) writes the record

    def __init__(self):
        self._reported = 0

    def after_iter(self, trainer, logs: dict) -> None:
        dataset = trainer.train_loader.dataset
        stats = getattr(dataset, "stats", None)
        if stats is None:
            return
        logs["data_samples"] = int(stats.get("samples", 0))
        logs["data_skipped"] = int(stats.get("skipped", 0))
        log = list(getattr(dataset, "skipped_log", []))
        total = int(stats.get("skipped", 0))
        new = min(total - self._reported, len(log))
        for message in log[len(log) - new:] if new > 0 else []:
            trainer.log_text(f"skipped sample: {message}")
        self._reported = total


@METRICS.register()
class MIMValLoss:
    """Mean of ``val_step(batch)["loss"]`` over the validation samples (``val_loss``)."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._sum, self._count = 0.0, 0

    def process(self, batch: dict, outputs: dict) -> None:
        n = int(batch["img"].shape[0])
        self._sum += float(outputs["loss"].item()) * n
        self._count += n

    def evaluate(self) -> dict:
        total = np.array([self._sum, self._count], np.float64)
        if get_world_size() > 1:
            import jittor as jt
            total = jt.array(total).mpi_all_reduce("add").numpy()
        return {"val_loss": float(total[0] / max(total[1], 1.0))}
