"""MAE: masked autoencoder pre-training of a Vision Transformer.

Paper: Kaiming He, Xinlei Chen, Saining Xie, Yanghao Li, Piotr Dollar, Ross Girshick,
"Masked Autoencoders Are Scalable Vision Learners", CVPR 2022 (arXiv:2111.06377).
Official code matched: facebookresearch/mae ``models_mae.py`` (commit efb2a80) with the timm 0.3.2
blocks it imports and ``util/pos_embed.py``. State-dict keys and parameter counts equal the official
ones (manifests in ``../shared/parity/mae``); ``pos_embed`` and ``decoder_pos_embed`` are fixed 2-D
sin-cos tables, stored in the state dict and counted as (frozen) parameters, as in the official code.

Forward (``execute(imgs, mask_ratio, noise)`` -> ``(loss, pred, mask)``):
encoder: patchify-embed, add position embeddings, keep a random ``(1 - mask_ratio)`` subset of the
patches per sample (``argsort`` of uniform ``noise``; pass ``noise`` to make it deterministic),
prepend the cls token, transformer blocks, LayerNorm.
decoder: project to the decoder width, append mask tokens, un-shuffle, add its own position
embeddings, blocks, LayerNorm, predict the ``p*p*3`` pixels of every patch (cls dropped).
loss: mean squared error over the removed patches only, against the raw patch pixels or, with
``norm_pix_loss``, against each patch normalised by its mean and (unbiased) variance.

Beyond the official model: ``target`` picks another reconstruction target (``jvision.mim.targets``:
``hog``, ``teacher`` features, ...; the prediction head is sized for it) and ``masking`` another mask
(``jvision.mim.masking``: ``blockwise``, ``tube``). The decoder is one function, ``mae_decode``, and a
module, ``MAEDecoder``, that other masked models (CMAE's pixel and feature decoders, VideoMAE)
build on; MAE itself keeps the official top-level keys.
"""
from __future__ import annotations

import zlib

import numpy as np
import jittor as jt
from jittor import nn

from ..convert.fixtures import (Adapter, build_registered, input_var, official_kwargs, official_norm_eps,
                                register_adapter)
from ..mim.masking import build_masking, gather_tokens, indices_from_mask, masking_indices, random_masking
from ..mim.targets import build_target, normalize_patches, patchify, unpatchify
from ..registry import MODELS
from .layers import LayerNorm, Linear
from .vit import Block, PatchEmbed, get_2d_sincos_pos_embed, init_vit_weights

__all__ = ["MaskedAutoencoderViT", "MAEDecoder", "mae_decode", "DEFAULT_CFGS"]


# ------------------------------------------------------------------------------------------------
# The decoder, shared with the other masked models
# ------------------------------------------------------------------------------------------------
def mae_decode(x, ids_restore, decoder_embed, mask_token, pos_embed, blocks, norm=None, pred=None,
               num_prefix_tokens: int = 1):
    """MAE's decoder on the encoder output of the kept tokens.

    ``x``: (B, P + K, D_enc), ``P = num_prefix_tokens`` (the cls token) first, then the K kept
    tokens in ``ids_shuffle`` order. Projects with ``decoder_embed``, appends ``L - K`` copies of
    ``mask_token``, un-shuffles with ``ids_restore`` (B, L), puts the prefix back, adds ``pos_embed``
    ((1, P + L, D) or None), runs ``blocks``, ``norm`` and ``pred`` (each optional) and returns the
    L patch tokens in patch order (prefix dropped): (B, L, out).
    """
    x = decoder_embed(x)
    n, tokens_in, d = x.shape
    kept = tokens_in - num_prefix_tokens
    l = ids_restore.shape[1]
    if not 0 <= kept <= l:
        raise ValueError(f"decoder got {kept} kept tokens for a sequence of {l} patches")
    mask_tokens = mask_token.broadcast((n, l - kept, d))
    tokens = gather_tokens(jt.concat([x[:, num_prefix_tokens:, :], mask_tokens], dim=1), ids_restore)
    x = jt.concat([x[:, :num_prefix_tokens, :], tokens], dim=1) if num_prefix_tokens else tokens
    if pos_embed is not None:
        x = x + pos_embed
    for blk in blocks:
        x = blk(x)
    if norm is not None:
        x = norm(x)
    if pred is not None:
        x = pred(x)
    return x[:, num_prefix_tokens:, :]


