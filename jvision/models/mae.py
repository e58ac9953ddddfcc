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
"""
from __future__ import annotations

import jittor as jt
from jittor import nn

from ..convert.fixtures import (Adapter, build_registered, input_var, official_kwargs, official_norm_eps,
                                register_adapter)
from ..ops.random import sample_uniform
from ..registry import MODELS
from .layers import LayerNorm
from .vit import Block, PatchEmbed, get_2d_sincos_pos_embed, init_vit_weights

__all__ = ["MaskedAutoencoderViT", "DEFAULT_CFGS"]


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
    """

    def __init__(self, img_size: int = 224, patch_size: int = 16, in_chans: int = 3,
                 embed_dim: int = 1024, depth: int = 24, num_heads: int = 16,
                 decoder_embed_dim: int = 512, decoder_depth: int = 8, decoder_num_heads: int = 16,
                 mlp_ratio: float = 4.0, norm_eps: float = 1e-6, norm_pix_loss: bool = False,
                 mask_ratio: float = 0.75):
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
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, qkv_bias=True, norm_eps=norm_eps)
                                     for _ in range(depth)])
        self.norm = LayerNorm(embed_dim, eps=norm_eps)

        # decoder
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = jt.zeros((1, 1, decoder_embed_dim))
        self.decoder_pos_embed = jt.array(
            get_2d_sincos_pos_embed(decoder_embed_dim, grid, cls_token=True)[None]).stop_grad()
        self.decoder_blocks = nn.ModuleList([
            Block(decoder_embed_dim, decoder_num_heads, mlp_ratio, qkv_bias=True, norm_eps=norm_eps)
            for _ in range(decoder_depth)])
        self.decoder_norm = LayerNorm(decoder_embed_dim, eps=norm_eps)
        self.decoder_pred = nn.Linear(decoder_embed_dim, self.patch_embed.patch_size[0] ** 2 * in_chans)

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
        g = h // p
        x = imgs.reshape(n, c, g, p, g, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(n, g * g, p * p * c)

    def unpatchify(self, x):
        """(N, L, p*p*C) -> (N, C, H, W), the inverse of ``patchify``."""
        p = self.patch_embed.patch_size[0]
        n, l, _ = x.shape
        g = int(round(l ** 0.5))
        if g * g != l:
            raise ValueError(f"unpatchify needs a square number of patches, got {l}")
        c = self.in_chans
        x = x.reshape(n, g, g, p, p, c).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(n, c, g * p, g * p)

    # -- masking --------------------------------------------------------------------------------
    @staticmethod
    def masking_indices(noise, mask_ratio: float):
        """From (N, L) noise: ``ids_shuffle`` (ascending noise; the first ``len_keep`` are kept),
        ``ids_restore`` (its inverse permutation), ``len_keep`` and the binary ``mask`` (1 = removed)."""
        n, l = noise.shape
        len_keep = int(l * (1 - mask_ratio))
        ids_shuffle, _ = jt.argsort(noise, dim=1)
        ids_restore, _ = jt.argsort(ids_shuffle, dim=1)
        mask = (ids_restore >= len_keep).float32()
        return ids_shuffle, ids_restore, len_keep, mask

    def random_masking(self, x, mask_ratio: float, noise=None):
        """Keep a random subset of the tokens of every sample: (x_masked, mask, ids_restore)."""
        n, l, d = x.shape
        if noise is None:
            noise = sample_uniform((n, l))  # keyed by global sample index in the trainer (MPI == 1 process)
        elif not isinstance(noise, jt.Var):
            noise = jt.array(noise)
        if tuple(noise.shape) != (n, l):
            raise ValueError(f"noise must have shape ({n}, {l}), got {tuple(noise.shape)}")
        ids_shuffle, ids_restore, len_keep, mask = self.masking_indices(noise, mask_ratio)
        ids_keep = ids_shuffle[:, :len_keep]
        x_masked = jt.gather(x, 1, ids_keep.unsqueeze(-1).broadcast((n, len_keep, d)))
        return x_masked, mask, ids_restore

    # -- forward --------------------------------------------------------------------------------
    def forward_encoder(self, imgs, mask_ratio: float, noise=None):
        x = self.patch_embed(imgs) + self.pos_embed[:, 1:, :]
        x, mask, ids_restore = self.random_masking(x, mask_ratio, noise)
        cls = (self.cls_token + self.pos_embed[:, :1, :]).broadcast((x.shape[0], 1, x.shape[2]))
        x = jt.concat([cls, x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x), mask, ids_restore

    def forward_decoder(self, x, ids_restore):
        x = self.decoder_embed(x)
        n, kept, d = x.shape
        l = ids_restore.shape[1]
        mask_tokens = self.mask_token.broadcast((n, l + 1 - kept, d))
        tokens = jt.concat([x[:, 1:, :], mask_tokens], dim=1)
        tokens = jt.gather(tokens, 1, ids_restore.unsqueeze(-1).broadcast((n, l, d)))  # un-shuffle
        x = jt.concat([x[:, :1, :], tokens], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        x = self.decoder_pred(self.decoder_norm(x))
        return x[:, 1:, :]

    def forward_loss(self, imgs, pred, mask, norm_pix_loss: bool | None = None):
        """Mean over removed patches of the per-patch mean squared error."""
        norm_pix = self.norm_pix_loss if norm_pix_loss is None else norm_pix_loss
        target = self.patchify(imgs)
        if norm_pix:
            mean = target.mean(dim=-1, keepdims=True)
            var = ((target - mean) ** 2).sum(dim=-1, keepdims=True) / (target.shape[-1] - 1)
            target = (target - mean) / (var + 1e-6) ** 0.5
        loss = ((pred - target) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum()

    def execute(self, imgs, mask_ratio: float = 0.75, noise=None):
        latent, mask, ids_restore = self.forward_encoder(imgs, mask_ratio, noise)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(imgs, pred, mask), pred, mask

    forward = execute

    # -- trainer contract -----------------------------------------------------------------------
    def train_step(self, batch: dict) -> dict:
        loss, _, mask = self(batch["img"], self.mask_ratio, batch.get("noise"))
        return {"loss": loss}

    def val_step(self, batch: dict) -> dict:
        loss, pred, mask = self(batch["img"], self.mask_ratio, batch.get("noise"))
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
