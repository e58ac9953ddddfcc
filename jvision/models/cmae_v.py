"""CMAE-V: contrastive masked autoencoders for video action recognition.

Paper: Cheng-Ze Lu, Xiaojie Jin, Zhicheng Huang, Qibin Hou, Ming-Ming Cheng, Jiashi Feng, "CMAE-V:
Contrastive Masked Autoencoders for Video Action Recognition", arXiv:2301.06018 (2023). No official
code was released; the architecture and losses are CMAE's (``jvision.models.cmae``, matching
ZhichengHuang/CMAE), with CMAE's pixel shift replaced by a temporal shift: the target branch sees the
same clip shifted in time (``jvision.data.video.VideoDataset(target_view=dict(shift=(lo, hi)))``).

Details the paper does not give are taken from CMAE and VideoMAE (MCG-NJU/VideoMAE), each a
constructor argument (and so a config option):

* encoder (``backbone="vit"``): VideoMAE's video ViT (2x16x16 tubelets, its 1-D sinusoid position
  table, ``q_bias``/``v_bias`` blocks), so a CMAE-V checkpoint fine-tunes with VideoMAE's
  ``VideoVisionTransformer`` (``videomae_encoder_state`` reads its ``backbone.*``);
* masking: VideoMAE's tube masking at 0.9 (``mask_ratio``, ``masking``);
* reconstruction target: VideoMAE's per-tubelet, per-channel normalised pixels (``target``);
* decoders: CMAE's widths and depths (512-d, pixel 8 blocks, feature 2), VideoMAE's sinusoid table
  as their position embedding (no cls token);
* projector, predictor, InfoNCE (tau 0.07, negatives from every MPI rank), loss weights, EMA
  (0.996, cosine option): CMAE's;
* temporal shift: ``shift`` frames of the dataset's ``target_view`` (our configs: 0-8 frames for
  Kinetics, about the share of a clip that CMAE's 0-31 px is of a 224 crop), the target clip
  colour-augmented as CMAE's target view.

The hybrid backbone (``backbone="hybrid"``, the paper's best model: 82.2% K400, 71.6% SSv2) is
ConvMAE's ConvViT (Alpha-VL/ConvMAE ``models_convmae.py``: two stages of convolution blocks at 1/4 and
1/8 resolution, patch merging, transformer blocks at 1/16, the conv stages' outputs projected and
added before the final norm; masked convolution keeps hidden patches from leaking) applied to
clips: the first patch embedding takes a tubelet (2x4x4) and every conv stage then works on each
temporal slice; the tube mask, the same for every slice, is upsampled to each stage. Keys follow
ConvMAE (``patch_embed1..4``, ``blocks1..3``, ``stage{1,2}_output_decode``). ``ConvViTVideo`` with
``num_classes`` is its fine-tuning classifier (mean pooling, ``fc_norm``, ``head``).
"""
from __future__ import annotations

import numpy as np
import jittor as jt
from jittor import nn

from ..mim.masking import build_masking, gather_tokens, indices_from_mask
from ..mim.targets import build_target
from ..ops import Conv2d, DepthwiseConv2d, LayerNorm2d
from ..registry import MODELS
from .cmae import ContrastiveMAE
from .layers import DropPath, LayerNorm, linear_drop_path_rates, to_2tuple, trunc_normal_, zeros_
from .vit import Block, init_vit_weights
from .videomae import (VIDEOMAE_MEAN, VIDEOMAE_STD, PretrainVisionTransformerEncoder, get_sinusoid_encoding_table,
                       tubelet_conv, videomae_encoder_state)

__all__ = ["CBlock", "ConvPatchEmbed", "ConvViTVideo", "CMAEV", "DEFAULT_CFGS"]