class MAEDecoder(nn.Module):
    """MAE's decoder as a module (keys ``decoder_embed``, ``mask_token``, ``decoder_pos_embed``,
    ``decoder_blocks``, ``decoder_norm``, ``decoder_pred``), for models that hold one or more
    decoders (CMAE: a pixel and a feature decoder).

    Args:
        num_patches: patch tokens L. embed_dim: encoder width. decoder_embed_dim, depth, num_heads,
        mlp_ratio, norm_eps: the decoder. out_dim: prediction size per token (None: no ``decoder_pred``;
        the normalised tokens are returned). num_prefix_tokens: 1 with a cls token, 0 without.
        pos_table: (P + L, D) position table; default the fixed 2-D sin-cos table of a square grid.
        qkv_bias: the blocks' qkv bias.
    """

    def __init__(self, num_patches: int, embed_dim: int, decoder_embed_dim: int = 512, depth: int = 8,
                 num_heads: int = 16, mlp_ratio: float = 4.0, out_dim: int | None = None,
                 norm_eps: float = 1e-6, num_prefix_tokens: int = 1, pos_table=None, qkv_bias: bool = True):
        super().__init__()
        self.num_patches, self.num_prefix_tokens = int(num_patches), int(num_prefix_tokens)
        self.decoder_embed = Linear(embed_dim, decoder_embed_dim)
        self.mask_token = jt.zeros((1, 1, decoder_embed_dim))
        if pos_table is None:
            g = int(round(num_patches ** 0.5))
            if g * g != num_patches or num_prefix_tokens not in (0, 1):
                raise ValueError(f"MAEDecoder: no default position table for {num_patches} patches and "
                                 f"{num_prefix_tokens} prefix tokens; pass pos_table")
            pos_table = get_2d_sincos_pos_embed(decoder_embed_dim, g, cls_token=bool(num_prefix_tokens))
        pos_table = np.asarray(pos_table, dtype=np.float32)
        if pos_table.shape != (num_patches + num_prefix_tokens, decoder_embed_dim):
            raise ValueError(f"MAEDecoder: pos_table shape {pos_table.shape} != "
                             f"({num_patches + num_prefix_tokens}, {decoder_embed_dim})")
        self.decoder_pos_embed = jt.array(pos_table[None]).stop_grad()
        self.decoder_blocks = nn.ModuleList([
            Block(decoder_embed_dim, num_heads, mlp_ratio, qkv_bias=qkv_bias, norm_eps=norm_eps)
            for _ in range(depth)])
        self.decoder_norm = LayerNorm(decoder_embed_dim, eps=norm_eps)
        self.decoder_pred = Linear(decoder_embed_dim, out_dim) if out_dim else None
        init_vit_weights(self)
        jt.init.gauss_(self.mask_token, 0.0, 0.02)

    def train(self):
        super().train()
        self.decoder_pos_embed.stop_grad()
        return self

    def execute(self, x, ids_restore):
        return mae_decode(x, ids_restore, self.decoder_embed, self.mask_token, self.decoder_pos_embed,
                          self.decoder_blocks, self.decoder_norm, self.decoder_pred, self.num_prefix_tokens)


