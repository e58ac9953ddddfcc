"""Vision Transformer with the layout of MAE's encoder and fine-tuning model.

Papers: Alexey Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image
Recognition at Scale", ICLR 2021 (arXiv:2010.11929); Kaiming He et al., "Masked Autoencoders Are
Scalable Vision Learners", CVPR 2022 (arXiv:2111.06377).
Official code matched: facebookresearch/mae ``models_vit.py`` (the fine-tuning ViT) and the timm
0.3.2 ``vision_transformer.py`` blocks it builds on (``PatchEmbed``, ``Block``, ``Attention``,
``Mlp``), and ``util/pos_embed.py`` for the fixed 2-D sin-cos position embedding. Keys equal the
official ones: ``cls_token``, ``pos_embed``, ``patch_embed.proj``, ``blocks.{i}.{norm1, attn.qkv,
attn.proj, norm2, mlp.fc1, mlp.fc2}``, ``norm`` (or ``fc_norm`` with global pooling), ``head``.

``MaskedAutoencoderViT`` (``jvision.models.mae``) reuses ``PatchEmbed``, ``Block`` and the sin-cos
generator from here.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import jittor as jt
from jittor import nn

from ..ops.conv import Conv2d
from ..ops.matmul import batched_matmul
from ..ops.sdpa import packed_self_attention, scaled_dot_product_attention
from ..registry import MODELS
from .layers import (DropPath, Dropout, LayerNorm, Linear, Mlp, add_scaled_branch, freeze_module,
                     linear_drop_path_rates, ones_, to_2tuple, trunc_normal_, zeros_)

__all__ = ["get_2d_sincos_pos_embed", "PatchEmbed", "Attention", "Block", "VisionTransformer",
           "mae_encoder_state", "DEFAULT_CFGS"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ------------------------------------------------------------------------------------------------
# Fixed 2-D sin-cos position embedding (MAE util/pos_embed.py)
# ------------------------------------------------------------------------------------------------
def _sincos_1d(dim: int, positions: np.ndarray) -> np.ndarray:
    """(M,) positions -> (M, dim): [sin(p * w_k), cos(p * w_k)], w_k = 10000^(-k / (dim/2))."""
    if dim % 2:
        raise ValueError(f"sin-cos embedding needs an even dimension, got {dim}")
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    angles = np.outer(positions.reshape(-1).astype(np.float64), omega)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def get_2d_sincos_pos_embed(embed_dim: int, grid_size: int | tuple, cls_token: bool = False) -> np.ndarray:
    """(H*W [+1], embed_dim) float32 table: the first half of the channels encodes the column
    (x) coordinate, the second half the row (y); with ``cls_token`` a zero row comes first."""
    gh, gw = to_2tuple(grid_size)
    if embed_dim % 4:
        raise ValueError(f"2-D sin-cos embedding needs embed_dim divisible by 4, got {embed_dim}")
    rows, cols = np.meshgrid(np.arange(gh, dtype=np.float32), np.arange(gw, dtype=np.float32),
                             indexing="ij")
    emb = np.concatenate([_sincos_1d(embed_dim // 2, cols), _sincos_1d(embed_dim // 2, rows)], axis=1)
    if cls_token:
        emb = np.concatenate([np.zeros((1, embed_dim)), emb], axis=0)
    return emb.astype(np.float32)


# ------------------------------------------------------------------------------------------------
# Blocks
# ------------------------------------------------------------------------------------------------
class PatchEmbed(nn.Module):
    """Non-overlapping patches by a strided conv (key ``proj``): (B, C, H, W) -> (B, N, D)."""

    def __init__(self, img_size: int = 224, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 768):
        super().__init__()
        self.img_size = to_2tuple(img_size)
        self.patch_size = to_2tuple(patch_size)
        self.grid_size = (self.img_size[0] // self.patch_size[0], self.img_size[1] // self.patch_size[1])
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = Conv2d(in_chans, embed_dim, self.patch_size, stride=self.patch_size)

    def execute(self, x):
        if tuple(x.shape[2:]) != self.img_size:
            raise ValueError(f"input size {tuple(x.shape[2:])} does not match the model's "
                             f"img_size {self.img_size}")
        x = self.proj(x)
        return x.flatten(2).permute(0, 2, 1)


def _drops(attn_drop) -> bool:
    """Whether attention dropout is active now (it needs the weights materialised)."""
    return attn_drop is not None and getattr(attn_drop, "p", 0.0) > 0.0 and attn_drop.is_training()


def attend(q, k, v, scale: float = 1.0, attn_drop=None):
    """``softmax(q k^T * scale) v`` for ``[B, heads, N, d]`` queries and ``[B, heads, M, d]`` keys /
    values, returned as ``[B, heads, N, d]``.

    Without dropout on the weights (eval mode, or ``attn_drop`` off) this is one
    :func:`jvision.ops.scaled_dot_product_attention` op: on the CPU it runs each (sample, head)
    entry's products and softmax in one OpenMP task, 7x faster than the composition at MAE's decoder
    shape. With dropout, the composition with batched GEMMs (``jvision.ops.batched_matmul``; Jittor
    lowers a 4-D ``jt.matmul`` on the CPU to one single-threaded broadcast-multiply-reduce loop);
    dropout sees the ``[B, heads, N, M]`` weights, so its draws stay keyed by the sample index."""
    b, h, n, d = q.shape
    m = k.shape[2]
    if not _drops(attn_drop):
        out = scaled_dot_product_attention(q.reshape(b * h, n, d), k.reshape(b * h, m, d),
                                           v.reshape(b * h, m, d), scale)
        return out.reshape(b, h, n, d)
    attn = batched_matmul(q.reshape(b * h, n, d), k.reshape(b * h, m, d), trans_b=True)
    attn = nn.softmax(attn * scale if scale != 1.0 else attn, dim=-1)
    attn = attn_drop(attn.reshape(b, h, n, m)).reshape(b * h, n, m)
    return batched_matmul(attn, v.reshape(b * h, m, d)).reshape(b, h, n, d)


class Attention(nn.Module):
    """Multi-head self-attention with a fused ``qkv`` projection and output ``proj``."""

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = Dropout(attn_drop) if attn_drop > 0 else nn.Identity()
        self.proj = Linear(dim, dim)
        self.proj_drop = Dropout(proj_drop) if proj_drop > 0 else nn.Identity()

    def execute(self, x):
        b, n, c = x.shape
        if _drops(self.attn_drop):
            qkv = self.project_qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
            x = attend(qkv[0], qkv[1], qkv[2], self.scale, self.attn_drop).permute(0, 2, 1, 3).reshape(b, n, c)
        else:   # one op on the projection as it lies (no head transposes)
            x = packed_self_attention(self.project_qkv(x), self.num_heads, self.scale)
        return self.proj_drop(self.proj(x))

    def project_qkv(self, x):
        """(B, N, C) -> (B, N, 3C): queries, keys and values side by side."""
        return self.qkv(x)


class QVBiasAttention(Attention):
    """``Attention`` with the bias layout of BEiT and VideoMAE: ``qkv`` has no bias, ``q_bias`` and
    ``v_bias`` are parameters (keys ``attn.q_bias``, ``attn.v_bias``) and the key bias is zero (it
    would add the same amount to every logit of a query, which the softmax cancels)."""

    def __init__(self, dim: int, num_heads: int = 8, attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__(dim, num_heads, False, attn_drop, proj_drop)
        self.q_bias = jt.zeros(dim)
        self.v_bias = jt.zeros(dim)

    def project_qkv(self, x):
        return self.qkv(x) + jt.concat([self.q_bias, jt.zeros_like(self.v_bias).stop_grad(), self.v_bias])


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))``, ``x + mlp(norm2(x))``.

    ``qkv_bias``: True / False for a bias of the fused ``qkv`` projection (timm, MAE), ``"qv"`` for
    separate query and value biases (``QVBiasAttention``: BEiT, VideoMAE).
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool | str = True,
                 drop: float = 0.0, attn_drop: float = 0.0, drop_path: float = 0.0, norm_eps: float = 1e-6):
        super().__init__()
        if qkv_bias not in (True, False, "qv"):
            raise ValueError(f"qkv_bias must be True, False or 'qv', got {qkv_bias!r}")
        self.norm1 = LayerNorm(dim, eps=norm_eps)
        self.attn = (QVBiasAttention(dim, num_heads, attn_drop, drop) if qkv_bias == "qv"
                     else Attention(dim, num_heads, qkv_bias, attn_drop, drop))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def execute(self, x):
        x = add_scaled_branch(x, self.attn(self.norm1(x)), None, self.drop_path)   # x + drop_path(attn(...))
        return add_scaled_branch(x, self.mlp(self.norm2(x)), None, self.drop_path)


def init_vit_weights(model: nn.Module) -> None:
    """MAE's init: xavier-uniform Linear weights and patch projection (as a Linear), zero biases."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            jt.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                zeros_(m.bias)
        elif isinstance(m, LayerNorm) and m.weight is not None:
            ones_(m.weight)
            zeros_(m.bias)
        elif isinstance(m, PatchEmbed):
            w = m.proj.weight
            fan_out, fan_in = w.shape[0], int(np.prod(w.shape[1:]))
            bound = float(np.sqrt(6.0 / (fan_in + fan_out)))
            w.update(jt.init.uniform(w.shape, "float32", -bound, bound))
            zeros_(m.proj.bias)


