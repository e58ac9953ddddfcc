"""The official PyTorch models, loaded from their own repositories, for ``bench_models.py``.

Runs only inside a PyTorch interpreter (never imported by the package). The model files are read
from the official repositories at the commits the parity fixtures were made from
(``../shared/parity/*/manifest.json``) and executed unmodified; what they import from timm, mmcv
and mmseg is provided by small stand-ins written here with the same behaviour and parameter
names (as the parity fixtures did: see ``../shared/parity/README.md``):

* timm: ``DropPath``, ``to_2tuple``, ``trunc_normal_``, ``register_model``, ``_cfg``, and timm
  0.3.2's ViT ``PatchEmbed`` / ``Block`` (``Attention`` + ``Mlp``) for MAE;
* mmcv: ``BaseModule``, ``build_norm_layer`` (SyncBN -> BatchNorm2d in one process, GN),
  ``ConvModule`` (conv -> norm -> act, bias only without norm), ``DropPath``, the weight-init helpers;
* mmseg: the registries, ``resize`` (``F.interpolate``) and mmseg 0.x's ``BaseDecodeHead``
  (``Dropout2d`` -> ``conv_seg``; loss: logits resized to the label, ``F.cross_entropy`` with
  ignore index 255 averaged over all pixels, plus the pixel accuracy).

Two run-time adjustments, nothing else: the SegNeXt head draws its NMF bases with
``torch.rand(...).cuda()``, so on CPU the same draw is made without ``.cuda()`` (``NMF2D._build_bases``
is overridden after loading); MAE's ``util/pos_embed.py`` uses ``np.float``, removed in NumPy 1.24,
so the alias is restored to ``float`` in the benchmark's PyTorch process.

Repositories are found under ``--official DIR`` as checkouts (``DIR/<name>``) or bare git
directories (``DIR/<owner>+<name>/repo``, ``DIR/<name>.git``); files are read with ``git show``
at the pinned commit when the folder is a git repository.
"""
from __future__ import annotations

import collections.abc
import contextlib
import functools
import io
import itertools
import subprocess
import sys
import types
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

#: repository -> commit the parity fixtures were made from
REPOS = {
    "Visual-Attention-Network/VAN-Classification": "e19779b53a1b0828b51ecb4412d577541aee83a7",
    "Visual-Attention-Network/SegNeXt": "c87bcaef22ed2ad72ed3decb3727e5f879343516",
    "HVision-NKU/Conv2Former": "94fd1c4d0a8b022f6586f740f42fda7d4d74dec3",
    "facebookresearch/mae": "efb2a8062c206524e35e47d04501ed4f544c0ae8",
}


# ------------------------------------------------------------------------------------------------
# reading the official files

def _repo_dir(root: Path, repo: str) -> Path:
    owner, name = repo.split("/")
    for cand in (root / f"{owner}+{name}" / "repo", root / f"{owner}+{name}", root / name, root / f"{name}.git"):
        if cand.exists():
            return cand
    raise FileNotFoundError(f"official repository {repo} not found under {root} (looked for {owner}+{name}/repo, "
                            f"{name}, {name}.git); clone it there: git clone https://github.com/{repo} {root / name}")


def read_source(root: Path, repo: str, path: str) -> str:
    """Text of ``path`` in ``repo`` at the pinned commit (a plain file when the folder is no git repository)."""
    d = _repo_dir(Path(root), repo)
    git = subprocess.run(["git", f"--git-dir={d}" if (d / "HEAD").exists() else f"--git-dir={d / '.git'}",
                          "show", f"{REPOS[repo]}:{path}"], capture_output=True, text=True)
    if git.returncode == 0:
        return git.stdout
    plain = d / path
    if plain.is_file():
        return plain.read_text()
    raise FileNotFoundError(f"{repo}: cannot read {path} at {REPOS[repo][:8]} from {d}: {git.stderr.strip()}")


def _module(name: str, **attrs) -> types.ModuleType:
    mod = sys.modules.get(name) or types.ModuleType(name)
    mod.__dict__.update(attrs)
    sys.modules[name] = mod
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(_module(parent), child, mod)
    return mod


