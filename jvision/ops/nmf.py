"""Non-negative matrix factorisation, the "ham" of SegNeXt's Hamburger decoder (``LightHamHead``).

Matches ``NMF2D`` of the official code (Visual-Attention-Network/SegNeXt,
``mmseg/models/decode_heads/ham_head.py``, commit c87bcae; the same algorithm as mmseg 1.x), with
three additions the official code lacks: the initial bases can be given by the caller, evaluation
can draw them from a seeded generator (deterministic scores), and the gradient policy is a choice.

Algorithm, for an input ``x`` of shape ``[B, C, H, W]`` (non-negative: it follows a ReLU), split into
``S`` groups of ``D = C / S`` channels, ``N = H * W``:

1. ``x -> [B*S, D, N]``; initial bases ``[B*S, D, R]`` uniform in ``[0, 1)``, L2-normalised over D;
2. ``coef = softmax(inv_t * x^T bases)`` over R (``inv_t = 1``: ``NMF2D`` overrides the base
   class's 100);
3. ``steps`` multiplicative updates (6 in training, 7 in evaluation)::

       coef  <- coef  * (x^T bases) / (coef (bases^T bases) + eps)
       bases <- bases * (x coef)    / (bases (coef^T coef)  + eps)      eps = 1e-6

4. one more ``coef`` update with the final bases (``compute_coef``);
5. output ``bases coef^T -> [B, C, H, W]``.

Gradient policy (``grad_through_steps``):
  ``True`` (default, official SegNeXt and mmseg: ``@torch.no_grad()`` on ``local_inference`` is
  commented out there): gradients flow through every update.
  ``False`` (JSeg, which decorates ``local_inference`` with ``@jt.no_grad()``; the "one-step
  gradient" of the Hamburger paper): the iterations are constants, gradients flow only through
  the final ``compute_coef`` and the reconstruction.

Random bases: the official head draws new bases on every forward, in evaluation too, so one
checkpoint scores differently from run to run (SegNeXt issues #68/#69). ``NMF2D`` here draws them
in training with ``jvision.ops.random.sample_uniform`` (keyed per image by the trainer, so MPI ranks
draw what one process draws) and, in evaluation,
from ``numpy.random.default_rng(eval_seed)``: every image gets the same bases, whatever the batch,
order or MPI rank, so evaluation is deterministic. ``eval_seed=None`` restores the official
behaviour. A caller can always pass the bases explicitly (``bases=``), which is what the parity
fixtures need.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

import jittor as jt
from jittor import nn

from .matmul import batched_matmul
from .random import sample_uniform

__all__ = ["nmf2d", "normalize_bases", "seeded_bases", "NMF2D", "NMF_KWARG_ALIASES", "parse_ham_kwargs"]


def normalize_bases(bases: jt.Var | np.ndarray, eps: float = 1e-12):
    """L2-normalise ``[..., D, R]`` bases over D (``F.normalize(bases, dim=1)``); numpy in, numpy out."""
    if isinstance(bases, np.ndarray):
        b = bases.astype(np.float32, copy=False)
        norm = np.sqrt((b * b).sum(axis=-2, keepdims=True))
        return (b / np.maximum(norm, eps)).astype(np.float32)
    norm = jt.sqrt((bases * bases).sum(dim=-2, keepdims=True))
    return bases / jt.maximum(norm, eps)


def seeded_bases(seed: int, shape: Sequence[int]) -> np.ndarray:
    """Uniform ``[0, 1)`` bases of ``shape`` from ``numpy.random.default_rng(seed)``, L2-normalised
    over axis -2 (D). The same seed and shape give the same array on every machine."""
    raw = np.random.default_rng(int(seed)).random(tuple(int(s) for s in shape), dtype=np.float32)
    return normalize_bases(raw)


def _bmm(a, b, trans_a: bool = False, trans_b: bool = False):
    # transposes as flags: on CPU each product is a oneDNN GEMM, no copy of x (see ops.matmul)
    return batched_matmul(a, b, trans_a, trans_b)


def _coef_update(x, bases, coef, eps):
    numerator = _bmm(x, bases, trans_a=True)                             # [BS, N, R]
    denominator = _bmm(coef, _bmm(bases, bases, trans_a=True))           # [BS, N, R]
    return coef * numerator / (denominator + eps)


def _bases_update(x, bases, coef, eps):
    numerator = _bmm(x, coef)                                            # [BS, D, R]
    denominator = _bmm(bases, _bmm(coef, coef, trans_a=True))            # [BS, D, R]
    return bases * numerator / (denominator + eps)


def nmf2d(x: jt.Var, bases: jt.Var, steps: int, num_groups: int = 1, inv_t: float = 1.0,
          eps: float = 1e-6, grad_through_steps: bool = True, return_factors: bool = False):
    """NMF of ``x [B, C, H, W]`` from the initial ``bases [B*S, D, R]`` (used as given: normalise
    them first, see :func:`normalize_bases`); returns the reconstruction ``[B, C, H, W]``, or
    ``(reconstruction, bases, coef)`` with ``return_factors``. See the module docstring."""
    if x.ndim != 4:
        raise ValueError(f"nmf2d: x must be [B, C, H, W], got shape {list(x.shape)}")
    b, c, h, w = x.shape
    s = int(num_groups)
    if s < 1 or c % s:
        raise ValueError(f"nmf2d: channels {c} not divisible into num_groups (MD_S) = {s}")
    d, n = c // s, h * w
    if bases.ndim != 3 or bases.shape[0] != b * s or bases.shape[1] != d:
        raise ValueError(f"nmf2d: bases must be [B*S, D, R] = [{b * s}, {d}, R] for x {list(x.shape)} "
                         f"with S={s}; got {list(bases.shape)}")
    if steps < 0:
        raise ValueError(f"nmf2d: steps must be >= 0, got {steps}")
    xs = x.reshape(b * s, d, n)
    coef = nn.softmax(inv_t * _bmm(xs, bases, trans_a=True), dim=-1)   # [BS, N, R]
    for _ in range(int(steps)):
        coef = _coef_update(xs, bases, coef, eps)
        bases = _bases_update(xs, bases, coef, eps)
    if not grad_through_steps:
        bases, coef = bases.detach(), coef.detach()
    coef = _coef_update(xs, bases, coef, eps)                 # compute_coef
    out = _bmm(bases, coef, trans_b=True).reshape(b, c, h, w)
    if return_factors:
        return out, bases, coef
    return out


#: ham_kwargs spellings accepted by ``NMF2D.from_ham_kwargs``: official (upper case), mmseg 1.x
#: (lower case) and ours.
NMF_KWARG_ALIASES = {
    "MD_S": "num_groups", "md_s": "num_groups", "num_groups": "num_groups",
    "MD_R": "rank", "md_r": "rank", "rank": "rank",
    "TRAIN_STEPS": "train_steps", "train_steps": "train_steps",
    "EVAL_STEPS": "eval_steps", "eval_steps": "eval_steps",
    "RAND_INIT": "rand_init", "rand_init": "rand_init",
    "grad_through_steps": "grad_through_steps", "eval_seed": "eval_seed", "eps": "eps",
    # accepted for compatibility; NMF2D ignores them exactly as the official code does
    "MD_D": None, "md_d": None, "INV_T": None, "inv_t": None, "ETA": None, "eta": None,
    "SPATIAL": "spatial", "spatial": "spatial",
}


def parse_ham_kwargs(ham_kwargs: dict | None) -> dict:
    """Translate official/mmseg ``ham_kwargs`` to ``NMF2D`` arguments; unknown keys are an error.

    ``MD_D`` is ignored (D is ``C / MD_S``), ``INV_T`` too (``NMF2D`` sets ``inv_t = 1``), ``ETA`` is
    unused by NMF: all three as in the official code.
    """
    out: dict = {}
    for key, value in dict(ham_kwargs or {}).items():
        if key not in NMF_KWARG_ALIASES:
            raise KeyError(f"ham_kwargs: unknown key {key!r}; known: {sorted(NMF_KWARG_ALIASES)}")
        name = NMF_KWARG_ALIASES[key]
        if name is None:
            continue
        if name == "spatial":
            if not value:
                raise NotImplementedError("ham_kwargs SPATIAL=False (channel-wise NMF) is not implemented; the "
                                          "official SegNeXt configs use SPATIAL=True")
            continue
        if name in out and out[name] != value:
            raise ValueError(f"ham_kwargs gives {name!r} twice with different values ({out[name]!r}, {value!r})")
        out[name] = value
    return out


class NMF2D(nn.Module):
    """The NMF "ham" (no parameters unless ``rand_init=False``).

    Args:
        channels: C of the input (needed only for ``rand_init=False``, which keeps fixed bases).
        num_groups: S (``MD_S``, default 1); D = C / S.
        rank: R (``MD_R``; the official default is 64, SegNeXt-T/S use 16).
        train_steps, eval_steps: multiplicative updates in training (6) / evaluation (7).
        eps: added to the denominators (1e-6).
        rand_init: draw new bases every forward (official default True). ``False``: one set of
            bases drawn at construction and kept in the state dict as ``bases`` ``[S, D, R]``.
        grad_through_steps: see the module docstring (default True = official).
        eval_seed: seed of the evaluation bases (default 0); ``None``: fresh random bases in
            evaluation too, as the official code.

    ``execute(x, bases=None)``: ``bases`` ``[B*S, D, R]``, ``[S, D, R]`` (the same for every image)
    or ``[D, R]`` overrides the draw; they are L2-normalised over D here (normalising
    already-normalised bases changes them only by rounding). ``last_bases`` holds the initial bases
    of the latest call.
    """

    def __init__(self, channels: int | None = None, num_groups: int = 1, rank: int = 64, train_steps: int = 6,
                 eval_steps: int = 7, eps: float = 1e-6, rand_init: bool = True,
                 grad_through_steps: bool = True, eval_seed: int | None = 0):
        super().__init__()
        if int(rank) < 1:
            raise ValueError(f"NMF2D rank (MD_R) must be >= 1, got {rank}")
        if int(num_groups) < 1:
            raise ValueError(f"NMF2D num_groups (MD_S) must be >= 1, got {num_groups}")
        if int(train_steps) < 0 or int(eval_steps) < 0:
            raise ValueError(f"NMF2D steps must be >= 0, got train {train_steps} / eval {eval_steps}")
        self.num_groups, self.rank = int(num_groups), int(rank)
        self.train_steps, self.eval_steps = int(train_steps), int(eval_steps)
        self.eps = float(eps)
        self.inv_t = 1.0
        self.rand_init = bool(rand_init)
        self.grad_through_steps = bool(grad_through_steps)
        self.eval_seed = None if eval_seed is None else int(eval_seed)
        self.channels = channels
        self._seeded_cache: dict = {}
        self._last_bases = None  # leading underscore: not a parameter, not in the state dict
        if not self.rand_init:
            if channels is None or channels % self.num_groups:
                raise ValueError(f"NMF2D rand_init=False needs channels divisible by num_groups, got {channels}")
            d = channels // self.num_groups
            self.bases = jt.array(normalize_bases(
                np.random.default_rng(0 if eval_seed is None else eval_seed).random(
                    (self.num_groups, d, self.rank), dtype=np.float32))).stop_grad()

    @classmethod
    def from_ham_kwargs(cls, channels: int, ham_kwargs: dict | None = None) -> "NMF2D":
        return cls(channels=channels, **parse_ham_kwargs(ham_kwargs))

    def _draw(self, b: int, d: int) -> jt.Var:
        s, r = self.num_groups, self.rank
        if not self.rand_init:
            return self.bases.repeat(b, 1, 1) if b > 1 else self.bases
        if not self.is_training() and self.eval_seed is not None:
            key = (s, d, r)
            if key not in self._seeded_cache:
                self._seeded_cache[key] = seeded_bases(self.eval_seed, (s, d, r))
            one = self._seeded_cache[key]
            return jt.array(np.ascontiguousarray(np.broadcast_to(one[None], (b, s, d, r)).reshape(b * s, d, r)))
        # per image, keyed by its global index in the trainer: N MPI ranks draw what one process draws
        raw = sample_uniform((b, s * d * r)).reshape(b * s, d, r)
        return normalize_bases(raw.stop_grad()).stop_grad()

    def _given(self, bases, b: int, d: int) -> jt.Var:
        s, r = self.num_groups, self.rank
        if not isinstance(bases, jt.Var):
            bases = jt.array(np.asarray(bases, dtype=np.float32))
        shape = tuple(bases.shape)
        if shape == (b * s, d, r):
            pass
        elif shape == (s, d, r):
            bases = bases.repeat(b, 1, 1) if b > 1 else bases
        elif shape == (d, r) and s == 1:
            bases = bases.reshape(1, d, r).repeat(b, 1, 1) if b > 1 else bases.reshape(1, d, r)
        else:
            raise ValueError(f"NMF2D: given bases have shape {list(shape)}; expected [B*S, D, R] = "
                             f"[{b * s}, {d}, {r}], [S, D, R] = [{s}, {d}, {r}] or [D, R]")
        return normalize_bases(bases)

    def execute(self, x, bases=None):
        if x.ndim != 4:
            raise ValueError(f"NMF2D expects [B, C, H, W], got {list(x.shape)}")
        b, c = x.shape[0], x.shape[1]
        if c % self.num_groups:
            raise ValueError(f"NMF2D: {c} channels not divisible by num_groups (MD_S) {self.num_groups}")
        d = c // self.num_groups
        init = self._draw(b, d) if bases is None else self._given(bases, b, d)
        self._last_bases = init
        steps = self.train_steps if self.is_training() else self.eval_steps
        return nmf2d(x, init, steps, self.num_groups, self.inv_t, self.eps, self.grad_through_steps)

    @property
    def last_bases(self):
        """The initial (normalised) bases of the latest call, ``[B*S, D, R]``."""
        return self._last_bases

    def extra_repr(self) -> str:
        return (f"S={self.num_groups}, R={self.rank}, steps={self.train_steps}/{self.eval_steps}, "
                f"rand_init={self.rand_init}, grad_through_steps={self.grad_through_steps}, "
                f"eval_seed={self.eval_seed}")