# ------------------------------------------------------------------------------------------------
# Network
# ------------------------------------------------------------------------------------------------
@MODELS.register()
class VisionTransformer(nn.Module):
    """ViT as MAE fine-tunes it.

    Args:
        img_size, patch_size, in_chans, embed_dim, depth, num_heads, mlp_ratio, qkv_bias: the usual.
        num_classes: classes of ``head``; 0 builds the backbone only, whose ``execute`` returns the
            outputs of the blocks in ``out_indices`` as NCHW maps (cls token dropped; the last block's
            output passes through ``norm``).
        global_pool: classify the mean of the patch tokens through ``fc_norm`` (MAE fine-tuning,
            the released fine-tuned checkpoints); False: the cls token through ``norm``.
        drop_rate, attn_drop_rate, drop_path_rate: dropout / stochastic depth (linear over blocks).
        norm_eps: LayerNorm eps (1e-6 in MAE).
        out_indices: blocks returned by the backbone (default: the last one).
        frozen_stages: freeze the patch embedding, cls/pos embeddings and blocks 0..frozen_stages-1
            (-1: nothing, 0: embeddings only).
        linear_probe: MAE's linear probe (``main_linprobe``): the pooled feature (the cls token through
            ``norm``, MAE's default, or with ``global_pool`` the token mean through the new, frozen
            ``fc_norm``), a head ``BatchNorm1d(affine=False, eps=1e-6)`` -> ``Linear`` (keys ``head.0``,
            ``head.1``, as the official probe checkpoints), everything but the head frozen, in eval mode.
        pretrained: encoder weights to start from: an MAE pre-training checkpoint (ours, or the
            official ``mae_pretrain_vit_*.pth`` / ``*_full.pth``), read through ``jvision.convert``
            with ``mae_encoder_state``; the new ``fc_norm`` / ``head`` stay missing, nothing else may.

    ``pos_embed`` is learnable (as in MAE fine-tuning) and starts from the fixed sin-cos table.
    """

    def __init__(self, img_size: int = 224, patch_size: int = 16, in_chans: int = 3,
                 num_classes: int = 1000, embed_dim: int = 768, depth: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, global_pool: bool = True,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 norm_eps: float = 1e-6, out_indices: Sequence[int] | None = None, frozen_stages: int = -1,
                 linear_probe: bool = False, pretrained: str | None = None):
        super().__init__()
        if linear_probe and num_classes <= 0:
            raise ValueError("linear_probe needs num_classes > 0")
        self.num_classes = num_classes
        self.linear_probe = linear_probe
        self.embed_dim = embed_dim
        self.depth = depth
        self.global_pool = global_pool and num_classes > 0
        self.out_indices = tuple(out_indices) if out_indices is not None else (depth - 1,)
        if any(not 0 <= i < depth for i in self.out_indices):
            raise ValueError(f"out_indices {list(self.out_indices)} must lie in [0, {depth})")
        self.frozen_stages = frozen_stages

        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.cls_token = jt.zeros((1, 1, embed_dim))
        self.pos_embed = jt.array(get_2d_sincos_pos_embed(embed_dim, self.patch_embed.grid_size,
                                                          cls_token=True)[None])
        self.pos_drop = Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        dpr = linear_drop_path_rates(drop_path_rate, [depth])
        self.blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias, drop_rate, attn_drop_rate, dpr[i], norm_eps)
            for i in range(depth)])
        if self.global_pool:
            self.norm = None
            self.fc_norm = LayerNorm(embed_dim, eps=norm_eps)
        else:
            self.norm = LayerNorm(embed_dim, eps=norm_eps)
            self.fc_norm = None
        self.head = Linear(embed_dim, num_classes) if num_classes > 0 else None
        self.feature_info = [dict(num_chs=embed_dim, reduction=self.patch_embed.patch_size[0],
                                  module=f"blocks.{i}") for i in self.out_indices]
        init_vit_weights(self)
        trunc_normal_(self.cls_token, std=0.02)
        if self.head is not None:
            trunc_normal_(self.head.weight, std=0.01 if linear_probe else 2e-5)  # MAE probe / fine-tuning init
        if pretrained:
            self.load_pretrained(pretrained)
        if linear_probe:
            self.head = nn.Sequential(nn.BatchNorm1d(embed_dim, eps=1e-6, affine=False), self.head)
        self._freeze_stages()

    def load_pretrained(self, path: str) -> None:
        """Encoder weights from an MAE checkpoint (see ``pretrained``); prints one summary line."""
        from ..convert import load_checkpoint
        new = [k for k in ("fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias") if k in self.state_dict()]
        report = load_checkpoint(self, path, remap=lambda st: mae_encoder_state(st, self.global_pool),
                                 ignore_missing=new, log=None)
        print(f"VisionTransformer: {report.summary()}" + (f"; new: {', '.join(new)}" if new else ""))

    def stage_modules(self) -> dict:
        groups = {"embed": ["patch_embed", "cls_token", "pos_embed"], "blocks": ["blocks"]}
        groups["norm"] = ["fc_norm"] if self.global_pool else ["norm"]
        if self.head is not None:
            groups["head"] = ["head"]
        return groups

    def _freeze_stages(self) -> None:
        if self.linear_probe:
            for name, module in self.named_modules():
                if name and not name.startswith("head") and "." not in name:
                    freeze_module(module)
            self.cls_token.stop_grad()
            self.pos_embed.stop_grad()
            return
        if self.frozen_stages < 0:
            return
        freeze_module(self.patch_embed)
        self.cls_token.stop_grad()
        self.pos_embed.stop_grad()
        for i in range(min(self.frozen_stages, self.depth)):
            freeze_module(self.blocks[i])

    def train(self):
        super().train()
        self._freeze_stages()
        return self

    def embed(self, x):
        """Patch tokens plus position embeddings, with the cls token first: (B, 1 + N, D)."""
        x = self.patch_embed(x) + self.pos_embed[:, 1:, :]
        cls = (self.cls_token + self.pos_embed[:, :1, :]).broadcast((x.shape[0], 1, self.embed_dim))
        return self.pos_drop(jt.concat([cls, x], dim=1))

    def forward_features(self, x):
        """Pooled features fed to ``head``: (B, D)."""
        x = self.embed(x)
        for blk in self.blocks:
            x = blk(x)
        if self.global_pool:
            return self.fc_norm(x[:, 1:, :].mean(dim=1))
        return self.norm(x)[:, 0]

    def execute(self, x):
        if self.head is not None:
            return self.head(self.forward_features(x))
        b = x.shape[0]
        gh, gw = self.patch_embed.grid_size
        x = self.embed(x)
        outs = []
        for i, blk in enumerate(self.blocks[:max(self.out_indices) + 1]):
            x = blk(x)
            if i in self.out_indices:
                y = self.norm(x) if i == self.depth - 1 else x
                outs.append(y[:, 1:, :].permute(0, 2, 1).reshape(b, self.embed_dim, gh, gw))
        return outs

    forward = execute


