"""VideoMAE: masked autoencoder pre-training of a video ViT, and the ViT it fine-tunes.

Paper: Zhan Tong, Yibing Song, Jue Wang, Limin Wang, "VideoMAE: Masked Autoencoders are
Data-Efficient Learners for Self-Supervised Video Pre-Training", NeurIPS 2022 (arXiv:2203.12602).
Official code matched: MCG-NJU/VideoMAE (commit 14ef8d8) ``modeling_pretrain.py``
(``PretrainVisionTransformer``), ``modeling_finetune.py`` (``VisionTransformer``, ``Block``,
``PatchEmbed``, ``get_sinusoid_encoding_table``), ``masking_generator.py`` (``TubeMaskingGenerator``)
and ``engine_for_pretraining.py`` (the target and the loss). State-dict keys and parameter counts
equal the official ones (``../shared/parity/videomae``), so ``checkpoint['model']`` and
``checkpoint['module']`` files load through ``jvision.convert`` as they are.

Pre-training (``PretrainVisionTransformer.execute(videos, mask) -> pred``): 2x16x16 tubelets are
embedded (``encoder.patch_embed``, a strided Conv3d), a fixed 1-D sinusoid table over the flattened
(time, row, column) token index is added, the tokens hidden by the tube mask (one random spatial
mask repeated over time, ratio 0.9) are dropped, the visible ones pass the encoder blocks and
``encoder.norm``; ``encoder_to_decoder`` (no bias) projects them, ``mask_token`` fills the hidden
positions, the decoder's own sinusoid table is added, and the decoder returns
``head(norm(tokens))`` for the hidden tubelets only, in token order. Loss: MSE against the tubelet
pixels (in [0, 1]), normalised per tubelet and colour channel (``normlize_target``).

Shared with the image models: the transformer ``Block`` of ``jvision.models.vit`` (with VideoMAE's
``q_bias`` / ``v_bias`` layout), the masking of ``jvision.mim.masking`` (``TubeMasking``, index arrays),
the targets of ``jvision.mim.targets`` (``norm_pix`` in VideoMAE style, or any other target) and
MAE's decoder path ``jvision.models.mae.mae_decode``: the official decoder feeds [visible tokens,
mask tokens] without un-shuffling and adds the position table in that order; un-shuffling first (MAE)
gives the same tokens, since attention does not depend on token order.

Fine-tuning (``VideoVisionTransformer``): the same embedding and blocks without masking, the mean of
the tokens through ``fc_norm`` (no cls token), dropout, ``head``. ``videomae_encoder_state`` maps a
pre-training checkpoint (ours, official, or a CMAE-V one) onto it as ``run_class_finetuning.py`` does.
"""
from __future__ import annotations

import math

import numpy as np
import jittor as jt
from jittor import nn

from ..mim.masking import build_masking, gather_tokens, indices_from_mask
from ..mim.targets import build_target
from ..registry import MODELS
from .layers import LayerNorm, Linear, linear_drop_path_rates, ones_, to_2tuple, trunc_normal_, zeros_
from .mae import mae_decode
from .vit import Block

__all__ = ["get_sinusoid_encoding_table", "PatchEmbed", "tubelet_conv", "PretrainVisionTransformerEncoder",
           "PretrainVisionTransformerDecoder", "PretrainVisionTransformer", "VideoVisionTransformer",
           "videomae_encoder_state", "VIDEOMAE_MEAN", "VIDEOMAE_STD", "DEFAULT_CFGS"]

# The pipeline's normalisation in 0-1 units (ImageNet's); the target is computed on [0, 1] pixels.
VIDEOMAE_MEAN = (0.485, 0.456, 0.406)
VIDEOMAE_STD = (0.229, 0.224, 0.225)


