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


class ToyInterrupt(Exception):
    """Raised by ``ToyStopAt`` to interrupt a run in the middle (in-process)."""


@HOOKS.register(force=True)
class ToyStopAt(Hook):
    """Raises ``ToyInterrupt`` after iteration ``at`` (after its checkpoint: priority 90)."""

    priority = 90

    def __init__(self, at: int):
        self.at = at

    def after_iter(self, trainer, logs):
        if trainer.iter == self.at:
            raise ToyInterrupt(f"stopped at iteration {self.at}")


@HOOKS.register(force=True)
class ToyRecorder(Hook):
    """Records which hook events ran; ``fail_on_failure`` makes ``after_failure`` itself raise."""

    events: list = []

    def __init__(self, fail_on_failure: bool = False):
        self.fail_on_failure = fail_on_failure
        ToyRecorder.events = []

    def after_val(self, trainer, metrics):
        ToyRecorder.events.append("after_val")

    def after_run(self, trainer):
        ToyRecorder.events.append("after_run")

    def after_failure(self, trainer, exc):
        ToyRecorder.events.append(f"after_failure:{type(exc).__name__}")
        if self.fail_on_failure:
            raise RuntimeError("a hook failing while handling the error")


@MODELS.register(force=True)
class ToyGAN(nn.Module):
    """A generator regressing y from x and a hinge discriminator on (x, y) pairs, stepped by two
    optimizers inside ``train_step(batch, optim)``; ``ema_weight`` follows the generator's first
    layer in ``after_train_iter`` (a momentum target, kept in the state dict)."""

    def __init__(self, dim: int = 8, hidden: int = 16):
        super().__init__()
        self.generator = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.discriminator = nn.Sequential(nn.Linear(dim + 1, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.ema_weight = jt.zeros((hidden, dim)).stop_grad()
        self.after_calls = []

    def train_step(self, batch, optim):
        x, y = batch["x"], batch["y"]
        fake = self.generator(x)
        d_real = self.discriminator(jt.concat([x, y], 1))
        d_fake = self.discriminator(jt.concat([x, fake.detach()], 1))
        loss_d = nn.relu(1 - d_real).mean() + nn.relu(1 + d_fake).mean()
        optim.step("discriminator", loss_d)
        loss_g = -self.discriminator(jt.concat([x, fake], 1)).mean() * 0.1 + ((fake - y) ** 2).mean()
        optim.step("generator", loss_g)
        return {"loss": loss_g, "loss_d": loss_d}

    def after_train_iter(self, iteration, max_iters):
        self.after_calls.append((iteration, max_iters))
        self.ema_weight.update((0.9 * self.ema_weight + 0.1 * self.generator[0].weight).stop_grad())

    def val_step(self, batch):
        return self.generator(batch["x"]).numpy()


@DATASETS.register(force=True)
class ToyImages(BaseDataset):
    """Random 3xSxS images with a class label and a label map (for tiny real models)."""

    def __init__(self, num_samples: int = 8, size: int = 32, num_classes: int = 4, seed: int = 0, pipeline=None):
        super().__init__(pipeline)
        rng = np.random.default_rng(seed)
        self.img = rng.standard_normal((num_samples, 3, size, size)).astype(np.float32)
        self.label = rng.integers(0, num_classes, num_samples).astype(np.int32)
        self.seg = rng.integers(0, num_classes, (num_samples, size, size)).astype(np.int32)

    def __len__(self):
        return len(self.img)

    def load(self, idx):
        return {"img": self.img[idx].copy(), "gt_label": self.label[idx], "gt_seg": self.seg[idx].copy(),
                "meta": {"index": idx}}


@MODELS.register(force=True)
class ToyMLPStepping(ToyMLP):
    """``ToyMLP`` stepping its one optimizer itself through the trainer's handle."""

    def train_step(self, batch, optim):
        out = super().train_step(batch)
        optim.step(out["loss"])
        return out
