"""CMAE: contrastive masked autoencoders (images).

Paper: Zhicheng Huang, Xiaojie Jin, Chengze Lu, Qibin Hou, Ming-Ming Cheng, Dongmei Fu, Xiaohui Shen,
Jiashi Feng, "Contrastive Masked Autoencoders are Stronger Vision Learners", TPAMI 2023
(arXiv:2207.13532). Official code matched: ZhichengHuang/CMAE (commit e786a52)
``cmae/models/algorithms/cmae.py``, ``backbones/cmae_vit.py``, ``necks/mae_neck.py``,
``necks/nonlinear_neck.py``, ``heads/cmae_head.py``, ``core/hooks/momentum_update_hook.py`` and the
pre-training config ``cmae_vit-base-p16_32xb128-coslr-1600e_in1k.py``.

Two branches see two views of one image (``jvision.data.views.PixelShiftViews``: the online view is a
224 crop of a 256 random-resized crop, the target view the same crop shifted by 0-31 px and
colour-augmented):

* online: a ViT (``backbone``) on the patches left by block-wise masking (2x2-patch groups, ratio
  0.65); a pixel decoder (MAE's, 512-d, depth 8) predicts the normalised pixels of the masked patches
  (``loss_rc``, MSE); a feature decoder (512-d, depth 2) whose tokens, averaged, pass the ``projector``
  (768-1536-256, BatchNorm in the hidden layer) and the ``head.predictor`` (256-1536-256);
* target: an exponential moving average of the online ViT (``target_backbone``, no final norm) on
  the whole target view; the mean of its patch tokens passes ``target_projector`` (EMA of the
  projector);
* ``loss_ct`` = ``ct_weight * 2 * tau * CE(sim / tau)``: InfoNCE between the L2-normalised
  prediction and target projections, tau 0.07, the targets of every MPI rank as negatives
  (``jvision.ops.collective.all_gather``); ``loss = rc_weight * loss_rc + loss_ct``.

The EMA runs in ``after_train_iter(iteration, max_iters)`` (called by the trainer after each update):
``m = end - (end - base) * (cos(pi * k / K) + 1) / 2`` (the official ``MomentumUpdateHook``; the
released config sets base = end = 0.996, a constant). The target weights are in the state dict, so a
resumed run continues exactly.

Shared with MAE (one implementation each): the ViT (``jvision.models.vit.VisionTransformer``: patch
embedding, blocks, final norm), the decoder (``jvision.models.mae.MAEDecoder``), block-wise masking
(``jvision.mim.masking.BlockwiseMasking``) and the reconstruction targets (``jvision.mim.targets``).
``ContrastiveMAE`` holds everything that does not depend on the input being an image, so CMAE-V
(``jvision.models.cmae_v``) only swaps the encoders.

Official checkpoints (``{'state_dict'}`` with ``backbone.``, ``target_backbone.``, ``pixel_decoder.``,
``feature_decoder.``, ``projector.``, ``target_projector.``, ``head.predictor.`` entries, mmpretrain ViT
names) load through ``cmae_official_state`` (the model's ``official_remap``); ``cmae_encoder_state``
turns a pre-training or fine-tuned CMAE checkpoint into the keys of the fine-tuning ViT.
Our names differ from the official ones only inside the ViTs and decoders, where they are the shared
timm / MAE names (``blocks.{i}.norm1`` for ``layers.{i}.ln1`` ...).
"""
from __future__ import annotations

import math
import re

import numpy as np
import jittor as jt
from jittor import nn

from ..mim.masking import build_masking, gather_tokens, indices_from_mask
from ..mim.targets import build_target
from ..ops.collective import all_gather, rank
from ..registry import MODELS
from .layers import Linear, build_batchnorm, is_buffer
from .mae import MAEDecoder
from .vit import VisionTransformer

__all__ = ["NonLinearNeck", "CMAEHead", "info_nce", "momentum_at", "ContrastiveMAE", "CMAE", "load_cmae_encoder",
           "cmae_official_state", "cmae_encoder_state", "DEFAULT_CFGS"]