# ------------------------------------------------------------------------------------------------
# Position table and tubelet embedding
# ------------------------------------------------------------------------------------------------
def get_sinusoid_encoding_table(n_position: int, d_hid: int) -> np.ndarray:
    """(n_position, d_hid) float32: channel ``j`` of position ``p`` is ``sin`` (even j) or ``cos``
    (odd j) of ``p / 10000^(2 * (j // 2) / d_hid)`` -- the Transformer table, interleaved."""
    pos = np.arange(n_position, dtype=np.float64)[:, None]
    j = np.arange(d_hid)
    angle = pos / np.power(10000.0, 2 * (j // 2) / d_hid)
    table = np.where(j % 2 == 0, np.sin(angle), np.cos(angle))
    return table.astype(np.float32)


def _fixed_table(module: nn.Module, name: str, table: np.ndarray) -> None:
    """A constant (1, N, D) table as a non-persistent buffer: the official tables are plain tensors,
    absent from the state dict (and from every checkpoint)."""
    module.register_buffer(name, jt.array(table[None]).stop_grad(), persistent=False)


class PatchEmbed(nn.Module):
    """Tubelet embedding: ``proj`` is a Conv3d with kernel = stride = (tubelet, p, p), key ``proj``.

    (B, C, T, H, W) -> (B, N, D) with tokens in (time, row, column) order. Computed as one matrix
    product over the flattened tubelets: the same numbers as the strided convolution, faster on CPU.
    """

    def __init__(self, img_size: int = 224, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 768,
                 num_frames: int = 16, tubelet_size: int = 2):
        super().__init__()
        self.img_size, self.patch_size = to_2tuple(img_size), to_2tuple(patch_size)
        self.tubelet_size, self.num_frames, self.in_chans = int(tubelet_size), int(num_frames), int(in_chans)
        if self.num_frames % self.tubelet_size:
            raise ValueError(f"num_frames {num_frames} is not divisible by tubelet_size {tubelet_size}")
        self.grid = (self.num_frames // self.tubelet_size, self.img_size[0] // self.patch_size[0],
                     self.img_size[1] // self.patch_size[1])
        self.num_patches = int(np.prod(self.grid))
        kernel = (self.tubelet_size,) + self.patch_size
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel, stride=kernel)
        bound = 1.0 / math.sqrt(in_chans * int(np.prod(kernel)))   # PyTorch's default Conv3d init
        self.proj.weight.update(jt.init.uniform(self.proj.weight.shape, "float32", -bound, bound))
        self.proj.bias.update(jt.init.uniform(self.proj.bias.shape, "float32", -bound, bound))

    def execute(self, x):
        if x.ndim != 5 or x.shape[1] != self.in_chans:
            raise ValueError(f"expected clips (B, {self.in_chans}, T, H, W), got shape {tuple(x.shape)}")
        b, c, t_all, h, w = x.shape
        if (t_all, h, w) != (self.num_frames,) + self.img_size:
            raise ValueError(f"clip of {t_all} frames of {h}x{w} does not match the model's {self.num_frames} "
                             f"frames of {self.img_size[0]}x{self.img_size[1]} (num_frames / img_size)")
        return tubelet_conv(x, self.proj.weight, self.proj.bias)


def tubelet_conv(x, weight, bias):
    """A Conv3d whose stride equals its kernel (t, p, q), as one matrix product over the tubelets:
    (B, C, T, H, W) -> (B, T/t * H/p * W/q, D), tokens in (time, row, column) order."""
    b, c, t_all, h, w = x.shape
    d, _, t, p, q = weight.shape
    gt, gh, gw = t_all // t, h // p, w // q
    x = x.reshape(b, c, gt, t, gh, p, gw, q).permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(b, gt * gh * gw, c * t * p * q)
    return jt.matmul(x, weight.reshape(d, -1).transpose(1, 0)) + bias


def _official_qkv_bias(qkv_bias: bool | str) -> bool | str:
    """The official ``qkv_bias=True`` means separate q/v biases (``q_bias``, ``v_bias``)."""
    return "qv" if qkv_bias is True else qkv_bias


def _init_linear_layernorm(module: nn.Module, linear: str) -> None:
    """VideoMAE's ``_init_weights``: Linear weights xavier-uniform (pre-training) or trunc-normal
    0.02 (fine-tuning), biases 0, LayerNorm 1/0; convolutions keep PyTorch's default init."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            if linear == "xavier":
                jt.init.xavier_uniform_(m.weight)
            else:
                trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                zeros_(m.bias)
        elif isinstance(m, LayerNorm) and m.weight is not None:
            ones_(m.weight)
            zeros_(m.bias)


# ------------------------------------------------------------------------------------------------
# Pre-training: encoder, decoder, autoencoder
# ------------------------------------------------------------------------------------------------
class PretrainVisionTransformerEncoder(nn.Module):
    """Encoder of the visible tubelets (keys ``patch_embed``, ``blocks``, ``norm``; ``head`` is the
    official Identity). ``execute(x, ids_keep)``: (B, C, T, H, W) and (B, K) token indices -> (B, K, D)."""

    def __init__(self, img_size: int = 224, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 768,
                 depth: int = 12, num_heads: int = 12, mlp_ratio: float = 4.0, qkv_bias: bool | str = True,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 norm_eps: float = 1e-6, tubelet_size: int = 2, num_frames: int = 16):
        super().__init__()
        self.embed_dim = embed_dim
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim, num_frames, tubelet_size)
        _fixed_table(self, "pos_embed", get_sinusoid_encoding_table(self.patch_embed.num_patches, embed_dim))
        dpr = linear_drop_path_rates(drop_path_rate, [depth])
        self.blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_ratio, _official_qkv_bias(qkv_bias), drop_rate, attn_drop_rate, dpr[i],
                  norm_eps) for i in range(depth)])
        self.norm = LayerNorm(embed_dim, eps=norm_eps)
        _init_linear_layernorm(self, "xavier")

    def execute(self, x, ids_keep=None):
        x = self.patch_embed(x) + self.pos_embed
        if ids_keep is not None:
            x = gather_tokens(x, ids_keep)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x) if self.norm is not None else x     # no norm: CMAE-V's target encoder


class PretrainVisionTransformerDecoder(nn.Module):
    """Decoder blocks, ``norm`` and ``head`` (keys as the official ``decoder.*``)."""

    def __init__(self, num_classes: int = 1536, embed_dim: int = 512, depth: int = 4, num_heads: int = 8,
                 mlp_ratio: float = 4.0, qkv_bias: bool | str = True, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0, norm_eps: float = 1e-6):
        super().__init__()
        dpr = linear_drop_path_rates(drop_path_rate, [depth])
        self.blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_ratio, _official_qkv_bias(qkv_bias), drop_rate, attn_drop_rate, dpr[i],
                  norm_eps) for i in range(depth)])
        self.norm = LayerNorm(embed_dim, eps=norm_eps)
        self.head = Linear(embed_dim, num_classes)
        _init_linear_layernorm(self, "xavier")

    def execute(self, x, return_token_num: int = 0):
        """The official call: ``head(norm(blocks(x)[:, -return_token_num:]))``."""
        for blk in self.blocks:
            x = blk(x)
        if return_token_num > 0:
            x = x[:, -return_token_num:]
        return self.head(self.norm(x))


@MODELS.register()
class PretrainVisionTransformer(nn.Module):
    """VideoMAE's masked video autoencoder (module docstring).

    Args:
        img_size, patch_size, tubelet_size, num_frames: clip geometry (16 frames of 224x224,
            2x16x16 tubelets in the official models).
        encoder_in_chans, encoder_embed_dim, encoder_depth, encoder_num_heads: the encoder.
        decoder_num_classes (values predicted per tubelet: 3 * tubelet * p * p), decoder_embed_dim,
            decoder_depth, decoder_num_heads: the decoder.
        mlp_ratio, qkv_bias (official True = separate q/v biases), drop_rate, attn_drop_rate,
            drop_path_rate, norm_eps: the blocks of both.
        mask_ratio: tube masking ratio (0.9 in every released model; 0.75 for UCF101).
        masking: a ``jvision.mim.masking`` config drawn per batch (default tube masking).
        normalize_target: VideoMAE's ``normlize_target`` (per-tubelet, per-channel normalised pixels).
        target: any ``jvision.mim.targets`` config instead (e.g. ``hog``, ``teacher``); the head then
            predicts ``target.dim`` values per tubelet.
        input_mean, input_std: the data pipeline's normalisation in 0-1 units, undone before the target
            is computed (the official target is on [0, 1] pixels).
    """

    def __init__(self, img_size: int = 224, patch_size: int = 16, encoder_in_chans: int = 3,
                 encoder_embed_dim: int = 768, encoder_depth: int = 12, encoder_num_heads: int = 12,
                 decoder_num_classes: int | None = 1536, decoder_embed_dim: int = 512, decoder_depth: int = 8,
                 decoder_num_heads: int = 8, mlp_ratio: float = 4.0, qkv_bias: bool | str = True,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 norm_eps: float = 1e-6, tubelet_size: int = 2, num_frames: int = 16, mask_ratio: float = 0.9,
                 masking: dict | str | None = None, normalize_target: bool = True,
                 target: dict | str | None = None, input_mean=VIDEOMAE_MEAN, input_std=VIDEOMAE_STD):
        super().__init__()
        self.encoder = PretrainVisionTransformerEncoder(
            img_size, patch_size, encoder_in_chans, encoder_embed_dim, encoder_depth, encoder_num_heads, mlp_ratio,
            qkv_bias, drop_rate, attn_drop_rate, drop_path_rate, norm_eps, tubelet_size, num_frames)
        embed = self.encoder.patch_embed
        if target is None:
            target = dict(type="norm_pix", style="videomae") if normalize_target else dict(type="pixel")
            target.update(input_mean=input_mean, input_std=input_std)
        self.target = build_target(target, patch_size=embed.patch_size[0], in_chans=encoder_in_chans,
                                   tubelet_size=tubelet_size, img_size=embed.img_size)
        if decoder_num_classes is not None and decoder_num_classes != self.target.dim:
            raise ValueError(f"decoder_num_classes={decoder_num_classes} but the target {self.target!r} has "
                             f"{self.target.dim} values per tubelet")
        self.decoder = PretrainVisionTransformerDecoder(
            self.target.dim, decoder_embed_dim, decoder_depth, decoder_num_heads, mlp_ratio, qkv_bias, drop_rate,
            attn_drop_rate, drop_path_rate, norm_eps)
        self.encoder_to_decoder = Linear(encoder_embed_dim, decoder_embed_dim, bias=False)
        self.mask_token = jt.zeros((1, 1, decoder_embed_dim))
        _fixed_table(self, "pos_embed", get_sinusoid_encoding_table(embed.num_patches, decoder_embed_dim))
        # the official top-level _init_weights is never applied: encoder_to_decoder keeps PyTorch's
        # default Linear init; its trunc_normal_ cuts at +-std
        bound = 1.0 / math.sqrt(encoder_embed_dim)
        self.encoder_to_decoder.weight.update(jt.init.uniform(self.encoder_to_decoder.weight.shape, "float32",
                                                              -bound, bound))
        trunc_normal_(self.mask_token, std=0.02, a=-0.02, b=0.02)
        self.mask_ratio = float(mask_ratio)
        self.masking = build_masking(masking or "tube", embed.grid, default_ratio=mask_ratio)

    @property
    def grid(self) -> tuple[int, int, int]:
        return self.encoder.patch_embed.grid

    def stage_modules(self) -> dict:
        return {"encoder": ["encoder"], "decoder": ["decoder", "encoder_to_decoder", "mask_token"]}

    # -- forward ----------------------------------------------------------------------------------
    def forward_indices(self, mask):
        """(B, N) bool mask (True = hidden) -> (ids_shuffle, ids_restore, number visible)."""
        ids_shuffle, ids_restore, len_keep, _ = indices_from_mask(mask)
        if ids_shuffle.shape[1] != self.encoder.patch_embed.num_patches:
            raise ValueError(f"mask has {ids_shuffle.shape[1]} tokens, the model has "
                             f"{self.encoder.patch_embed.num_patches} (grid {self.grid})")
        return ids_shuffle, ids_restore, len_keep

    def forward_encoder(self, videos, mask):
        """Encoder output of the visible tokens, in token order (the official ``x_vis``)."""
        ids_shuffle, _, len_keep = self.forward_indices(mask)
        return self.encoder(videos, ids_shuffle[:, :len_keep])

    def execute(self, videos, mask):
        """``mask`` (B, N) bool, True = hidden -> predictions for the hidden tubelets (B, N_hidden, out)."""
        ids_shuffle, ids_restore, len_keep = self.forward_indices(mask)
        x_vis = self.encoder(videos, ids_shuffle[:, :len_keep])
        tokens = mae_decode(x_vis, ids_restore, self.encoder_to_decoder, self.mask_token, self.pos_embed,
                            self.decoder.blocks, num_prefix_tokens=0)
        hidden = gather_tokens(tokens, ids_shuffle[:, len_keep:])
        return self.decoder.head(self.decoder.norm(hidden))

    forward = execute

    def hidden_targets(self, videos, mask):
        """The target of every hidden tubelet, (B, N_hidden, dim), in the order of ``execute``."""
        ids_shuffle, _, len_keep = self.forward_indices(mask)
        return gather_tokens(self.target(videos), ids_shuffle[:, len_keep:])

    def forward_loss(self, videos, pred, mask):
        """Mean over hidden tubelets of the target's loss (``nn.MSELoss()`` for pixel targets)."""
        return self.target.per_token_loss(pred, self.hidden_targets(videos, mask)).mean()

    # -- trainer contract -------------------------------------------------------------------------
    def _batch_mask(self, batch: dict):
        if batch.get("mask") is not None:
            return batch["mask"]
        rng = batch.get("_rng")
        if rng is None:
            rng = np.random.default_rng(np.random.randint(0, 2 ** 31))
        return self.masking(batch["img"].shape[0], rng)

    def train_step(self, batch: dict) -> dict:
        mask = self._batch_mask(batch)
        return {"loss": self.forward_loss(batch["img"], self(batch["img"], mask), mask)}

    def val_step(self, batch: dict) -> dict:
        mask = self._batch_mask(batch)
        pred = self(batch["img"], mask)
        return {"loss": self.forward_loss(batch["img"], pred, mask), "pred": pred, "mask": mask}


# ------------------------------------------------------------------------------------------------
# Fine-tuning: the video ViT classifier
# ------------------------------------------------------------------------------------------------
@MODELS.register()
class VideoVisionTransformer(nn.Module):
    """VideoMAE's fine-tuning ViT (official ``modeling_finetune.VisionTransformer``).

    Args:
        img_size, patch_size, in_chans, all_frames, tubelet_size: clip geometry.
        num_classes: classes of ``head`` (400 Kinetics, 174 SSv2); 0 returns the pooled features.
        embed_dim, depth, num_heads, mlp_ratio, qkv_bias, norm_eps: the blocks.
        drop_rate, attn_drop_rate, drop_path_rate, fc_drop_rate: dropout, stochastic depth (linear over
            blocks; 0.1 in the official recipes), dropout before the head.
        use_mean_pooling: mean of the tokens through ``fc_norm`` (official default); False: ``norm``
            then the first token (the official model has no cls token).
        init_scale: the head's initial weights are scaled by this (0.001 in the official recipes).
        pretrained: a checkpoint to start from, read through ``jvision.convert`` with
            ``videomae_encoder_state``: a VideoMAE pre-training checkpoint (ours or official), a CMAE-V
            one, or a fine-tuned one. ``fc_norm`` / ``head`` may be missing (they start fresh).
    """

    def __init__(self, img_size: int = 224, patch_size: int = 16, in_chans: int = 3, num_classes: int = 400,
                 embed_dim: int = 768, depth: int = 12, num_heads: int = 12, mlp_ratio: float = 4.0,
                 qkv_bias: bool | str = True, fc_drop_rate: float = 0.0, drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0, norm_eps: float = 1e-6,
                 init_scale: float = 0.001, all_frames: int = 16, tubelet_size: int = 2,
                 use_mean_pooling: bool = True, pretrained: str | None = None):
        super().__init__()
        self.num_classes, self.embed_dim, self.use_mean_pooling = num_classes, embed_dim, use_mean_pooling
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim, all_frames, tubelet_size)
        _fixed_table(self, "pos_embed", get_sinusoid_encoding_table(self.patch_embed.num_patches, embed_dim))
        self.pos_drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        dpr = linear_drop_path_rates(drop_path_rate, [depth])
        self.blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_ratio, _official_qkv_bias(qkv_bias), drop_rate, attn_drop_rate, dpr[i],
                  norm_eps) for i in range(depth)])
        self.norm = None if use_mean_pooling else LayerNorm(embed_dim, eps=norm_eps)
        self.fc_norm = LayerNorm(embed_dim, eps=norm_eps) if use_mean_pooling else None
        self.fc_dropout = nn.Dropout(fc_drop_rate) if fc_drop_rate > 0 else nn.Identity()
        self.head = Linear(embed_dim, num_classes) if num_classes > 0 else None
        _init_linear_layernorm(self, "trunc_normal")
        if self.head is not None:
            self.head.weight.update(self.head.weight * init_scale)
            self.head.bias.update(self.head.bias * init_scale)
        self.feature_info = [dict(num_chs=embed_dim, reduction=self.patch_embed.patch_size[0], module="blocks")]
        if pretrained:
            self.load_pretrained(pretrained)

    def load_pretrained(self, path: str) -> None:
        """Weights from a pre-training or fine-tuned checkpoint (see ``pretrained``); one summary line."""
        from ..convert import load_checkpoint
        fresh = [k for k in self.state_dict() if k.startswith(("fc_norm.", "head."))]
        report = load_checkpoint(self, path, prefix=None, ignore_missing=fresh, log=None,
                                 remap=lambda st: videomae_encoder_state(st, self.use_mean_pooling))
        print(f"VideoVisionTransformer: {report.summary()}")

    def stage_modules(self) -> dict:
        groups = {"embed": ["patch_embed"], "blocks": ["blocks"],
                  "norm": ["fc_norm"] if self.use_mean_pooling else ["norm"]}
        if self.head is not None:
            groups["head"] = ["head"]
        return groups

    def forward_tokens(self, x):
        """Tokens after the last block, (B, N, D)."""
        x = self.pos_drop(self.patch_embed(x) + self.pos_embed)
        for blk in self.blocks:
            x = blk(x)
        return x

    def forward_features(self, x):
        """Pooled features fed to the head, (B, D)."""
        x = self.forward_tokens(x)
        if self.use_mean_pooling:
            return self.fc_norm(x.mean(dim=1))
        return self.norm(x)[:, 0]

    def execute(self, x):
        x = self.forward_features(x)
        return self.head(self.fc_dropout(x)) if self.head is not None else x

    forward = execute


