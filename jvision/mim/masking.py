"""Token masking for masked image and video modelling: one implementation for MAE, CMAE and VideoMAE.

Conventions (MAE's): ``mask`` is ``(B, L)`` with 1 (True) = removed from the encoder; the encoder
keeps ``len_keep`` tokens per sample, in the order given by ``ids_shuffle[:, :len_keep]``;
``ids_restore`` is the inverse permutation of ``ids_shuffle`` and puts [kept tokens, mask tokens]
back into patch order (what the decoder does). Every masking below produces these same arrays, so
one encoder path (``gather_tokens``) and one decoder path (``jvision.models.mae.mae_decode``) serve
all of them.

Three ways of choosing the removed tokens, each with the official rule for the count:

* ``RandomMasking`` -- MAE ``random_masking``: uniform noise per token, ``argsort`` ascending, keep
  the first ``int(L * (1 - ratio))``. ``masking_indices(noise, ratio)`` is exactly that (jittor, so a
  fixture's saved noise reproduces the official ``ids_shuffle`` / ``ids_restore`` / ``mask``).
* ``BlockwiseMasking`` -- CMAE ``CMAEViT.random_masking``: the patch grid is cut into groups of
  ``block x block`` patches (2 x 2 = 32 px at patch 16); ``int(G * (1 - ratio))`` random groups are
  kept, ratio 0.65 by default; a kept group keeps all its patches.
* ``TubeMasking`` -- VideoMAE ``TubeMaskingGenerator``: one random spatial mask with
  ``int(ratio * H * W)`` masked patches, repeated over every temporal slice (ratio 0.9 by default).

Generators draw from a ``numpy.random.Generator`` (the trainer passes ``batch["_rng"]``, seeded from
(seed, iteration, micro-batch, rank)), so masks are reproducible. A generated boolean mask becomes
MAE's index arrays through ``indices_from_mask``: kept tokens first, each group in patch order.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import jittor as jt

from ..ops.random import sample_uniform

__all__ = ["num_kept", "masking_indices", "indices_from_mask", "gather_tokens", "random_masking",
           "MaskGenerator", "RandomMasking", "BlockwiseMasking", "TubeMasking", "build_masking",
           "MASKINGS"]


def num_kept(num_tokens: int, mask_ratio: float) -> int:
    """MAE's count of kept tokens: ``int(L * (1 - mask_ratio))``."""
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
    return int(num_tokens * (1 - mask_ratio))


def masking_indices(noise, mask_ratio: float):
    """MAE's index arrays from ``(B, L)`` noise (ascending noise is kept).

    Returns ``ids_shuffle`` (int32, the first ``len_keep`` are kept), ``ids_restore`` (its inverse),
    ``len_keep`` and the float32 ``mask`` (1 = removed) in patch order.
    """
    if not isinstance(noise, jt.Var):
        noise = jt.array(np.asarray(noise, dtype=np.float32))
    if noise.ndim != 2:
        raise ValueError(f"masking noise must be (batch, tokens), got shape {tuple(noise.shape)}")
    len_keep = num_kept(noise.shape[1], mask_ratio)
    ids_shuffle, _ = jt.argsort(noise, dim=1)
    ids_restore, _ = jt.argsort(ids_shuffle, dim=1)
    mask = (ids_restore >= len_keep).float32()
    return ids_shuffle, ids_restore, len_keep, mask


def indices_from_mask(mask):
    """MAE's index arrays for a given ``(B, L)`` boolean mask (True = removed).

    Every row must remove the same number of tokens. The kept tokens come first in patch order,
    then the removed ones in patch order (VideoMAE's ``x[~mask]`` order for the visible tokens).
    """
    m = mask.numpy() if isinstance(mask, jt.Var) else np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be (batch, tokens), got shape {m.shape}")
    m = m.astype(bool)
    removed = m.sum(axis=1)
    if removed.size and (removed != removed[0]).any():
        raise ValueError(f"every sample must mask the same number of tokens, got {sorted(set(removed.tolist()))}")
    b, l = m.shape
    len_keep = int(l - (removed[0] if removed.size else 0))
    ids_shuffle = np.argsort(m, axis=1, kind="stable").astype(np.int32)   # False (kept) first, in order
    ids_restore = np.argsort(ids_shuffle, axis=1, kind="stable").astype(np.int32)
    return jt.array(ids_shuffle), jt.array(ids_restore), len_keep, jt.array(m.astype(np.float32))


