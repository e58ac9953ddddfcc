"""Tiny registered components for engine tests (fast: no convolutions, fixed shapes)."""
from __future__ import annotations

import numpy as np

import jittor as jt
from jittor import nn

from jvision.data.base import BaseDataset
from jvision.registry import DATASETS, METRICS, MODELS, TRANSFORMS
from jvision.engine.dist import all_reduce_sum


@DATASETS.register(force=True)
class ToyRegression(BaseDataset):
    """y = x @ W + noise (W fixed, ``seed`` draws the samples); ``nan_at`` makes one sample's target NaN."""

    def __init__(self, num_samples: int = 64, dim: int = 8, seed: int = 0, nan_at: int | None = None,
                 pipeline=None):
        super().__init__(pipeline)
        rng = np.random.default_rng(seed)
        self.x = rng.standard_normal((num_samples, dim)).astype(np.float32)
        w = np.random.default_rng(1234).standard_normal((dim, 1)).astype(np.float32)  # same task for every split
        self.y = (self.x @ w + 0.01 * rng.standard_normal((num_samples, 1))).astype(np.float32)
        if nan_at is not None:
            self.y[nan_at] = np.nan

    def __len__(self):
        return len(self.x)

    def load(self, idx):
        return {"x": self.x[idx].copy(), "y": self.y[idx].copy(), "meta": {"index": idx}}


@TRANSFORMS.register(force=True)
class ToyJitter:
    """A random transform, to prove augmentation follows the seed."""

    def __init__(self, scale: float = 0.05):
        self.scale = scale

    def __call__(self, sample, rng):
        sample["x"] = sample["x"] + self.scale * rng.standard_normal(sample["x"].shape).astype(np.float32)
        return sample


@MODELS.register(force=True)
class ToyMLP(nn.Module):
    def __init__(self, dim: int = 8, hidden: int = 16, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, 1)

    def execute(self, x):
        return self.fc2(self.drop(nn.relu(self.norm(self.fc1(x)))))

    def train_step(self, batch):
        loss = ((self(batch["x"]) - batch["y"]) ** 2).mean()
        return {"loss": loss}

    def val_step(self, batch):
        return self(batch["x"]).numpy()


@METRICS.register(force=True)
class ToyMSE:
    def reset(self):
        self.sq, self.n = 0.0, 0

    def process(self, batch, outputs):
        self.sq += float(((outputs - batch["y"].numpy()) ** 2).sum())
        self.n += len(outputs)

    def evaluate(self):
        sq, n = all_reduce_sum(np.array([self.sq, self.n], dtype=np.float64))
        return {"mse": float(sq / n), "count": int(n)}


from jvision.engine.hooks import Hook  # noqa: E402
from jvision.registry import HOOKS  # noqa: E402


@HOOKS.register(force=True)
class ToySleep(Hook):
    """Slows each iteration down so a test can kill the run in the middle."""

    def __init__(self, seconds: float = 0.05):
        self.seconds = seconds

    def after_iter(self, trainer, logs):
        import time
        time.sleep(self.seconds)