def mae_encoder_state(state: dict, global_pool: bool = True) -> dict:
    """An MAE pre-training checkpoint -> the keys of ``VisionTransformer`` (MAE ``main_finetune``):
    drops the decoder and ``mask_token``; with global pooling also the encoder's final ``norm``
    (fine-tuning then trains the new ``fc_norm`` and ``head``, which stay missing)."""
    out = {}
    for key, value in state.items():
        if key.startswith("decoder") or key == "mask_token":
            continue
        if global_pool and key.startswith("norm."):
            continue
        out[key] = value
    return out


# ------------------------------------------------------------------------------------------------
# Published variants: MAE fine-tuned on ImageNet-1K (FINETUNE.md); params are the classifier's.
# ------------------------------------------------------------------------------------------------
_MAE_URL = "https://dl.fbaipublicfiles.com/mae/finetune"
DEFAULT_CFGS = {
    "vit_base_patch16": dict(input_size=(3, 224, 224), mean=IMAGENET_MEAN, std=IMAGENET_STD,
                             params_m=86.6, top1=83.66, drop_path_rate=0.1,
                             url=f"{_MAE_URL}/mae_finetuned_vit_base.pth"),
    "vit_large_patch16": dict(input_size=(3, 224, 224), mean=IMAGENET_MEAN, std=IMAGENET_STD,
                              params_m=304.3, top1=85.95, drop_path_rate=0.2,
                              url=f"{_MAE_URL}/mae_finetuned_vit_large.pth"),
    "vit_huge_patch14": dict(input_size=(3, 224, 224), mean=IMAGENET_MEAN, std=IMAGENET_STD,
                             params_m=632.1, top1=86.93, drop_path_rate=0.3,
                             url=f"{_MAE_URL}/mae_finetuned_vit_huge.pth"),
    # the encoders of mae_vit_tiny/small_patch16 (DeiT-Ti / DeiT-S widths), for CPU runs
    "vit_tiny_patch16": dict(input_size=(3, 224, 224), mean=IMAGENET_MEAN, std=IMAGENET_STD, params_m=5.7,
                             drop_path_rate=0.1),
    "vit_small_patch16": dict(input_size=(3, 224, 224), mean=IMAGENET_MEAN, std=IMAGENET_STD, params_m=22.1,
                              drop_path_rate=0.1),
}