def gather_tokens(x, ids):
    """``x[b, ids[b, k], :]``: (B, L, D) tokens and (B, K) indices -> (B, K, D)."""
    b, k = ids.shape
    return jt.gather(x, 1, ids.unsqueeze(-1).broadcast((b, k, x.shape[2])))


def random_masking(x, mask_ratio: float, noise=None):
    """MAE ``random_masking`` of (B, L, D) tokens: ``(x_kept, mask, ids_restore)``.

    ``noise`` (B, L) fixes the draw (the parity fixtures pass the official one); by default it is
    drawn by ``jvision.ops.random.sample_uniform``, keyed by the global sample index in the trainer
    (so ``mpirun -np N`` masks every sample as one process does).
    """
    n, l, _ = x.shape
    if noise is None:
        noise = sample_uniform((n, l))
    elif not isinstance(noise, jt.Var):
        noise = jt.array(np.asarray(noise, dtype=np.float32))
    if tuple(noise.shape) != (n, l):
        raise ValueError(f"noise must have shape ({n}, {l}), got {tuple(noise.shape)}")
    ids_shuffle, ids_restore, len_keep, mask = masking_indices(noise, mask_ratio)
    return gather_tokens(x, ids_shuffle[:, :len_keep]), mask, ids_restore


# ------------------------------------------------------------------------------------------------
# Mask generators (numpy; deterministic given a numpy Generator)
# ------------------------------------------------------------------------------------------------
def _grid(grid) -> tuple[int, ...]:
    g = (int(grid),) * 2 if np.isscalar(grid) else tuple(int(v) for v in grid)
    if len(g) not in (2, 3) or min(g) < 1:
        raise ValueError(f"token grid must be (H, W) or (T, H, W) of positive sizes, got {grid!r}")
    return g