def _exec(name: str, source: str, package: str | None = None) -> types.ModuleType:
    mod = _module(name)
    if package is not None:
        mod.__package__ = package
    exec(compile(source, f"<official {name}>", "exec"), mod.__dict__)
    return mod


# ------------------------------------------------------------------------------------------------
# stand-ins for timm / mmcv / mmseg

def _ntuple(n):
    def parse(x):
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            return tuple(x)
        return tuple(itertools.repeat(x, n))
    return parse


to_2tuple = _ntuple(2)


def drop_path(x, drop_prob: float = 0.0, training: bool = False):
    if drop_prob == 0.0 or not training:
        return x
    keep = 1 - drop_prob
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class DropPath(nn.Module):
    def __init__(self, drop_prob=None):
        super().__init__()
        self.drop_prob = drop_prob or 0.0

    def forward(self, x):
        return drop_path(x, self.drop_prob, self.training)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    return nn.init.trunc_normal_(tensor, mean, std, a, b)


class _Mlp(nn.Module):  # timm 0.3.2 Mlp
    def __init__(self, in_features, hidden_features=None, out_features=None, act_layer=nn.GELU, drop=0.0):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class _Attention(nn.Module):  # timm 0.3.2 Attention
    def __init__(self, dim, num_heads=8, qkv_bias=False, qk_scale=None, attn_drop=0.0, proj_drop=0.0):
        super().__init__()
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = self.attn_drop(attn.softmax(dim=-1))
        x = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(x))


class _Block(nn.Module):  # timm 0.3.2 Block
    def __init__(self, dim, num_heads, mlp_ratio=4.0, qkv_bias=False, qk_scale=None, drop=0.0, attn_drop=0.0,
                 drop_path=0.0, act_layer=nn.GELU, norm_layer=nn.LayerNorm):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = _Attention(dim, num_heads, qkv_bias, qk_scale, attn_drop, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio), act_layer=act_layer, drop=drop)

    def forward(self, x):
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class _PatchEmbed(nn.Module):  # timm 0.3.2 PatchEmbed
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768):
        super().__init__()
        img_size, patch_size = to_2tuple(img_size), to_2tuple(patch_size)
        self.img_size, self.patch_size = img_size, patch_size
        self.num_patches = (img_size[1] // patch_size[1]) * (img_size[0] // patch_size[0])
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class BaseModule(nn.Module):  # mmcv.runner.BaseModule
    def __init__(self, init_cfg=None):
        super().__init__()
        self.init_cfg = init_cfg

    def init_weights(self):
        pass


def build_norm_layer(cfg, num_features, postfix=""):  # mmcv.cnn.build_norm_layer
    cfg = dict(cfg)
    typ = cfg.pop("type")
    requires_grad = cfg.pop("requires_grad", True)
    if typ in ("BN", "BN2d", "SyncBN"):
        name, layer = "bn", nn.BatchNorm2d(num_features, eps=cfg.get("eps", 1e-5))
    elif typ == "GN":
        name, layer = "gn", nn.GroupNorm(cfg["num_groups"], num_features, eps=cfg.get("eps", 1e-5))
    else:
        raise ValueError(f"norm type {typ!r}: this stand-in of mmcv's build_norm_layer knows BN, BN2d, SyncBN and GN")
    for p in layer.parameters():
        p.requires_grad = requires_grad
    return name + str(postfix), layer


class ConvModule(nn.Module):  # mmcv.cnn.ConvModule (conv -> norm -> act)
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias="auto", conv_cfg=None, norm_cfg=None, act_cfg=dict(type="ReLU"), **kwargs):
        super().__init__()
        with_norm = norm_cfg is not None
        bias = (not with_norm) if bias == "auto" else bias
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias=bias)
        self.norm_name = None
        if with_norm:
            self.norm_name, norm = build_norm_layer(norm_cfg, out_channels)
            self.add_module(self.norm_name, norm)
        self.activate = None if act_cfg is None else {"ReLU": nn.ReLU, "GELU": nn.GELU}[act_cfg["type"]]()

    def forward(self, x):
        x = self.conv(x)
        if self.norm_name:
            x = getattr(self, self.norm_name)(x)
        return self.activate(x) if self.activate is not None else x