def _vit(name: str, **kwargs) -> VisionTransformer:
    model = VisionTransformer(**kwargs)
    model.default_cfg = dict(DEFAULT_CFGS[name], architecture=name)
    return model


@MODELS.register()
def vit_base_patch16(**kwargs) -> VisionTransformer:
    return _vit("vit_base_patch16", **{"patch_size": 16, "embed_dim": 768, "depth": 12,
                                       "num_heads": 12, **kwargs})


@MODELS.register()
def vit_large_patch16(**kwargs) -> VisionTransformer:
    return _vit("vit_large_patch16", **{"patch_size": 16, "embed_dim": 1024, "depth": 24,
                                        "num_heads": 16, **kwargs})


@MODELS.register()
def vit_huge_patch14(**kwargs) -> VisionTransformer:
    return _vit("vit_huge_patch14", **{"patch_size": 14, "embed_dim": 1280, "depth": 32,
                                       "num_heads": 16, **kwargs})


@MODELS.register()
def vit_tiny_patch16(**kwargs) -> VisionTransformer:
    return _vit("vit_tiny_patch16", **{"patch_size": 16, "embed_dim": 192, "depth": 12, "num_heads": 3,
                                       **kwargs})


@MODELS.register()
def vit_small_patch16(**kwargs) -> VisionTransformer:
    return _vit("vit_small_patch16", **{"patch_size": 16, "embed_dim": 384, "depth": 12, "num_heads": 6,
                                        **kwargs})