# ------------------------------------------------------------------------------------------------
# Blocks of the hybrid ConvViT (ConvMAE vision_transformer.py)
# ------------------------------------------------------------------------------------------------
class CMlp(nn.Module):
    """1x1-convolution MLP (keys ``fc1``, ``fc2``)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = Conv2d(dim, hidden, 1)
        self.act = nn.GELU()
        self.fc2 = Conv2d(hidden, dim, 1)

    def execute(self, x):
        return self.fc2(self.act(self.fc1(x)))


class CBlock(nn.Module):
    """ConvMAE's convolution block on (N, C, H, W): ``x + conv2(attn(mask * conv1(norm1(x))))`` with a
    5x5 depthwise ``attn``, then ``x + mlp(norm2(x))``; ``mask`` (N, 1, H, W) is 1 where visible."""

    def __init__(self, dim: int, mlp_ratio: float = 4.0, drop_path: float = 0.0):
        super().__init__()
        self.norm1 = LayerNorm2d(dim, eps=1e-5)              # ConvMAE hard-codes nn.LayerNorm(dim)
        self.conv1 = Conv2d(dim, dim, 1)
        self.conv2 = Conv2d(dim, dim, 1)
        self.attn = DepthwiseConv2d(dim, 5, padding=2)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = LayerNorm2d(dim, eps=1e-5)
        self.mlp = CMlp(dim, int(dim * mlp_ratio))

    def execute(self, x, mask=None):
        y = self.conv1(self.norm1(x))
        if mask is not None:
            y = y * mask
        x = x + self.drop_path(self.conv2(self.attn(y)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class ConvPatchEmbed(nn.Module):
    """ConvMAE's ``PatchEmbed`` per temporal slice: strided ``proj`` conv, LayerNorm, GELU.

    ``tubelet > 1`` (the first stage): ``proj`` is a Conv3d over (tubelet, p, p) on the clip
    (B, C, T, H, W) -> (B * T / tubelet, D, H / p, W / p); otherwise a Conv2d on (N, C, H, W) maps.
    """

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int, tubelet: int = 1):
        super().__init__()
        self.tubelet, self.patch_size, self.embed_dim = int(tubelet), int(patch_size), embed_dim
        if self.tubelet > 1:
            kernel = (self.tubelet, self.patch_size, self.patch_size)
            self.proj = nn.Conv3d(in_chans, embed_dim, kernel, stride=kernel)
        else:
            self.proj = Conv2d(in_chans, embed_dim, patch_size, stride=patch_size)
        self.norm = LayerNorm2d(embed_dim, eps=1e-5)
        self.act = nn.GELU()

    def execute(self, x):
        if self.tubelet > 1:
            b, _, t, h, w = x.shape
            gt, gh, gw = t // self.tubelet, h // self.patch_size, w // self.patch_size
            x = tubelet_conv(x, self.proj.weight, self.proj.bias).reshape(b, gt, gh, gw, self.embed_dim)
            x = x.permute(0, 1, 4, 2, 3).reshape(b * gt, self.embed_dim, gh, gw)
        else:
            x = self.proj(x)
        return self.act(self.norm(x))


def _slices_to_tokens(x, batch: int):
    """(B * T', C, h, w) -> (B, T' * h * w, C), tokens in (time, row, column) order."""
    n, c, h, w = x.shape
    return x.reshape(batch, n // batch, c, h, w).permute(0, 1, 3, 4, 2).reshape(batch, (n // batch) * h * w, c)


@MODELS.register()
class ConvViTVideo(nn.Module):
    """ConvMAE's hybrid ConvViT on clips (module docstring).

    Args:
        img_size, in_chans, num_frames, tubelet_size: clip geometry.
        patch_sizes: the three strides (4, 2, 2): tokens are 16x16 pixels x ``tubelet_size`` frames.
        embed_dims, depths, mlp_ratios: of the three stages (ConvViT-B: 256/384/768, 2/2/11, 4/4/4).
        num_heads: heads of the transformer stage.
        drop_path_rate: stochastic depth, linear over all blocks.
        num_classes: 0: an encoder returning tokens (``execute(x, mask)``); > 0: a classifier (mean of
            the tokens, ``fc_norm``, ``head``) for fine-tuning.
        final_norm: the encoder's ``norm`` (False for CMAE's target branch).
        pretrained: (classifier) a CMAE-V checkpoint whose ``backbone.*`` initialises it.
    """

    def __init__(self, img_size: int = 224, in_chans: int = 3, num_frames: int = 16, tubelet_size: int = 2,
                 patch_sizes=(4, 2, 2), embed_dims=(256, 384, 768), depths=(2, 2, 11), num_heads: int = 12,
                 mlp_ratios=(4, 4, 4), norm_eps: float = 1e-6, drop_path_rate: float = 0.0, num_classes: int = 0,
                 final_norm: bool = True, init_scale: float = 0.001, pretrained: str | None = None):
        super().__init__()
        img_size = to_2tuple(img_size)
        p1, p2, p3 = patch_sizes
        self.patch = p1 * p2 * p3
        if img_size[0] % self.patch or img_size[1] % self.patch:
            raise ValueError(f"ConvViTVideo: img_size {img_size} is not divisible by the total stride {self.patch}")
        self.embed_dim, self.num_classes, self.strides = embed_dims[-1], num_classes, (p1, p1 * p2)
        if num_frames % tubelet_size:
            raise ValueError(f"ConvViTVideo: num_frames {num_frames} is not divisible by tubelet_size {tubelet_size}")
        self.in_chans, self.num_frames, self.img_size = in_chans, num_frames, img_size
        self.patch_embed1 = ConvPatchEmbed(in_chans, embed_dims[0], p1, tubelet_size)
        self.patch_embed2 = ConvPatchEmbed(embed_dims[0], embed_dims[1], p2)
        self.patch_embed3 = ConvPatchEmbed(embed_dims[1], embed_dims[2], p3)
        self.patch_embed4 = nn.Linear(embed_dims[2], embed_dims[2])
        self.stage1_output_decode = Conv2d(embed_dims[0], embed_dims[2], p2 * p3, stride=p2 * p3)
        self.stage2_output_decode = Conv2d(embed_dims[1], embed_dims[2], p3, stride=p3)
        self.grid = (num_frames // tubelet_size, img_size[0] // self.patch, img_size[1] // self.patch)
        self.num_patches = int(np.prod(self.grid))
        self.register_buffer("pos_embed", jt.array(get_sinusoid_encoding_table(self.num_patches, embed_dims[2])[None])
                             .stop_grad(), persistent=False)
        dpr = linear_drop_path_rates(drop_path_rate, depths)
        self.blocks1 = nn.ModuleList([CBlock(embed_dims[0], mlp_ratios[0], dpr[i]) for i in range(depths[0])])
        self.blocks2 = nn.ModuleList([CBlock(embed_dims[1], mlp_ratios[1], dpr[depths[0] + i])
                                      for i in range(depths[1])])
        self.blocks3 = nn.ModuleList([Block(embed_dims[2], num_heads, mlp_ratios[2], True,
                                            drop_path=dpr[depths[0] + depths[1] + i], norm_eps=norm_eps)
                                      for i in range(depths[2])])
        if num_classes > 0:
            self.norm, self.fc_norm = None, LayerNorm(embed_dims[2], eps=norm_eps)
            self.head = nn.Linear(embed_dims[2], num_classes)
        else:
            self.norm = LayerNorm(embed_dims[2], eps=norm_eps) if final_norm else None
            self.fc_norm = self.head = None
        init_vit_weights(self)                                # xavier Linear weights, zero biases, as ConvMAE
        w = self.patch_embed3.proj.weight                     # ConvMAE: the last patch projection as a Linear
        bound = float(np.sqrt(6.0 / (w.shape[0] + int(np.prod(w.shape[1:])))))
        w.update(jt.init.uniform(w.shape, "float32", -bound, bound))
        if self.head is not None:
            trunc_normal_(self.head.weight, std=0.02)
            self.head.weight.update(self.head.weight * init_scale)
            zeros_(self.head.bias)
        if pretrained:
            from ..convert import load_checkpoint
            fresh = [k for k in self.state_dict() if k.startswith(("fc_norm.", "head."))]
            report = load_checkpoint(self, pretrained, prefix=None, ignore_missing=fresh, log=None,
                                     remap=videomae_encoder_state)
            print(f"ConvViTVideo: {report.summary()}")

    def _visible_maps(self, mask, batch: int):
        """(B, N) mask (True = hidden) -> 1-where-visible maps at stage 1 and stage 2 resolution."""
        m = mask.numpy() if isinstance(mask, jt.Var) else np.asarray(mask)
        gt, gh, gw = self.grid
        visible = 1.0 - m.reshape(batch * gt, 1, gh, gw).astype(np.float32)
        maps = []
        for stride in self.strides:
            up = self.patch // stride
            maps.append(jt.array(np.ascontiguousarray(visible.repeat(up, axis=2).repeat(up, axis=3))))
        return maps

    def forward_tokens(self, x, mask=None, ids_keep=None):
        """Encoder tokens (B, K, D): every token, or those of ``ids_keep`` when ``mask`` hides the rest."""
        if x.ndim != 5 or tuple(x.shape[1:]) != (self.in_chans, self.num_frames) + self.img_size:
            raise ValueError(f"ConvViTVideo expects clips (B, {self.in_chans}, {self.num_frames}, {self.img_size[0]}, "
                             f"{self.img_size[1]}), got shape {tuple(x.shape)}")
        b = x.shape[0]
        m1, m2 = self._visible_maps(mask, b) if mask is not None else (None, None)
        x = self.patch_embed1(x)
        for blk in self.blocks1:
            x = blk(x, m1)
        s1 = _slices_to_tokens(self.stage1_output_decode(x), b)
        x = self.patch_embed2(x)
        for blk in self.blocks2:
            x = blk(x, m2)
        s2 = _slices_to_tokens(self.stage2_output_decode(x), b)
        x = self.patch_embed4(_slices_to_tokens(self.patch_embed3(x), b)) + self.pos_embed
        if ids_keep is not None:
            x, s1, s2 = gather_tokens(x, ids_keep), gather_tokens(s1, ids_keep), gather_tokens(s2, ids_keep)
        for blk in self.blocks3:
            x = blk(x)
        x = x + s1 + s2
        return self.norm(x) if self.norm is not None else x

    def execute(self, x, mask=None, ids_keep=None):
        if self.head is None:
            return self.forward_tokens(x, mask, ids_keep)
        return self.head(self.fc_norm(self.forward_tokens(x).mean(dim=1)))

    forward = execute


# ------------------------------------------------------------------------------------------------
# The network
# ------------------------------------------------------------------------------------------------
@MODELS.register()
class CMAEV(ContrastiveMAE):
    """CMAE-V (module docstring): CMAE's branches on a video encoder, the target clip shifted in time.

    Args:
        backbone: ``"vit"`` (VideoMAE's video ViT) or ``"hybrid"`` (ConvViT on clips).
        img_size, patch_size, in_chans, num_frames, tubelet_size: clip geometry (``patch_size`` of the
            ViT; the hybrid's tokens are 16 px).
        embed_dim, depth, num_heads, mlp_ratio, norm_eps, drop_path_rate: the ViT encoder.
        hybrid: ``ConvViTVideo`` arguments of the hybrid encoder (embed_dims, depths, patch_sizes,
            num_heads, mlp_ratios).
        mask_ratio, masking: tube masking at 0.9 by default.
        target: pixel-decoder target; default VideoMAE's normalised tubelet pixels (input normalised
            with ``input_mean`` / ``input_std`` in 0-1 units).
        Other arguments: ``ContrastiveMAE`` (CMAE's defaults).
    """

    def __init__(self, backbone: str = "vit", img_size: int = 224, patch_size: int = 16, in_chans: int = 3,
                 num_frames: int = 16, tubelet_size: int = 2, embed_dim: int = 768, depth: int = 12,
                 num_heads: int = 12, mlp_ratio: float = 4.0, norm_eps: float = 1e-6, drop_path_rate: float = 0.0,
                 hybrid: dict | None = None, mask_ratio: float = 0.9, masking: dict | str | None = None,
                 target: dict | str | None = None, input_mean=VIDEOMAE_MEAN, input_std=VIDEOMAE_STD,
                 decoder_embed_dim: int = 512, decoder_depth: int = 8, decoder_num_heads: int = 16,
                 feature_decoder_depth: int = 2, proj_hidden: int = 1536, proj_dim: int = 256, pred_hidden: int = 1536,
                 temperature: float = 0.07, ct_weight: float = 1.0, rc_weight: float = 1.0,
                 base_momentum: float = 0.996, end_momentum: float = 0.996, momentum_schedule: str = "cosine",
                 norm: str = "syncbn"):
        super().__init__()
        if backbone not in ("vit", "hybrid"):
            raise ValueError(f"CMAEV backbone must be 'vit' or 'hybrid', got {backbone!r}")
        self.kind = backbone
        if backbone == "vit":
            args = dict(img_size=img_size, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim, depth=depth,
                        num_heads=num_heads, mlp_ratio=mlp_ratio, norm_eps=norm_eps, tubelet_size=tubelet_size,
                        num_frames=num_frames)
            self.backbone = PretrainVisionTransformerEncoder(drop_path_rate=drop_path_rate, **args)
            self.target_backbone = PretrainVisionTransformerEncoder(**args)
            grid, token_patch = self.backbone.patch_embed.grid, patch_size
        else:
            args = dict(img_size=img_size, in_chans=in_chans, num_frames=num_frames, tubelet_size=tubelet_size,
                        norm_eps=norm_eps, **(hybrid or {}))
            self.backbone = ConvViTVideo(drop_path_rate=drop_path_rate, **args)
            self.target_backbone = ConvViTVideo(**args)
            embed_dim, grid, token_patch = self.backbone.embed_dim, self.backbone.grid, self.backbone.patch
        self.target_backbone.norm = None                      # CMAE's target has no final norm
        if target is None:
            target = dict(type="norm_pix", style="videomae", input_mean=input_mean, input_std=input_std)
        self.target = build_target(target, patch_size=token_patch, in_chans=in_chans, tubelet_size=tubelet_size,
                                   img_size=to_2tuple(img_size))
        self.masking = build_masking(masking or "tube", grid, default_ratio=mask_ratio)
        num_patches = int(np.prod(grid))
        self._build_branches(embed_dim, num_patches, 0, get_sinusoid_encoding_table(num_patches, decoder_embed_dim),
                             decoder_embed_dim, decoder_depth, decoder_num_heads, feature_decoder_depth, mlp_ratio,
                             norm_eps, proj_hidden, proj_dim, pred_hidden, temperature, ct_weight, rc_weight,
                             base_momentum, end_momentum, momentum_schedule, norm)

    def stage_modules(self) -> dict:
        return {"encoder": ["backbone"], "decoders": ["pixel_decoder", "feature_decoder"],
                "heads": ["projector", "head"], "target": ["target_backbone", "target_projector"]}

    def forward_online(self, clip, mask):
        ids_shuffle, ids_restore, len_keep, mask_f = indices_from_mask(mask)
        if ids_shuffle.shape[1] != int(np.prod(self.masking.grid)):
            raise ValueError(f"mask has {ids_shuffle.shape[1]} tokens, the clip has {int(np.prod(self.masking.grid))}")
        ids_keep = ids_shuffle[:, :len_keep]
        if self.kind == "vit":
            latent = self.backbone(clip, ids_keep)
        else:
            latent = self.backbone(clip, mask, ids_keep)
        return latent, mask_f, ids_restore

    def forward_target(self, clip):
        return self.target_backbone(clip)


# ------------------------------------------------------------------------------------------------
# Variants (CMAE-V reports 82.2% K400 / 71.6% SSv2 top-1 with the hybrid backbone)
# ------------------------------------------------------------------------------------------------
_CONVVIT_B = dict(embed_dims=(256, 384, 768), depths=(2, 2, 11), patch_sizes=(4, 2, 2), num_heads=12,
                  mlp_ratios=(4, 4, 4))
DEFAULT_CFGS = {
    "cmae_v_vit_base_patch16_224": dict(input_size=(3, 16, 224, 224)),
    "cmae_v_convvit_base_patch16_224": dict(input_size=(3, 16, 224, 224), k400_top1=82.2, ssv2_top1=71.6),
    "convvit_video_base_patch16_224": dict(input_size=(3, 16, 224, 224), drop_path_rate=0.1),
}


def _with_cfg(model, name: str):
    model.default_cfg = dict(DEFAULT_CFGS[name], architecture=name)
    return model


@MODELS.register()
def cmae_v_vit_base_patch16_224(**kwargs) -> CMAEV:
    return _with_cfg(CMAEV(**{"backbone": "vit", "embed_dim": 768, "depth": 12, "num_heads": 12, **kwargs}),
                     "cmae_v_vit_base_patch16_224")


@MODELS.register()
def cmae_v_convvit_base_patch16_224(**kwargs) -> CMAEV:
    return _with_cfg(CMAEV(**{"backbone": "hybrid", "hybrid": dict(_CONVVIT_B), **kwargs}),
                     "cmae_v_convvit_base_patch16_224")


@MODELS.register()
def convvit_video_base_patch16_224(**kwargs) -> ConvViTVideo:
    """The hybrid's fine-tuning classifier (400 Kinetics classes by default)."""
    return _with_cfg(ConvViTVideo(**{**_CONVVIT_B, "num_classes": 400, **kwargs}), "convvit_video_base_patch16_224")