# ------------------------------------------------------------------------------------------------
# Blocks: projector / predictor, contrastive head
# ------------------------------------------------------------------------------------------------
def _torch_linear(in_features: int, out_features: int, bias: bool = True) -> nn.Linear:
    """nn.Linear with PyTorch's default init (U(+-1/sqrt(in)) for weight and bias): the official
    necks keep it."""
    layer = Linear(in_features, out_features, bias=bias)
    bound = 1.0 / math.sqrt(in_features)
    layer.weight.update(jt.init.uniform(layer.weight.shape, "float32", -bound, bound))
    if bias:
        layer.bias.update(jt.init.uniform(layer.bias.shape, "float32", -bound, bound))
    return layer


class NonLinearNeck(nn.Module):
    """mmselfsup's ``NonLinearNeck`` on vectors: ``fc0`` -> ``bn0`` -> [ReLU -> ``fc{i}`` -> ``bn{i}``]...

    Args:
        in_channels, hid_channels, out_channels, num_layers: the MLP (2 layers in CMAE).
        with_bias: bias of the hidden linears (CMAE: True). with_last_bias: of the last (False).
        with_last_bn: BatchNorm after the last linear (CMAE: False).
        norm: ``"syncbn"`` (official: SyncBN, statistics over all MPI ranks) or ``"bn"``.
        eps: BatchNorm eps (the CMAE neck's 1e-6).
    Input (B, C) or (B, 1, C) (the official neck takes the first token), output (B, out_channels).
    """

    def __init__(self, in_channels: int, hid_channels: int, out_channels: int, num_layers: int = 2,
                 with_bias: bool = True, with_last_bn: bool = False, with_last_bias: bool = False,
                 norm: str = "syncbn", eps: float = 1e-6):
        super().__init__()
        if num_layers < 2:
            raise ValueError(f"NonLinearNeck needs num_layers >= 2, got {num_layers}")
        self.num_layers = num_layers
        self.relu = nn.ReLU()
        self.fc0 = _torch_linear(in_channels, hid_channels, with_bias)
        self.bn0 = build_batchnorm(norm, hid_channels, eps)
        self.bn_last = with_last_bn
        for i in range(1, num_layers):
            last = i == num_layers - 1
            width = out_channels if last else hid_channels
            setattr(self, f"fc{i}", _torch_linear(hid_channels, width, with_last_bias if last else with_bias))
            if not last or with_last_bn:
                setattr(self, f"bn{i}", build_batchnorm(norm, width, eps))

    def execute(self, x):
        if x.ndim == 3:
            x = x[:, 0, :]
        x = self.bn0(self.fc0(x))
        for i in range(1, self.num_layers):
            x = getattr(self, f"fc{i}")(self.relu(x))
            bn = getattr(self, f"bn{i}", None)
            if bn is not None:
                x = bn(x)
        return x


def info_nce(pred, target, temperature: float = 0.07, gather: bool = True):
    """CMAE's contrastive loss ``2 * tau * CE(normalize(pred) @ normalize(targets).T / tau, labels)``.

    ``targets`` are the (detached) ``target`` rows of every MPI rank in rank order (``gather``), and
    the label of row ``i`` is ``i + B * rank``: each prediction must find its own target among all.
    With equal batches per rank the mean over ranks equals one process over the whole batch.
    """
    if pred.ndim != 2 or tuple(pred.shape) != tuple(target.shape):
        raise ValueError(f"info_nce: pred {tuple(pred.shape)} and target {tuple(target.shape)} must be equal (B, C)")
    pred = pred / jt.maximum(jt.sqrt((pred * pred).sum(dim=1, keepdims=True)), 1e-12)
    target = target.detach()
    target = target / jt.maximum(jt.sqrt((target * target).sum(dim=1, keepdims=True)), 1e-12)
    targets = all_gather(target) if gather else target
    score = jt.matmul(pred, targets.transpose(1, 0)) / temperature
    b = pred.shape[0]
    labels = jt.array(np.arange(b, dtype=np.int32) + b * (rank() if gather else 0))
    return 2 * temperature * nn.cross_entropy_loss(score, labels)