def constant_init(module, val, bias=0):
    nn.init.constant_(module.weight, val)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def normal_init(module, mean=0, std=1, bias=0):
    nn.init.normal_(module.weight, mean, std)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def trunc_normal_init(module, mean=0, std=1, a=-2, b=2, bias=0):
    nn.init.trunc_normal_(module.weight, mean, std, a, b)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


class _Registry(dict):
    def register_module(self, name=None, force=False, module=None):
        def deco(cls):
            self[name or cls.__name__] = cls
            return cls
        return deco


def resize(input, size=None, scale_factor=None, mode="nearest", align_corners=None, warning=True):  # mmseg.ops
    return F.interpolate(input, size, scale_factor, mode, align_corners)


class BaseDecodeHead(BaseModule):  # mmseg 0.x decode_head.BaseDecodeHead (what LightHamHead uses)
    def __init__(self, in_channels, channels, *, num_classes, dropout_ratio=0.1, conv_cfg=None, norm_cfg=None,
                 act_cfg=dict(type="ReLU"), in_index=-1, input_transform=None, loss_decode=None, ignore_index=255,
                 sampler=None, align_corners=False, init_cfg=None):
        super().__init__(init_cfg)
        self.in_channels, self.channels, self.num_classes = in_channels, channels, num_classes
        self.dropout_ratio, self.conv_cfg, self.norm_cfg, self.act_cfg = dropout_ratio, conv_cfg, norm_cfg, act_cfg
        self.in_index, self.input_transform = in_index, input_transform
        self.ignore_index, self.align_corners = ignore_index, align_corners
        self.conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else None
        nn.init.normal_(self.conv_seg.weight, 0, 0.01)
        nn.init.constant_(self.conv_seg.bias, 0)

    def _transform_inputs(self, inputs):
        if self.input_transform == "multiple_select":
            return [inputs[i] for i in self.in_index]
        return inputs[self.in_index]

    def cls_seg(self, feat):
        if self.dropout is not None:
            feat = self.dropout(feat)
        return self.conv_seg(feat)

    def losses(self, seg_logit, seg_label):
        seg_logit = resize(seg_logit, size=seg_label.shape[2:], mode="bilinear", align_corners=self.align_corners)
        seg_label = seg_label.squeeze(1)
        loss = F.cross_entropy(seg_logit, seg_label, reduction="none", ignore_index=self.ignore_index).mean()
        pred = seg_logit.argmax(dim=1)
        valid = seg_label != self.ignore_index
        acc = (pred[valid] == seg_label[valid]).float().sum() * 100.0 / valid.sum().clamp(min=1)
        return {"loss_ce": loss, "acc_seg": acc}


def install_stand_ins() -> None:
    """Registers the stand-in modules under the names the official files import."""
    _module("timm", __path__=[])
    _module("timm.models", __path__=[])
    _module("timm.models.layers", DropPath=DropPath, to_2tuple=to_2tuple, trunc_normal_=trunc_normal_)
    _module("timm.models.registry", register_model=lambda fn: fn)
    _module("timm.models.vision_transformer", _cfg=lambda **kw: dict(kw), PatchEmbed=_PatchEmbed, Block=_Block)
    _module("mmcv", __path__=[])
    _module("mmcv.runner", BaseModule=BaseModule)
    _module("mmcv.cnn", __path__=[], build_norm_layer=build_norm_layer, ConvModule=ConvModule)
    _module("mmcv.cnn.bricks", DropPath=DropPath)
    _module("mmcv.cnn.utils", __path__=[])
    _module("mmcv.cnn.utils.weight_init", constant_init=constant_init, normal_init=normal_init,
            trunc_normal_init=trunc_normal_init)
    _module("mmseg", __path__=[])
    _module("mmseg.ops", resize=resize)
    _module("mmseg.models", __path__=[])
    _module("mmseg.models.builder", BACKBONES=_Registry(), HEADS=_Registry())
    _module("mmseg.models.backbones", __path__=[])
    _module("mmseg.models.decode_heads", __path__=[])
    _module("mmseg.models.decode_heads.decode_head", BaseDecodeHead=BaseDecodeHead)


# ------------------------------------------------------------------------------------------------
# the models