def videomae_encoder_state(state: dict, use_mean_pooling: bool = True) -> dict:
    """Any VideoMAE-family checkpoint -> the keys of ``VideoVisionTransformer``.

    Pre-training checkpoints (VideoMAE's ``encoder.*``, or the online encoder ``backbone.*`` of a
    CMAE-V checkpoint) keep only the encoder, as ``run_class_finetuning.py`` does; the pre-trained
    ``norm`` is dropped under mean pooling (the fine-tuning model has ``fc_norm`` instead).
    A fine-tuned checkpoint (no prefix) passes unchanged. (``checkpoint['model']`` /
    ``checkpoint['module']`` are unwrapped by the converter before this runs.)
    """
    for prefix in ("encoder.", "backbone."):
        if any(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            if use_mean_pooling:
                state = {k: v for k, v in state.items() if not k.startswith("norm.")}
            return state
    return dict(state)


# ------------------------------------------------------------------------------------------------
# Published variants (MODEL_ZOO.md; parameters as ../shared/parity/videomae counts them)
# ------------------------------------------------------------------------------------------------
DEFAULT_CFGS = {
    # pre-training: decoder depth as the official scripts (4 for S/B, 12 for L/H), tube mask 0.9
    "pretrain_videomae_small_patch16_224": dict(input_size=(3, 16, 224, 224), params=24_029_376),
    "pretrain_videomae_base_patch16_224": dict(input_size=(3, 16, 224, 224), params=94_210_944),
    "pretrain_videomae_large_patch16_224": dict(input_size=(3, 16, 224, 224), params=342_996_992),
    "pretrain_videomae_huge_patch16_224": dict(input_size=(3, 16, 224, 224)),
    # fine-tuned on Kinetics-400, 16x5x3 views (top-1 / top-5)
    "videomae_vit_small_patch16_224": dict(input_size=(3, 16, 224, 224), params=22_033_936, k400_top1=79.0,
                                           k400_top5=93.8, ssv2_top1=66.8, drop_path_rate=0.1),
    "videomae_vit_base_patch16_224": dict(input_size=(3, 16, 224, 224), params=86_534_800, k400_top1=81.5,
                                          k400_top5=95.1, ssv2_top1=70.8, drop_path_rate=0.1),
    "videomae_vit_large_patch16_224": dict(input_size=(3, 16, 224, 224), params=304_270_736, k400_top1=85.2,
                                           k400_top5=96.8, drop_path_rate=0.2),
    "videomae_vit_huge_patch16_224": dict(input_size=(3, 16, 224, 224), k400_top1=86.6, k400_top5=97.1,
                                          drop_path_rate=0.2),
}
_SIZES = {"small": (384, 12, 6, 192, 3, 4), "base": (768, 12, 12, 384, 6, 4), "large": (1024, 24, 16, 512, 8, 12),
          "huge": (1280, 32, 16, 640, 8, 12)}


def _pretrain(size: str, **kwargs) -> PretrainVisionTransformer:
    dim, depth, heads, dec_dim, dec_heads, dec_depth = _SIZES[size]
    name = f"pretrain_videomae_{size}_patch16_224"
    model = PretrainVisionTransformer(**{
        "img_size": 224, "patch_size": 16, "encoder_embed_dim": dim, "encoder_depth": depth,
        "encoder_num_heads": heads, "decoder_embed_dim": dec_dim, "decoder_num_heads": dec_heads,
        "decoder_depth": dec_depth, "decoder_num_classes": 1536, **kwargs})
    model.default_cfg = dict(DEFAULT_CFGS[name], architecture=name)
    return model


def _finetune(size: str, **kwargs) -> VideoVisionTransformer:
    dim, depth, heads = _SIZES[size][:3]
    name = f"videomae_vit_{size}_patch16_224"
    model = VideoVisionTransformer(**{"img_size": 224, "patch_size": 16, "embed_dim": dim, "depth": depth,
                                      "num_heads": heads, "num_classes": 400, **kwargs})
    model.default_cfg = dict(DEFAULT_CFGS[name], architecture=name)
    return model


@MODELS.register()
def pretrain_videomae_small_patch16_224(**kwargs) -> PretrainVisionTransformer:
    return _pretrain("small", **kwargs)


@MODELS.register()
def pretrain_videomae_base_patch16_224(**kwargs) -> PretrainVisionTransformer:
    return _pretrain("base", **kwargs)


@MODELS.register()
def pretrain_videomae_large_patch16_224(**kwargs) -> PretrainVisionTransformer:
    return _pretrain("large", **kwargs)


@MODELS.register()
def pretrain_videomae_huge_patch16_224(**kwargs) -> PretrainVisionTransformer:
    return _pretrain("huge", **kwargs)


@MODELS.register()
def videomae_vit_small_patch16_224(**kwargs) -> VideoVisionTransformer:
    return _finetune("small", **kwargs)


@MODELS.register()
def videomae_vit_base_patch16_224(**kwargs) -> VideoVisionTransformer:
    return _finetune("base", **kwargs)


@MODELS.register()
def videomae_vit_large_patch16_224(**kwargs) -> VideoVisionTransformer:
    return _finetune("large", **kwargs)


@MODELS.register()
def videomae_vit_huge_patch16_224(**kwargs) -> VideoVisionTransformer:
    return _finetune("huge", **kwargs)


# ------------------------------------------------------------------------------------------------
# Parity adapter (../shared/parity/videomae), registered on import
# ------------------------------------------------------------------------------------------------
def _norm_eps(kwargs: dict) -> float:
    text = str(kwargs.get("norm_layer", ""))
    if "eps=" in text:
        return float(text.split("eps=")[1].rstrip(")").strip())
    return 1e-5


def _check_kwargs(kwargs: dict, known: set, what: str) -> None:
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ValueError(f"videomae {what}: official constructor argument(s) {unknown} have no counterpart here")
    if kwargs.get("init_values", 0.0) not in (0, 0.0, None):
        raise ValueError(f"videomae {what}: init_values={kwargs['init_values']} (layer scale) is not implemented")
    if kwargs.get("use_learnable_pos_emb"):
        raise ValueError(f"videomae {what}: use_learnable_pos_emb=True is not implemented (the released models "
                         "use the fixed sinusoid table)")


def _videomae_tiny(kwargs: dict, manifest: dict):
    eps = _norm_eps(kwargs)
    common = {"norm_layer", "init_values", "use_learnable_pos_emb"}
    if manifest.get("model_class") == "PretrainVisionTransformer":
        _check_kwargs(kwargs, common | {"img_size", "patch_size", "encoder_in_chans", "encoder_num_classes",
                                        "encoder_embed_dim", "encoder_depth", "encoder_num_heads",
                                        "decoder_num_classes", "decoder_embed_dim", "decoder_depth",
                                        "decoder_num_heads", "mlp_ratio", "qkv_bias", "tubelet_size"}, "pre-training")
        if kwargs.get("encoder_num_classes", 0):
            raise ValueError("videomae pre-training: encoder_num_classes must be 0 (the encoder head is Identity)")
        args = {k: v for k, v in kwargs.items() if k not in common | {"encoder_num_classes"}}
        return PretrainVisionTransformer(norm_eps=eps, num_frames=int(manifest.get("num_frames", 16)),
                                         mask_ratio=float(manifest.get("mask_ratio", 0.9)), **args)
    _check_kwargs(kwargs, common | {"img_size", "patch_size", "in_chans", "num_classes", "embed_dim", "depth",
                                    "num_heads", "mlp_ratio", "qkv_bias", "init_scale", "all_frames",
                                    "tubelet_size", "use_mean_pooling"}, "fine-tuning")
    return VideoVisionTransformer(norm_eps=eps, **{k: v for k, v in kwargs.items() if k not in common})


def _videomae_full(manifest: dict):
    name = manifest["name"]
    if name.startswith("vit_"):
        name = "videomae_" + name
    kwargs = manifest.get("constructor_kwargs", {})
    extra = {"num_classes": kwargs["num_classes"]} if "num_classes" in kwargs and not name.startswith("pretrain") \
        else {"decoder_depth": kwargs["decoder_depth"]} if "decoder_depth" in kwargs else {}
    return MODELS.build({"type": name, **extra})


def _videomae_run(model, io: dict, upstream: dict, manifest: dict) -> dict:
    x = jt.array(io["input"])
    if isinstance(model, PretrainVisionTransformer):
        mask = io["mask"].astype(bool)
        pred = model(x, mask)
        out = {"pos_embed": model.encoder.pos_embed, "decoder_pos_embed": model.pos_embed,
               "x_vis": model.forward_encoder(x, mask), "pred": pred, "labels": model.hidden_targets(x, mask),
               "loss": model.forward_loss(x, pred, mask)}
        embed = model.encoder.patch_embed
        plain = build_target(dict(type="pixel", input_mean=VIDEOMAE_MEAN, input_std=VIDEOMAE_STD),
                             patch_size=embed.patch_size[0], tubelet_size=embed.tubelet_size)
        ids_shuffle, _, len_keep = model.forward_indices(mask)
        out["loss_unnorm"] = ((pred - gather_tokens(plain(x), ids_shuffle[:, len_keep:])) ** 2).mean()
        return out
    tokens = model.forward_tokens(x)
    features = model.fc_norm(tokens.mean(dim=1)) if model.use_mean_pooling else model.norm(tokens)[:, 0]
    return {"pos_embed": model.pos_embed, "tokens": tokens, "features": features, "logits": model.head(features)}


def _register_parity_adapter() -> None:
    from ..convert.fixtures import Adapter, get_adapter, register_adapter
    if get_adapter("videomae") is None:
        register_adapter(Adapter("videomae", _videomae_tiny, _videomae_full, _videomae_run,
                                 outputs=("pos_embed", "decoder_pos_embed", "x_vis", "pred", "labels", "loss*",
                                          "tokens", "features", "logits"), inputs=("mask",)))


_register_parity_adapter()