class CMAEHead(nn.Module):
    """The official ``CMAEPretrainHead``'s trainable part and contrastive loss: ``predictor`` maps the
    online projection; ``execute(proj_s, proj_t)`` returns ``ct_weight * info_nce``."""

    def __init__(self, predictor: NonLinearNeck, temperature: float = 0.07, ct_weight: float = 1.0):
        super().__init__()
        self.predictor = predictor
        self.temperature, self.ct_weight = float(temperature), float(ct_weight)

    def execute(self, proj_s, proj_t):
        return self.ct_weight * info_nce(self.predictor(proj_s), proj_t, self.temperature)


def momentum_at(iteration: int, max_iters: int, base: float, end: float, schedule: str = "cosine") -> float:
    """EMA momentum after iteration ``iteration`` (0-based) of ``max_iters``: ``cosine`` (the official
    hook: ``end - (end - base) * (cos(pi * k / K) + 1) / 2``) or ``constant`` (``base``)."""
    if schedule == "constant":
        return float(base)
    if schedule != "cosine":
        raise ValueError(f"momentum schedule must be 'cosine' or 'constant', got {schedule!r}")
    return float(end - (end - base) * (math.cos(math.pi * iteration / max(max_iters, 1)) + 1) / 2)


# ------------------------------------------------------------------------------------------------
# The network, independent of the input kind
# ------------------------------------------------------------------------------------------------
class ContrastiveMAE(nn.Module):
    """The CMAE branches around an online and a target encoder (module docstring).

    Subclasses build ``backbone`` and ``target_backbone`` and implement ``forward_online(x, mask)``
    -> (latent with ``num_prefix_tokens`` prefix tokens first, float mask, ids_restore) and
    ``forward_target(x)`` -> (B, N, D) patch tokens; this class adds the decoders, projectors, the
    head, the losses, masking, the EMA and the trainer contract.

    Args (besides the encoders'):
        embed_dim, num_patches, num_prefix_tokens, pos_table: geometry the decoders need.
        decoder_embed_dim, decoder_depth, decoder_num_heads, mlp_ratio, norm_eps: pixel decoder.
        feature_decoder_depth: the feature decoder (same width and heads as the pixel decoder).
        proj_hidden, proj_dim, pred_hidden: projector (embed -> hidden -> dim) and predictor.
        target: reconstruction target of the pixel decoder (``jvision.mim.targets``).
        temperature, ct_weight, rc_weight: the losses (official 0.07, 1, 1).
        base_momentum, end_momentum, momentum_schedule: the EMA (official 0.996, 0.996, cosine).
        norm: BatchNorm of the projector / predictor, ``"syncbn"`` (official) or ``"bn"``.
    """

    def _build_branches(self, embed_dim: int, num_patches: int, num_prefix_tokens: int, pos_table,
                        decoder_embed_dim: int, decoder_depth: int, decoder_num_heads: int,
                        feature_decoder_depth: int, mlp_ratio: float, norm_eps: float, proj_hidden: int,
                        proj_dim: int, pred_hidden: int, temperature: float, ct_weight: float, rc_weight: float,
                        base_momentum: float, end_momentum: float, momentum_schedule: str, norm: str) -> None:
        self.pixel_decoder = MAEDecoder(num_patches, embed_dim, decoder_embed_dim, decoder_depth, decoder_num_heads,
                                        mlp_ratio, self.target.dim, norm_eps, num_prefix_tokens, pos_table)
        # The official feature decoder predicts patch_size**2 * 3 values, which is 768 = embed_dim at
        # ViT-B/16; it is sized embed_dim so that the projector and its EMA copy (fed the target
        # tokens) have one input width at every model size.
        self.feature_decoder = MAEDecoder(num_patches, embed_dim, decoder_embed_dim, feature_decoder_depth,
                                          decoder_num_heads, mlp_ratio, embed_dim, norm_eps, num_prefix_tokens,
                                          pos_table)
        self.projector = NonLinearNeck(embed_dim, proj_hidden, proj_dim, norm=norm)
        self.target_projector = NonLinearNeck(embed_dim, proj_hidden, proj_dim, norm=norm)
        self.head = CMAEHead(NonLinearNeck(proj_dim, pred_hidden, proj_dim, norm=norm), temperature, ct_weight)
        self.rc_weight = float(rc_weight)
        self.base_momentum, self.end_momentum = float(base_momentum), float(end_momentum)
        self.momentum_schedule = momentum_schedule
        momentum_at(0, 1, base_momentum, end_momentum, momentum_schedule)   # validates the schedule name
        self.momentum = self.base_momentum
        self._copy_online_to_target()

    # -- the EMA ----------------------------------------------------------------------------------
    def ema_pairs(self) -> list[tuple[str, jt.Var, jt.Var]]:
        """(name, online, target) of every parameter the EMA updates (BatchNorm statistics excluded,
        as the official ``.parameters()`` loop; the target backbone has no final norm)."""
        pairs = []
        for online_name, target_name in (("backbone", "target_backbone"), ("projector", "target_projector")):
            online = dict(getattr(self, online_name).state_dict())
            for name, var in getattr(self, target_name).state_dict().items():
                if is_buffer(name, var):
                    continue
                if name not in online or tuple(online[name].shape) != tuple(var.shape):
                    raise KeyError(f"{target_name}.{name} has no counterpart of the same shape in {online_name}")
                pairs.append((f"{target_name}.{name}", online[name], var))
        return pairs

    def _freeze_target(self) -> None:
        for _, _, target in self.ema_pairs():
            target.stop_grad()

    def _copy_online_to_target(self) -> None:
        for _, online, target in self.ema_pairs():
            target.assign(online.detach().clone())
        self._freeze_target()

    def momentum_update(self, momentum: float) -> None:
        """``target = m * target + (1 - m) * online`` for every EMA pair."""
        with jt.no_grad():
            targets = []
            for _, online, target in self.ema_pairs():
                target.update(target * momentum + online.detach() * (1.0 - momentum))
                targets.append(target)
            jt.sync(targets)
        self._freeze_target()

    def after_train_iter(self, iteration: int, max_iters: int) -> None:
        """The trainer's hook after every update: set the momentum of this iteration, update the EMA."""
        self.momentum = momentum_at(iteration, max_iters, self.base_momentum, self.end_momentum,
                                    self.momentum_schedule)
        self.momentum_update(self.momentum)

    def train(self):
        super().train()
        self._freeze_target()
        return self

    # -- forward ----------------------------------------------------------------------------------
    def forward_online(self, x, mask):
        raise NotImplementedError(f"{type(self).__name__} must define forward_online (the online encoder's pass)")

    def forward_target(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define forward_target")

    def forward_losses(self, x, x_t, mask) -> dict:
        """``loss_rc``, ``loss_ct`` and their weighted sum ``loss`` for the online input ``x`` (masked
        by ``mask``, (B, N) bool, True = hidden) and the target view ``x_t``."""
        latent, mask_f, ids_restore = self.forward_online(x, mask)
        pred_pixel = self.pixel_decoder(latent, ids_restore)
        pred_feature = self.feature_decoder(latent, ids_restore)
        proj_s = self.projector(pred_feature.mean(dim=1))
        with jt.no_grad():
            proj_t = self.target_projector(self.forward_target(x_t).mean(dim=1))
        loss_rc = self.rc_weight * self.target.loss(pred_pixel, self.target(x), mask_f)
        loss_ct = self.head(proj_s, proj_t.detach())
        return {"loss": loss_rc + loss_ct, "loss_rc": loss_rc, "loss_ct": loss_ct, "pred": pred_pixel,
                "mask": mask_f}

    def execute(self, x, x_t=None, mask=None):
        """(loss, pixel prediction, float mask); ``x_t`` defaults to ``x``, ``mask`` to a fresh draw."""
        if mask is None:
            mask = self.masking(x.shape[0], np.random.default_rng(np.random.randint(0, 2 ** 31)))
        out = self.forward_losses(x, x if x_t is None else x_t, mask)
        return out["loss"], out["pred"], out["mask"]

    forward = execute

    # -- trainer contract -------------------------------------------------------------------------
    def _batch_mask(self, batch: dict):
        if batch.get("mask") is not None:
            return batch["mask"]
        rng = batch.get("_rng")
        if rng is None:
            rng = np.random.default_rng(np.random.randint(0, 2 ** 31))
        return self.masking(batch["img"].shape[0], rng)

    def train_step(self, batch: dict) -> dict:
        x = batch["img"]
        out = self.forward_losses(x, batch.get("img_t", x), self._batch_mask(batch))
        return {k: out[k] for k in ("loss", "loss_rc", "loss_ct")}

    def val_step(self, batch: dict) -> dict:
        x = batch["img"]
        return self.forward_losses(x, batch.get("img_t", x), self._batch_mask(batch))


def _vit_no_grad_pos(vit: VisionTransformer) -> None:
    vit.pos_embed.stop_grad()        # the official pos_embed is a fixed sin-cos table (requires_grad False)


@MODELS.register()
class CMAE(ContrastiveMAE):
    """CMAE on images with a plain ViT (module docstring).

    Args:
        img_size, patch_size, in_chans, embed_dim, depth, num_heads, mlp_ratio, norm_eps,
            drop_path_rate: the online / target ViT (``VisionTransformer`` without a head).
        mask_ratio, masking: block-wise masking of 2x2-patch groups at 0.65 by default.
        target: pixel decoder target (default ``norm_pix``, the official ``norm_pix=True``).
        target_cls: the target ViT sees the cls token (official True); its mean excludes it anyway.
        Other arguments: ``ContrastiveMAE``.
    """

    def __init__(self, img_size: int = 224, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 768,
                 depth: int = 12, num_heads: int = 12, mlp_ratio: float = 4.0, norm_eps: float = 1e-6,
                 drop_path_rate: float = 0.0, mask_ratio: float = 0.65, masking: dict | str | None = None,
                 target: dict | str | None = "norm_pix", target_cls: bool = True,
                 decoder_embed_dim: int = 512, decoder_depth: int = 8, decoder_num_heads: int = 16,
                 feature_decoder_depth: int = 2, proj_hidden: int = 1536, proj_dim: int = 256,
                 pred_hidden: int = 1536, temperature: float = 0.07, ct_weight: float = 1.0, rc_weight: float = 1.0,
                 base_momentum: float = 0.996, end_momentum: float = 0.996, momentum_schedule: str = "cosine",
                 norm: str = "syncbn"):
        super().__init__()
        vit = dict(img_size=img_size, patch_size=patch_size, in_chans=in_chans, num_classes=0, embed_dim=embed_dim,
                   depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio, global_pool=False, norm_eps=norm_eps)
        self.backbone = VisionTransformer(drop_path_rate=drop_path_rate, **vit)
        self.target_backbone = VisionTransformer(**vit)
        self.target_backbone.norm = None                     # the official target has final_norm=False
        for v in (self.backbone, self.target_backbone):
            _vit_no_grad_pos(v)
        grid = self.backbone.patch_embed.grid_size
        self.target_cls = target_cls
        self.target = build_target(target, patch_size=patch_size, in_chans=in_chans,
                                   img_size=self.backbone.patch_embed.img_size)
        self.masking = build_masking(masking or dict(type="blockwise", block=2), grid, default_ratio=mask_ratio)
        self._build_branches(embed_dim, grid[0] * grid[1], 1, None, decoder_embed_dim, decoder_depth,
                             decoder_num_heads, feature_decoder_depth, mlp_ratio, norm_eps, proj_hidden, proj_dim,
                             pred_hidden, temperature, ct_weight, rc_weight, base_momentum, end_momentum,
                             momentum_schedule, norm)

    @staticmethod
    def official_remap(state: dict) -> dict:
        """Official checkpoint keys -> ours (``cmae_official_state``)."""
        return cmae_official_state(state)

    def stage_modules(self) -> dict:
        return {"encoder": ["backbone"], "decoders": ["pixel_decoder", "feature_decoder"],
                "heads": ["projector", "head"], "target": ["target_backbone", "target_projector"]}

    def train(self):
        super().train()
        for v in (self.backbone, self.target_backbone):
            _vit_no_grad_pos(v)
        return self

    def forward_online(self, img, mask):
        vit = self.backbone
        ids_shuffle, ids_restore, len_keep, mask_f = indices_from_mask(mask)
        x = vit.patch_embed(img) + vit.pos_embed[:, 1:, :]
        if ids_shuffle.shape[1] != x.shape[1]:
            raise ValueError(f"mask has {ids_shuffle.shape[1]} tokens, the image has {x.shape[1]} patches")
        x = gather_tokens(x, ids_shuffle[:, :len_keep])
        cls = (vit.cls_token + vit.pos_embed[:, :1, :]).broadcast((x.shape[0], 1, x.shape[2]))
        x = vit.pos_drop(jt.concat([cls, x], dim=1))
        for blk in vit.blocks:
            x = blk(x)
        return vit.norm(x), mask_f, ids_restore

    def forward_target(self, img):
        vit = self.target_backbone
        x = vit.patch_embed(img) + vit.pos_embed[:, 1:, :]
        if self.target_cls:
            cls = (vit.cls_token + vit.pos_embed[:, :1, :]).broadcast((x.shape[0], 1, x.shape[2]))
            x = jt.concat([cls, x], dim=1)
        for blk in vit.blocks:
            x = blk(x)
        return x[:, 1:, :] if self.target_cls else x


# ------------------------------------------------------------------------------------------------
# Official checkpoints
# ------------------------------------------------------------------------------------------------
_LAYER = re.compile(r"^(layers|decoder_blocks)\.(\d+)\.(.+)$")
_LAYER_PARTS = {"ln1": "norm1", "ln2": "norm2", "ffn.layers.0.0": "mlp.fc1", "ffn.layers.1": "mlp.fc2",
                "attn.qkv": "attn.qkv", "attn.proj": "attn.proj"}
_PARTS = ("backbone", "target_backbone", "pixel_decoder", "feature_decoder", "projector", "target_projector", "head")


def _mmpretrain_to_ours(key: str, decoder: bool) -> str:
    """One mmpretrain ViT / MAE-decoder key -> the shared timm / MAE name."""
    m = _LAYER.match(key)
    if m:
        group, i, rest = m.groups()
        stem, _, leaf = rest.rpartition(".")
        if stem not in _LAYER_PARTS:
            raise KeyError(f"CMAE checkpoint key {key!r}: unknown transformer-layer entry {stem!r}")
        return f"{'decoder_blocks' if group == 'decoder_blocks' else 'blocks'}.{i}.{_LAYER_PARTS[stem]}.{leaf}"
    if key.startswith("patch_embed.projection."):
        return "patch_embed.proj." + key[len("patch_embed.projection."):]
    if key.startswith("ln1."):
        return ("decoder_norm." if decoder else "norm.") + key[len("ln1."):]
    return key


def cmae_official_state(state: dict) -> dict:
    """An official CMAE pre-training checkpoint's state dict -> the keys of ``CMAE``.

    Entries of ``backbone`` / ``target_backbone`` (mmpretrain ViT: ``patch_embed.projection``,
    ``layers.{i}.{ln1, attn.qkv, attn.proj, ln2, ffn.layers.0.0, ffn.layers.1}``, final ``ln1``) and of
    the decoders (the same layer names, ``ln1`` = ``decoder_norm``) are renamed; projectors and the
    predictor keep their names. A state dict already in our layout passes unchanged.
    """
    out = {}
    for key, value in state.items():
        part, _, rest = key.partition(".")
        if part not in _PARTS:
            raise KeyError(f"CMAE checkpoint key {key!r} belongs to no part of the model ({', '.join(_PARTS)})")
        if part in ("backbone", "target_backbone", "pixel_decoder", "feature_decoder"):
            rest = _mmpretrain_to_ours(rest, decoder=part.endswith("decoder"))
        out[f"{part}.{rest}"] = value
    return out


def cmae_encoder_state(state: dict, global_pool: bool = True) -> dict:
    """A CMAE checkpoint -> the keys of the fine-tuning ``VisionTransformer`` (``vit_base_patch16``).

    Pre-training checkpoints (``backbone.*`` with the other parts, or ``extract_backbone_weights.py``'s
    bare backbone) keep the online ViT; with global pooling its final norm is dropped (fine-tuning
    trains a new ``fc_norm`` and head, as the official ``MIMVisionTransformer(final_norm=False)``).
    Fine-tuned checkpoints (``backbone.*`` with ``fc_norm``, ``head.head.*``) map entirely.
    """
    if any(k.startswith("backbone.") for k in state):
        body = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
        head = {k[len("head.head."):]: v for k, v in state.items() if k.startswith("head.head.")}
    else:
        body, head = dict(state), {}
    out = {_mmpretrain_to_ours(k, decoder=False): v for k, v in body.items()}
    if global_pool and not head:
        out = {k: v for k, v in out.items() if not k.startswith("norm.")}
    out.update({f"head.{k}": v for k, v in head.items()})
    return out


# ------------------------------------------------------------------------------------------------
# Published variant (README: ViT-B/16, 1600 epochs -> 84.7 ImageNet top-1 after fine-tuning)
# ------------------------------------------------------------------------------------------------
_URL = "https://cmae.s3.us-west-1.amazonaws.com/weight"
DEFAULT_CFGS = {
    "cmae_vit_base_patch16": dict(input_size=(3, 224, 224), finetune_top1=84.7,
                                  url=f"{_URL}/cmae_vit-base-p16_32xb128-coslr-1600e_in1k.pth"),
}


@MODELS.register()
def cmae_vit_base_patch16(**kwargs) -> CMAE:
    model = CMAE(**{"img_size": 224, "patch_size": 16, "embed_dim": 768, "depth": 12, "num_heads": 12, **kwargs})
    model.default_cfg = dict(DEFAULT_CFGS["cmae_vit_base_patch16"], architecture="cmae_vit_base_patch16")
    return model


@MODELS.register()
def cmae_vit_base_patch16_finetune(pretrained: str | None = None, **kwargs) -> VisionTransformer:
    """The ViT-B/16 CMAE fine-tunes (global pooling + ``fc_norm``, the official
    ``MIMVisionTransformer(final_norm=False)``), started from a CMAE checkpoint when given."""
    model = VisionTransformer(**{"patch_size": 16, "embed_dim": 768, "depth": 12, "num_heads": 12, "num_classes": 1000,
                                 "global_pool": True, **kwargs})
    model.default_cfg = dict(input_size=(3, 224, 224), top1=84.7, drop_path_rate=0.1, architecture="vit_base_patch16")
    if pretrained:
        load_cmae_encoder(model, pretrained)
    return model


def load_cmae_encoder(model: VisionTransformer, path: str) -> None:
    """Initialise a fine-tuning ViT from a CMAE checkpoint (``cmae_encoder_state``); a new
    ``fc_norm`` / ``head`` may be missing. Prints one summary line."""
    from ..convert import load_checkpoint
    fresh = [k for k in model.state_dict() if k.startswith(("fc_norm.", "head."))]
    report = load_checkpoint(model, path, prefix=None, ignore_missing=fresh, log=None,
                             remap=lambda state: cmae_encoder_state(state, model.global_pool))
    print(f"{type(model).__name__}: {report.summary()}")