class MaskGenerator:
    """Base: ``gen(batch_size, rng) -> (B, L) bool`` (True = removed) over a token ``grid``
    ((H, W) for images, (T, H, W) for video tubelets; tokens in row-major order)."""

    name = "base"

    def __init__(self, grid, mask_ratio: float):
        self.grid = _grid(grid)
        if not 0.0 <= mask_ratio < 1.0:
            raise ValueError(f"{type(self).__name__}: mask_ratio must be in [0, 1), got {mask_ratio}")
        self.mask_ratio = float(mask_ratio)
        self.num_tokens = int(np.prod(self.grid))

    @property
    def num_masked(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define num_masked")

    def __call__(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define __call__(batch_size, rng) -> mask")

    def indices(self, batch_size: int, rng: np.random.Generator):
        """``(ids_shuffle, ids_restore, len_keep, mask)`` of a fresh mask (see ``indices_from_mask``)."""
        return indices_from_mask(self(batch_size, rng))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(grid={self.grid}, mask_ratio={self.mask_ratio}: "
                f"{self.num_masked} of {self.num_tokens} tokens removed)")


class RandomMasking(MaskGenerator):
    """MAE: ``L - int(L * (1 - ratio))`` tokens removed uniformly at random (ratio 0.75)."""

    name = "random"

    def __init__(self, grid, mask_ratio: float = 0.75):
        super().__init__(grid, mask_ratio)

    @property
    def num_masked(self) -> int:
        return self.num_tokens - num_kept(self.num_tokens, self.mask_ratio)

    def noise(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """The uniform noise MAE sorts (float32 (B, L)); ``masking_indices`` turns it into indices."""
        return rng.random((batch_size, self.num_tokens), dtype=np.float32)

    def __call__(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        noise = self.noise(batch_size, rng)
        order = np.argsort(noise, axis=1, kind="stable")
        mask = np.ones((batch_size, self.num_tokens), bool)
        np.put_along_axis(mask, order[:, :num_kept(self.num_tokens, self.mask_ratio)], False, axis=1)
        return mask


class BlockwiseMasking(MaskGenerator):
    """CMAE: groups of ``block x block`` patches kept or removed together; ``int(G * (1 - ratio))``
    of the ``G`` groups are kept (ratio 0.65, block 2). For a (T, H, W) grid the spatial mask is
    repeated over time."""

    name = "blockwise"

    def __init__(self, grid, mask_ratio: float = 0.65, block: int = 2):
        super().__init__(grid, mask_ratio)
        self.block = int(block)
        h, w = self.grid[-2:]
        if h % self.block or w % self.block:
            raise ValueError(f"BlockwiseMasking: token grid {self.grid} is not divisible into "
                             f"{self.block}x{self.block} blocks")
        self.group_grid = (h // self.block, w // self.block)
        self.num_groups = self.group_grid[0] * self.group_grid[1]
        self.groups_kept = num_kept(self.num_groups, self.mask_ratio)

    @property
    def num_masked(self) -> int:
        return self.num_tokens - self.groups_kept * self.block ** 2 * (self.grid[0] if len(self.grid) == 3 else 1)

    def __call__(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        noise = rng.random((batch_size, self.num_groups))
        keep = np.argsort(noise, axis=1, kind="stable")[:, :self.groups_kept]
        groups = np.ones((batch_size, self.num_groups), bool)
        np.put_along_axis(groups, keep, False, axis=1)
        gh, gw = self.group_grid
        spatial = groups.reshape(batch_size, gh, 1, gw, 1)
        spatial = np.broadcast_to(spatial, (batch_size, gh, self.block, gw, self.block))
        spatial = spatial.reshape(batch_size, gh * self.block * gw * self.block)
        if len(self.grid) == 3:
            spatial = np.tile(spatial, (1, self.grid[0]))
        return np.ascontiguousarray(spatial)


class TubeMasking(MaskGenerator):
    """VideoMAE: ``int(ratio * H * W)`` random spatial positions removed in every one of the T
    temporal slices (ratio 0.9). On an (H, W) grid it is a random mask with VideoMAE's count."""

    name = "tube"

    def __init__(self, grid, mask_ratio: float = 0.9):
        super().__init__(grid, mask_ratio)
        self.frames = self.grid[0] if len(self.grid) == 3 else 1
        self.per_frame = self.grid[-2] * self.grid[-1]
        self.masked_per_frame = int(self.mask_ratio * self.per_frame)

    @property
    def num_masked(self) -> int:
        return self.frames * self.masked_per_frame

    def __call__(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        spatial = np.zeros((batch_size, self.per_frame), bool)
        order = np.argsort(rng.random((batch_size, self.per_frame)), axis=1, kind="stable")
        np.put_along_axis(spatial, order[:, :self.masked_per_frame], True, axis=1)
        return np.tile(spatial, (1, self.frames))


MASKINGS = {cls.name: cls for cls in (RandomMasking, BlockwiseMasking, TubeMasking)}


def build_masking(cfg: dict | str | None, grid: Sequence[int], default_ratio: float | None = None) -> MaskGenerator:
    """``"random"`` / ``dict(type="blockwise", mask_ratio=0.65, block=2)`` / ... over ``grid``."""
    if isinstance(cfg, MaskGenerator):
        return cfg
    cfg = {"type": cfg} if isinstance(cfg, str) else dict(cfg or {"type": "random"})
    typ = cfg.pop("type", "random")
    if typ not in MASKINGS:
        raise KeyError(f"masking type {typ!r} unknown; available: {sorted(MASKINGS)}")
    if default_ratio is not None:
        cfg.setdefault("mask_ratio", default_ratio)
    try:
        return MASKINGS[typ](grid, **cfg)
    except TypeError as exc:
        raise TypeError(f"masking {typ!r}: {exc}") from None