class SegNeXt(nn.Module):
    """The official MSCAN + LightHamHead as mmseg's ``EncoderDecoder`` runs them."""

    def __init__(self, backbone, decode_head):
        super().__init__()
        self.backbone, self.decode_head = backbone, decode_head

    def forward_train(self, img, gt):
        return self.decode_head.losses(self.decode_head(self.backbone(img)), gt.unsqueeze(1))

    def encode_decode(self, img):
        logits = self.decode_head(self.backbone(img))
        return resize(logits, size=img.shape[2:], mode="bilinear", align_corners=self.decode_head.align_corners)


def build(name: str, root: Path, num_classes: int, drop_path_rate: float = 0.0, img_size: int = 224):
    """The official model ``name`` (``van_b0``, ``conv2former_n``, ``segnext_t``, ``mae_vit_{small,base}_patch16``;
    MAE with ``norm_pix_loss=True``, its pre-training recipe)."""
    install_stand_ins()
    if name.startswith("van_"):
        mod = _exec("official_van", read_source(root, "Visual-Attention-Network/VAN-Classification", "models/van.py"))
        return getattr(mod, name)(num_classes=num_classes, drop_path_rate=drop_path_rate)
    if name.startswith("conv2former_"):
        mod = _exec("official_conv2former", read_source(root, "HVision-NKU/Conv2Former", "models/conv2former.py"))
        return getattr(mod, name)(num_classes=num_classes, drop_path_rate=drop_path_rate)
    if name == "segnext_t":
        repo = "Visual-Attention-Network/SegNeXt"
        mscan = _exec("mmseg.models.backbones.mscan", read_source(root, repo, "mmseg/models/backbones/mscan.py"))
        ham = _exec("mmseg.models.decode_heads.ham_head", read_source(root, repo, "mmseg/models/decode_heads/ham_head.py"),
                    package="mmseg.models.decode_heads")
        ham.NMF2D._build_bases = _cpu_bases  # the official draw calls .cuda()
        backbone = mscan.MSCAN(embed_dims=[32, 64, 160, 256], mlp_ratios=[8, 8, 4, 4], depths=[3, 3, 5, 2],
                               drop_path_rate=drop_path_rate, norm_cfg=dict(type="SyncBN", requires_grad=True))
        gn = dict(type="GN", num_groups=32, requires_grad=True)
        with contextlib.redirect_stdout(io.StringIO()):  # the official code prints its settings
            backbone.init_weights()
            head = ham.LightHamHead(in_channels=[64, 160, 256], in_index=[1, 2, 3], channels=256, ham_channels=256,
                                    dropout_ratio=0.1, num_classes=num_classes, norm_cfg=gn, align_corners=False,
                                    ham_kwargs=dict(MD_S=1, MD_R=16, TRAIN_STEPS=6, EVAL_STEPS=7, INV_T=100,
                                                    RAND_INIT=True))
        return SegNeXt(backbone, head)
    if name.startswith("mae_vit_"):
        repo = "facebookresearch/mae"
        import numpy as np
        if "float" not in np.__dict__:
            np.float = float  # removed in NumPy 1.24; util/pos_embed.py still uses it
        _module("util", __path__=[])
        _exec("util.pos_embed", read_source(root, repo, "util/pos_embed.py"))
        mod = _exec("official_mae", read_source(root, repo, "models_mae.py"))
        if name == "mae_vit_small_patch16":  # no official factory: the class with our ViT-S/16 sizes
            return mod.MaskedAutoencoderViT(
                img_size=img_size, patch_size=16, embed_dim=384, depth=12, num_heads=6, decoder_embed_dim=256,
                decoder_depth=4, decoder_num_heads=8, mlp_ratio=4, norm_layer=functools.partial(nn.LayerNorm, eps=1e-6),
                norm_pix_loss=True)
        factory = {"mae_vit_base_patch16": "mae_vit_base_patch16_dec512d8b",
                   "mae_vit_large_patch16": "mae_vit_large_patch16_dec512d8b"}.get(name, name)
        return getattr(mod, factory)(img_size=img_size, norm_pix_loss=True)
    raise KeyError(f"no official builder for {name!r}")


def _cpu_bases(self, B, S, D, R, cuda=False):
    return F.normalize(torch.rand((B * S, D, R)), dim=1)


__all__ = ["build", "read_source", "install_stand_ins", "REPOS"]