@MODELS.register()
class MaskedAutoencoderViT(nn.Module):
    """Masked autoencoder with a ViT encoder and a light ViT decoder.

    Args:
        img_size, patch_size, in_chans: input geometry (square images; H = W = img_size).
        embed_dim, depth, num_heads: encoder.
        decoder_embed_dim, decoder_depth, decoder_num_heads: decoder.
        mlp_ratio: MLP expansion of every block.
        norm_eps: LayerNorm eps (every official variant passes 1e-6).
        norm_pix_loss: per-patch normalised pixel targets (the released pre-training used True).
        mask_ratio: fraction of patches removed by ``train_step`` / ``val_step``.
        target: reconstruction target (``jvision.mim.targets``); default ``"norm_pix"`` or ``"pixel"``
            as ``norm_pix_loss`` says. ``decoder_pred`` predicts ``target.dim`` values per patch.
        masking: None (MAE: uniform noise, argsort) or a ``jvision.mim.masking`` config
            (``dict(type="blockwise", mask_ratio=0.65)``) drawn from the batch's ``_rng``.
        drop_path_rate: stochastic depth of the encoder blocks (0 in MAE pre-training).
    """

    def __init__(self, img_size: int = 224, patch_size: int = 16, in_chans: int = 3,
                 embed_dim: int = 1024, depth: int = 24, num_heads: int = 16,
                 decoder_embed_dim: int = 512, decoder_depth: int = 8, decoder_num_heads: int = 16,
                 mlp_ratio: float = 4.0, norm_eps: float = 1e-6, norm_pix_loss: bool = False,
                 mask_ratio: float = 0.75, target: dict | str | None = None, masking: dict | str | None = None,
                 drop_path_rate: float = 0.0):
        super().__init__()
        self.in_chans = in_chans
        self.norm_pix_loss = norm_pix_loss
        self.mask_ratio = mask_ratio

        # encoder
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        grid = self.patch_embed.grid_size
        if grid[0] != grid[1]:
            raise ValueError(f"MAE expects square images, got img_size {img_size}")
        self.cls_token = jt.zeros((1, 1, embed_dim))
        self.pos_embed = jt.array(get_2d_sincos_pos_embed(embed_dim, grid, cls_token=True)[None]).stop_grad()
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, qkv_bias=True, drop_path=dpr[i],
                                           norm_eps=norm_eps) for i in range(depth)])
        self.norm = LayerNorm(embed_dim, eps=norm_eps)

        # reconstruction target and masking (plain objects: no weights in this model's state dict)
        self.target = build_target(target if target is not None else ("norm_pix" if norm_pix_loss else "pixel"),
                                   patch_size=self.patch_embed.patch_size[0], in_chans=in_chans,
                                   img_size=self.patch_embed.img_size)
        self.masking = None if masking is None else build_masking(masking, grid, default_ratio=mask_ratio)

        # decoder
        self.decoder_embed = Linear(embed_dim, decoder_embed_dim)
        self.mask_token = jt.zeros((1, 1, decoder_embed_dim))
        self.decoder_pos_embed = jt.array(
            get_2d_sincos_pos_embed(decoder_embed_dim, grid, cls_token=True)[None]).stop_grad()
        self.decoder_blocks = nn.ModuleList([
            Block(decoder_embed_dim, decoder_num_heads, mlp_ratio, qkv_bias=True, norm_eps=norm_eps)
            for _ in range(decoder_depth)])
        self.decoder_norm = LayerNorm(decoder_embed_dim, eps=norm_eps)
        self.decoder_pred = Linear(decoder_embed_dim, self.target.dim)

        init_vit_weights(self)
        jt.init.gauss_(self.cls_token, 0.0, 0.02)  # the official normal_(std=.02)
        jt.init.gauss_(self.mask_token, 0.0, 0.02)

    def stage_modules(self) -> dict:
        return {"encoder": ["patch_embed", "cls_token", "pos_embed", "blocks", "norm"],
                "decoder": ["decoder_embed", "mask_token", "decoder_pos_embed", "decoder_blocks",
                            "decoder_norm", "decoder_pred"]}

    def train(self):
        super().train()
        self.pos_embed.stop_grad()  # fixed tables stay fixed
        self.decoder_pos_embed.stop_grad()
        return self

    # -- patches --------------------------------------------------------------------------------
    def patchify(self, imgs):
        """(N, C, H, W) -> (N, L, p*p*C); inside a patch the order is (row, column, channel)."""
        p = self.patch_embed.patch_size[0]
        n, c, h, w = imgs.shape
        if h != w or h % p:
            raise ValueError(f"patchify needs square images divisible by {p}, got {h}x{w}")
        return patchify(imgs, p)

    def unpatchify(self, x):
        """(N, L, p*p*C) -> (N, C, H, W), the inverse of ``patchify``."""
        l = x.shape[1]
        g = int(round(l ** 0.5))
        if g * g != l:
            raise ValueError(f"unpatchify needs a square number of patches, got {l}")
        return unpatchify(x, self.patch_embed.patch_size[0], (g, g), self.in_chans)

    # -- masking --------------------------------------------------------------------------------
    masking_indices = staticmethod(masking_indices)

    def random_masking(self, x, mask_ratio: float, noise=None):
        """Keep a random subset of the tokens of every sample: (x_masked, mask, ids_restore)."""
        return random_masking(x, mask_ratio, noise)

    # -- forward --------------------------------------------------------------------------------
    def forward_encoder(self, imgs, mask_ratio: float, noise=None, mask=None):
        """Encode the kept patches: (latent with the cls token first, mask, ids_restore).

        ``mask`` (B, L) bool (True = removed, equal count per sample) replaces the random draw.
        """
        x = self.patch_embed(imgs) + self.pos_embed[:, 1:, :]
        if mask is not None:
            ids_shuffle, ids_restore, len_keep, mask = indices_from_mask(mask)
            if tuple(mask.shape) != tuple(x.shape[:2]):
                raise ValueError(f"mask must have shape {tuple(x.shape[:2])}, got {tuple(mask.shape)}")
            x = gather_tokens(x, ids_shuffle[:, :len_keep])
        else:
            x, mask, ids_restore = random_masking(x, mask_ratio, noise)
        cls = (self.cls_token + self.pos_embed[:, :1, :]).broadcast((x.shape[0], 1, x.shape[2]))
        x = jt.concat([cls, x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x), mask, ids_restore

    def forward_decoder(self, x, ids_restore):
        return mae_decode(x, ids_restore, self.decoder_embed, self.mask_token, self.decoder_pos_embed,
                          self.decoder_blocks, self.decoder_norm, self.decoder_pred)

    def forward_loss(self, imgs, pred, mask, norm_pix_loss: bool | None = None):
        """Mean over removed patches of the target's loss (MSE for pixels). ``norm_pix_loss``
        (True/False) forces the official pixel target, whatever ``target`` is."""
        if norm_pix_loss is None:
            return self.target.loss(pred, self.target(imgs), mask)
        target = self.patchify(imgs)
        if norm_pix_loss:
            target = normalize_patches(target)
        loss = ((pred - target) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum()

    def execute(self, imgs, mask_ratio: float = 0.75, noise=None, mask=None):
        latent, mask, ids_restore = self.forward_encoder(imgs, mask_ratio, noise, mask)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(imgs, pred, mask), pred, mask

    forward = execute

    # -- trainer contract -----------------------------------------------------------------------
    def _batch_mask(self, batch: dict):
        """A mask from the batch (``mask``), from the configured generator (drawn from ``_rng``),
        or None (MAE's noise path)."""
        if batch.get("mask") is not None:
            return batch["mask"]
        if self.masking is None:
            return None
        rng = batch.get("_rng")
        if rng is None:
            rng = np.random.default_rng(np.random.randint(0, 2 ** 31))
        return self.masking(batch["img"].shape[0], rng)

    def train_step(self, batch: dict) -> dict:
        loss, _, _ = self(batch["img"], self.mask_ratio, batch.get("noise"), self._batch_mask(batch))
        return {"loss": loss}

    def val_step(self, batch: dict) -> dict:
        """Loss, prediction and mask; without ``noise``/``mask``/``_rng`` in the batch the mask is drawn
        from a seed derived from the samples' file names, so a validation loss is reproducible."""
        if batch.get("noise") is None and batch.get("mask") is None and batch.get("_rng") is None:
            names = [str(m.get("filename", i)) for i, m in enumerate(batch.get("meta") or [])]
            batch = dict(batch, _rng=np.random.default_rng(zlib.crc32("|".join(names).encode())))
            if self.masking is None:
                n, l = batch["img"].shape[0], self.patch_embed.num_patches
                batch["noise"] = batch["_rng"].random((n, l), dtype=np.float32)
        loss, pred, mask = self(batch["img"], self.mask_ratio, batch.get("noise"), self._batch_mask(batch))
        return {"loss": loss, "pred": pred, "mask": mask}


# ------------------------------------------------------------------------------------------------
# Published variants (PRETRAIN.md: 1600 epochs, norm-pix loss, mask 0.75). Parameter counts are the
# whole autoencoder's, sin-cos tables included (as the official count).
# ------------------------------------------------------------------------------------------------
_URL = "https://dl.fbaipublicfiles.com/mae/visualize"
DEFAULT_CFGS = {
    "mae_vit_base_patch16_dec512d8b": dict(input_size=(3, 224, 224), params_m=111.9,
                                           url=f"{_URL}/mae_visualize_vit_base.pth"),
    "mae_vit_large_patch16_dec512d8b": dict(input_size=(3, 224, 224), params_m=329.5,
                                            url=f"{_URL}/mae_visualize_vit_large.pth"),
    "mae_vit_huge_patch14_dec512d8b": dict(input_size=(3, 224, 224), params_m=657.1),
    # Small encoders for CPU runs and the laptop-scale study (not released by MAE): DeiT-Ti / DeiT-S
    # widths with a narrow 4-block decoder.
    "mae_vit_tiny_patch16": dict(input_size=(3, 224, 224), params_m=6.47),
    "mae_vit_small_patch16": dict(input_size=(3, 224, 224), params_m=25.17),
}


def _mae(name: str, **kwargs) -> MaskedAutoencoderViT:
    model = MaskedAutoencoderViT(**kwargs)
    model.default_cfg = dict(DEFAULT_CFGS[name], architecture=name)
    return model


@MODELS.register()
def mae_vit_base_patch16_dec512d8b(**kwargs) -> MaskedAutoencoderViT:
    return _mae("mae_vit_base_patch16_dec512d8b", **{
        "patch_size": 16, "embed_dim": 768, "depth": 12, "num_heads": 12, "decoder_embed_dim": 512,
        "decoder_depth": 8, "decoder_num_heads": 16, "mlp_ratio": 4, **kwargs})


@MODELS.register()
def mae_vit_large_patch16_dec512d8b(**kwargs) -> MaskedAutoencoderViT:
    return _mae("mae_vit_large_patch16_dec512d8b", **{
        "patch_size": 16, "embed_dim": 1024, "depth": 24, "num_heads": 16, "decoder_embed_dim": 512,
        "decoder_depth": 8, "decoder_num_heads": 16, "mlp_ratio": 4, **kwargs})


@MODELS.register()
def mae_vit_huge_patch14_dec512d8b(**kwargs) -> MaskedAutoencoderViT:
    return _mae("mae_vit_huge_patch14_dec512d8b", **{
        "patch_size": 14, "embed_dim": 1280, "depth": 32, "num_heads": 16, "decoder_embed_dim": 512,
        "decoder_depth": 8, "decoder_num_heads": 16, "mlp_ratio": 4, **kwargs})


# The recommended architectures under their short names (as models_mae.py aliases them).
MODELS.register("mae_vit_base_patch16", mae_vit_base_patch16_dec512d8b)
MODELS.register("mae_vit_large_patch16", mae_vit_large_patch16_dec512d8b)
MODELS.register("mae_vit_huge_patch14", mae_vit_huge_patch14_dec512d8b)


@MODELS.register()
def mae_vit_tiny_patch16(**kwargs) -> MaskedAutoencoderViT:
    return _mae("mae_vit_tiny_patch16", **{
        "patch_size": 16, "embed_dim": 192, "depth": 12, "num_heads": 3, "decoder_embed_dim": 128,
        "decoder_depth": 4, "decoder_num_heads": 4, "mlp_ratio": 4, **kwargs})


@MODELS.register()
def mae_vit_small_patch16(**kwargs) -> MaskedAutoencoderViT:
    return _mae("mae_vit_small_patch16", **{
        "patch_size": 16, "embed_dim": 384, "depth": 12, "num_heads": 6, "decoder_embed_dim": 256,
        "decoder_depth": 4, "decoder_num_heads": 8, "mlp_ratio": 4, **kwargs})


# ------------------------------------------------------------------------------------------------
# Parity adapter: the official model's fixtures (../shared/parity/mae) through tools/compare.py.
# The fixture saved the uniform noise the official random_masking drew; it is fed as ``noise``.
# ------------------------------------------------------------------------------------------------
def _parity_build(kwargs: dict, manifest: dict) -> MaskedAutoencoderViT:
    args = official_kwargs(kwargs, keep=("img_size", "patch_size", "in_chans", "embed_dim", "depth", "num_heads",
                                         "decoder_embed_dim", "decoder_depth", "decoder_num_heads", "mlp_ratio",
                                         "norm_pix_loss"), ignore=("norm_layer",), family="mae")
    return MaskedAutoencoderViT(norm_eps=official_norm_eps(kwargs.get("norm_layer"), 1e-5), **args)


def _parity_run(model: MaskedAutoencoderViT, io: dict, upstream: dict, manifest: dict) -> dict:
    x, noise = input_var(io), input_var(io, "noise")
    ratio = float(manifest.get("mask_ratio", 0.75))
    ids_shuffle, ids_restore, _, mask = model.masking_indices(noise, ratio)
    latent, mask, ids_restore = model.forward_encoder(x, ratio, noise)
    pred = model.forward_decoder(latent, ids_restore)
    return {"ids_shuffle": ids_shuffle, "ids_restore": ids_restore, "mask": mask, "latent": latent,
            "pred": pred, "loss": model.forward_loss(x, pred, mask),
            "loss_plain": model.forward_loss(x, pred, mask, norm_pix_loss=False),
            "loss_norm_pix": model.forward_loss(x, pred, mask, norm_pix_loss=True),
            "target_patches": model.patchify(x), "pred_unpatchified": model.unpatchify(pred)}


register_adapter(Adapter("mae", _parity_build, lambda manifest: build_registered(manifest["name"]), _parity_run,
                         outputs=("ids_*", "mask", "latent", "pred", "loss*", "target_patches", "pred_unpatchified"),
                         inputs=("noise",), exact=("ids_shuffle", "ids_restore", "mask")))
