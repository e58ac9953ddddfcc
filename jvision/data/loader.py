"""A deterministic, resumable data loader that shards by MPI rank.

Why not ``jittor.dataset.Dataset``: its shuffle uses a fixed seed of its own (the order never
follows the run's seed), its ``len`` counts batches, and it cannot resume in the middle of an epoch.

Here everything random is a function of the run's seed:
* the order of epoch ``e`` is a permutation drawn from ``(seed, e)``;
* sample ``i`` of epoch ``e`` is augmented with a generator seeded by ``(seed, e, i)``, so the result
  does not depend on worker threads, ranks or interruptions;
* training (``drop_last=True``): a global batch of ``batch_size`` is split into equal contiguous
  parts, one per rank, so N processes see exactly the samples one process would see with the same
  global batch (``local_batch = batch_size / world_size``);
* evaluation (``drop_last=False``): each rank takes every world-th sample of the whole order
  (``order[rank::world_size]``) in batches of ``local_batch = ceil(batch_size / world_size)``, so no
  rank idles whatever the batch size; metrics all-reduce their counts, so N ranks give the
  single-process result.

``iter_from(step)`` starts at any global step (``epoch = step // batches_per_epoch``): resuming a run
needs only the iteration number.

Streaming datasets (``is_stream = True``, e.g. ``jvision.data.shards.WebShards``) are not indexable:
the loader hands them its batch size, rank, world size, seed and the step, and they produce the
batches (``dataset.iter_batches(loader, step, endless)``) under the same rules.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import numpy as np

import jittor as jt


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def collate(samples: list[dict]) -> dict:
    """Stack equal-shape numpy arrays and numbers into ``jt.Var``; keep everything else as lists."""
    batch: dict = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        first = values[0]
        if isinstance(first, (np.ndarray, np.generic, int, float)) and not isinstance(first, bool):
            arrays = [np.asarray(v) for v in values]
            if all(a.shape == arrays[0].shape for a in arrays):
                stacked = np.stack(arrays)
                if stacked.dtype == np.float64:
                    stacked = stacked.astype(np.float32)
                batch[key] = jt.array(stacked)
                continue
            batch[key] = arrays
        else:
            batch[key] = values
    return batch


class DataLoader:
    """Batches of a ``BaseDataset`` (see module docstring).

    Args:
        dataset: has ``__len__`` and ``prepare(idx, rng)``.
        batch_size: the GLOBAL batch; each of ``world_size`` ranks gets ``local_batch`` of it.
        shuffle: new permutation every epoch (training); otherwise dataset order.
        drop_last: training: drop the last incomplete global batch. ``False`` (evaluation) keeps
            every sample, each rank taking the strided shard ``rank::world_size`` of the whole order.
        seed: the run's seed.
        num_workers: threads preparing samples ahead of use (0 = in the calling thread).
    """

    def __init__(self, dataset, batch_size: int, shuffle: bool = False, drop_last: bool = False,
                 seed: int = 0, num_workers: int = 0, rank: int = 0, world_size: int = 1):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if drop_last and batch_size % world_size:
            raise ValueError(f"global batch_size={batch_size} is not divisible by the {world_size} "
                             f"MPI ranks; choose a multiple of {world_size}")
        stream = getattr(dataset, "is_stream", False)   # its length may be unknown (web shards): not asked
        if not stream and len(dataset) == 0:
            raise ValueError(f"dataset {type(dataset).__name__} is empty")
        if not stream and drop_last and len(dataset) < batch_size:
            raise ValueError(f"dataset {type(dataset).__name__} has {len(dataset)} samples, fewer than "
                             f"one global batch of {batch_size}")
        self.dataset, self.batch_size = dataset, batch_size
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        self.rank, self.world_size = rank, world_size
        self.local_batch = batch_size // world_size if drop_last else _ceil_div(batch_size, world_size)
        self.num_workers = num_workers
        self._pool = ThreadPoolExecutor(num_workers) if num_workers > 0 else None

    # -- index bookkeeping ---------------------------------------------------------------------
    def __len__(self) -> int:
        """Batches per epoch: global batches in training; in evaluation, those of the largest shard."""
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return _ceil_div(_ceil_div(n, self.world_size), self.local_batch)

    def num_batches(self) -> int:
        """Batches this rank loads per epoch (evaluation: of its shard)."""
        if self.drop_last:
            return len(self)
        return _ceil_div(len(range(self.rank, len(self.dataset), self.world_size)), self.local_batch)

    def epoch_order(self, epoch: int) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def local_indices(self, epoch: int, batch: int) -> np.ndarray:
        """The dataset indices this rank loads for batch ``batch`` of ``epoch``."""
        order = self.epoch_order(epoch)
        if self.drop_last:
            chunk = order[batch * self.batch_size:(batch + 1) * self.batch_size]
            return chunk[self.rank * self.local_batch:(self.rank + 1) * self.local_batch]
        shard = order[self.rank::self.world_size]
        return shard[batch * self.local_batch:(batch + 1) * self.local_batch]

    # -- loading -------------------------------------------------------------------------------
    def _prepare(self, epoch: int, idx: int) -> dict:
        rng = np.random.default_rng([self.seed, epoch, int(idx)])
        return self.dataset.prepare(int(idx), rng)

    def _submit(self, epoch: int, batch: int):
        idx = self.local_indices(epoch, batch)
        if self._pool is None:
            return [self._prepare(epoch, i) for i in idx]
        return [self._pool.submit(self._prepare, epoch, i) for i in idx]

    @staticmethod
    def _collect(items) -> list[dict]:
        return [it.result() if hasattr(it, "result") else it for it in items]

    def iter_from(self, step: int = 0, endless: bool = True) -> Iterator[tuple[int, dict]]:
        """Yield ``(epoch, batch)`` starting at global step ``step``; one epoch only if not endless."""
        if getattr(self.dataset, "is_stream", False):   # tar shards etc.: the stream orders itself
            yield from self.dataset.iter_batches(self, step, endless)
            return
        per_epoch = len(self)
        epoch, pos = divmod(step, per_epoch)
        pending = None
        while True:
            if pending is None:
                pending = self._submit(epoch, pos)
            cur_epoch, cur = epoch, pending
            pos += 1
            if pos == per_epoch:
                if not endless:
                    pending = None
                    samples = self._collect(cur)
                    if samples:
                        yield cur_epoch, collate(samples)
                    return
                epoch, pos = epoch + 1, 0
            pending = self._submit(epoch, pos)  # prefetch the next batch while this one trains
            samples = self._collect(cur)
            if samples:  # a rank's shard may end one batch before the largest one
                yield cur_epoch, collate(samples)

    def __iter__(self):
        for _, batch in self.iter_from(0, endless=False):
            yield batch

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
