"""CLIP image tower: the Vision Transformer of CLIP, as a frozen teacher or a backbone.

Paper: Alec Radford et al., "Learning Transferable Visual Models From Natural Language
Supervision", ICML 2021 (arXiv:2103.00020).
Official code matched: openai/CLIP ``clip/model.py`` ``VisionTransformer`` (``CLIP.visual``, commit
d05afc4). Keys equal the official ones without the ``visual.`` prefix: ``conv1`` (no bias),
``class_embedding``, ``positional_embedding``, ``ln_pre``, ``transformer.resblocks.{i}.{ln_1,
attn.in_proj_weight, attn.in_proj_bias, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj}``, ``ln_post``,
``proj`` (a bare (width, output_dim) matrix used as ``x @ proj``). LayerNorm eps 1e-5, QuickGELU
(``x * sigmoid(1.702 x)``), multi-head attention with one stacked q/k/v projection.

Forward: patches by ``conv1``, class token (``class_embedding``) first, ``positional_embedding`` added
to every token, ``ln_pre``, the residual blocks, ``ln_post`` of the class token, ``@ proj``.
Only square inputs of exactly ``input_resolution`` are valid (the position table is fixed).

Checkpoints (``clip_visual_state``, also the model's ``official_remap``): OpenAI's released ``.pt``
files (TorchScript archives, read by ``jvision.convert`` without torch), open_clip's state dicts
(same names as OpenAI, ``visual.`` prefix, possibly under ``state_dict`` with ``module.``) and Hugging
Face ``CLIPModel`` / ``CLIPVisionModel(WithProjection)`` files (``vision_model.*``,
``visual_projection``: q/k/v are stacked, the projection transposed). The text tower's keys are
dropped. ResNet CLIPs and open_clip's timm-trunk towers are not this architecture and are refused.
"""
from __future__ import annotations

import re

import numpy as np
import jittor as jt
from jittor import nn

from ..registry import MODELS
from ..ops.conv import Conv2d
from ..ops.dense import linear
from ..ops.sdpa import packed_self_attention
from .layers import LayerNorm, Linear

__all__ = ["QuickGELU", "ResidualAttentionBlock", "CLIPVisionTransformer", "clip_visual_state",
           "CLIP_MEAN", "CLIP_STD", "DEFAULT_CFGS"]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


# ------------------------------------------------------------------------------------------------
# Blocks
# ------------------------------------------------------------------------------------------------
class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 * x)``, the activation CLIP was trained with (not the exact GELU)."""

    def execute(self, x):
        return x * jt.sigmoid(1.702 * x)


class MultiheadAttention(nn.Module):
    """Self-attention with ``torch.nn.MultiheadAttention``'s keys: ``in_proj_weight`` (3D, D) holding
    [q; k; v], ``in_proj_bias`` and ``out_proj``. Tokens are (B, N, D)."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} is not divisible by heads {num_heads}")
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        bound = float(np.sqrt(6.0 / (dim + 3 * dim)))                 # torch's xavier_uniform_
        self.in_proj_weight = jt.init.uniform((3 * dim, dim), "float32", -bound, bound)
        self.in_proj_bias = jt.zeros(3 * dim)
        self.out_proj = Linear(dim, dim)

    def execute(self, x):
        qkv = linear(x, self.in_proj_weight, self.in_proj_bias)
        return self.out_proj(packed_self_attention(qkv, self.num_heads, self.scale))


class CLIPMlp(nn.Module):
    """``c_fc`` -> QuickGELU -> ``c_proj`` (the keys of CLIP's ``nn.Sequential(OrderedDict)``)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.c_fc = Linear(dim, hidden)
        self.gelu = QuickGELU()
        self.c_proj = Linear(hidden, dim)

    def execute(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class ResidualAttentionBlock(nn.Module):
    """``x + attn(ln_1(x))``, ``x + mlp(ln_2(x))``."""

    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.attn = MultiheadAttention(width, heads)
        self.ln_1 = LayerNorm(width, eps=1e-5)
        self.mlp = CLIPMlp(width, int(width * mlp_ratio))
        self.ln_2 = LayerNorm(width, eps=1e-5)

    def execute(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """The block stack (key ``resblocks.{i}``)."""

    def __init__(self, width: int, layers: int, heads: int):
        super().__init__()
        self.width, self.layers = width, layers
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads) for _ in range(layers)])

    def execute(self, x):
        for blk in self.resblocks:
            x = blk(x)
        return x


# ------------------------------------------------------------------------------------------------
# Network
# ------------------------------------------------------------------------------------------------
@MODELS.register()
class CLIPVisionTransformer(nn.Module):
    """CLIP's image tower (``CLIP.visual`` of the ViT models).

    Args:
        input_resolution, patch_size, width, layers, heads, output_dim: the official arguments
            (``output_dim=None``: no ``proj``, the model returns the pooled width-dim feature, as a
            Hugging Face ``CLIPVisionModel`` file without projection holds).
        tokens: what ``forward_tokens`` (the MIM teacher's features) returns for the patch tokens:
            ``"projected"`` (``ln_post`` then ``@ proj``, the space CLIP aligns with text; MILAN's
            choice), ``"normed"`` (``ln_post`` only) or ``"raw"`` (the last block's output).
    """

    def __init__(self, input_resolution: int = 224, patch_size: int = 16, width: int = 768, layers: int = 12,
                 heads: int = 12, output_dim: int | None = 512, tokens: str = "projected"):
        super().__init__()
        if input_resolution % patch_size:
            raise ValueError(f"input_resolution {input_resolution} is not a multiple of patch_size {patch_size}")
        if tokens not in ("projected", "normed", "raw"):
            raise ValueError(f"tokens must be 'projected', 'normed' or 'raw', got {tokens!r}")
        if tokens == "projected" and not output_dim:
            raise ValueError("tokens='projected' needs an output_dim (a proj matrix)")
        self.input_resolution, self.patch_size, self.width = input_resolution, patch_size, width
        self.output_dim, self.tokens = output_dim, tokens
        self.grid = input_resolution // patch_size
        self.conv1 = Conv2d(3, width, patch_size, stride=patch_size, bias=False)
        scale = width ** -0.5
        self.class_embedding = jt.randn(width) * scale
        self.positional_embedding = jt.randn((self.grid ** 2 + 1, width)) * scale
        self.ln_pre = LayerNorm(width, eps=1e-5)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = LayerNorm(width, eps=1e-5)
        self.proj = jt.randn((width, output_dim)) * scale if output_dim else None

    @staticmethod
    def official_remap(state: dict) -> dict:
        """OpenAI / open_clip / Hugging Face checkpoint keys -> ours (``clip_visual_state``)."""
        return clip_visual_state(state)

    @property
    def token_grid(self) -> tuple[int, int]:
        return (self.grid, self.grid)

    @property
    def token_dim(self) -> int:
        return self.output_dim if self.tokens == "projected" else self.width

    def embed(self, x):
        """``ln_pre`` of [class token; patches] + positions: (B, 1 + N, width)."""
        if tuple(x.shape[1:]) != (3, self.input_resolution, self.input_resolution):
            raise ValueError(f"CLIP image tower expects (B, 3, {self.input_resolution}, {self.input_resolution}) "
                             f"images, got {tuple(x.shape)}")
        x = self.conv1(x)
        b = x.shape[0]
        x = x.reshape(b, self.width, -1).permute(0, 2, 1)
        cls = self.class_embedding.reshape(1, 1, self.width).broadcast((b, 1, self.width))
        x = jt.concat([cls, x], dim=1) + self.positional_embedding
        return self.ln_pre(x)

    def forward_blocks(self, x):
        """Tokens after every block (class token first): a list of (B, 1 + N, width)."""
        x = self.embed(x)
        outs = []
        for blk in self.transformer.resblocks:
            x = blk(x)
            outs.append(x)
        return outs

    def pool(self, tokens):
        """``ln_post`` of the class token, then ``@ proj``: the image embedding."""
        pooled = self.ln_post(tokens[:, 0, :])
        return jt.matmul(pooled, self.proj) if self.proj is not None else pooled

    def forward_tokens(self, x):
        """Patch-token features (B, N, ``token_dim``), class token dropped (see ``tokens``)."""
        tokens = self.transformer(self.embed(x))[:, 1:, :]
        if self.tokens == "raw":
            return tokens
        tokens = self.ln_post(tokens)
        return jt.matmul(tokens, self.proj) if self.tokens == "projected" else tokens

    def execute(self, x):
        return self.pool(self.transformer(self.embed(x)))

    forward = execute


# ------------------------------------------------------------------------------------------------
# Official checkpoints: OpenAI / open_clip / Hugging Face -> our keys
# ------------------------------------------------------------------------------------------------
_HF_LAYER = re.compile(r"^vision_model\.encoder\.layers\.(\d+)\.(.+)$")
_HF_BLOCK_NAMES = {"layer_norm1": "ln_1", "layer_norm2": "ln_2", "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj",
                   "self_attn.out_proj": "attn.out_proj"}
_HF_TOP = {"vision_model.embeddings.class_embedding": "class_embedding",
           "vision_model.embeddings.patch_embedding.weight": "conv1.weight",
           "vision_model.embeddings.position_embedding.weight": "positional_embedding",
           "vision_model.pre_layrnorm.weight": "ln_pre.weight", "vision_model.pre_layrnorm.bias": "ln_pre.bias",
           "vision_model.post_layernorm.weight": "ln_post.weight",
           "vision_model.post_layernorm.bias": "ln_post.bias"}


def _from_hugging_face(state: dict) -> dict:
    out, qkv = {}, {}
    for key, value in state.items():
        if key in _HF_TOP:
            out[_HF_TOP[key]] = value
        elif key == "visual_projection.weight":
            out["proj"] = np.ascontiguousarray(np.asarray(value).T)     # Linear (out, in) -> x @ proj
        elif (m := _HF_LAYER.match(key)) is not None:
            i, rest = m.groups()
            pm = re.fullmatch(r"self_attn\.([qkv])_proj\.(weight|bias)", rest)
            if pm:
                qkv.setdefault((i, pm.group(2)), {})[pm.group(1)] = value
                continue
            stem, _, leaf = rest.rpartition(".")
            if stem not in _HF_BLOCK_NAMES:
                raise KeyError(f"Hugging Face CLIP key {key!r} has no counterpart in the CLIP image tower")
            out[f"transformer.resblocks.{i}.{_HF_BLOCK_NAMES[stem]}.{leaf}"] = value
        elif key.startswith("vision_model.") and not key.endswith("position_ids"):
            raise KeyError(f"Hugging Face CLIP key {key!r} has no counterpart in the CLIP image tower")
    for (i, kind), parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            raise KeyError(f"Hugging Face CLIP layer {i}: {kind} of q/k/v incomplete ({sorted(parts)})")
        out[f"transformer.resblocks.{i}.attn.in_proj_{kind}"] = np.concatenate(
            [np.asarray(parts[n]) for n in "qkv"], axis=0)
    return out


def clip_visual_state(state: dict) -> dict:
    """Any CLIP checkpoint's state dict -> the keys of ``CLIPVisionTransformer``.

    OpenAI (``.pt`` TorchScript archives or their state dicts) and open_clip: the ``visual.*`` entries
    with the prefix stripped (text-tower entries dropped); Hugging Face: ``vision_model.*`` and
    ``visual_projection`` renamed (module docstring); a state dict already in our layout unchanged.
    """
    keys = list(state)
    if any(k.startswith("vision_model.") for k in keys):
        return _from_hugging_face(state)
    if any(k.startswith("visual.") for k in keys):
        visual = {k[len("visual."):]: v for k, v in state.items() if k.startswith("visual.")}
    else:
        visual = dict(state)
    if any(k.startswith(("layer1.", "attnpool.")) for k in visual):
        raise ValueError("this is a ResNet CLIP (visual.layer1 / visual.attnpool keys); only the ViT "
                         "image towers (clip_vit_b16, clip_vit_l14, ...) are implemented")
    if any(k.startswith("trunk.") for k in visual):
        raise ValueError("this open_clip model has a timm trunk (visual.trunk.*), not CLIP's ViT layout")
    return visual


# ------------------------------------------------------------------------------------------------
# Published variants (OpenAI CLIP; the image tower's parameters, as ../shared/parity/clip counts them)
# ------------------------------------------------------------------------------------------------
_URL = "https://openaipublic.azureedge.net/clip/models"
DEFAULT_CFGS = {
    "clip_vit_b16": dict(input_size=(3, 224, 224), mean=CLIP_MEAN, std=CLIP_STD, interpolation="bicubic",
                         params=86_192_640, url=f"{_URL}/5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f/ViT-B-16.pt"),
    "clip_vit_l14": dict(input_size=(3, 224, 224), mean=CLIP_MEAN, std=CLIP_STD, interpolation="bicubic",
                         params=303_966_208, url=f"{_URL}/b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt"),
}


def _clip(name: str, **kwargs) -> CLIPVisionTransformer:
    model = CLIPVisionTransformer(**kwargs)
    model.default_cfg = dict(DEFAULT_CFGS[name], architecture=name)
    return model


@MODELS.register()
def clip_vit_b16(**kwargs) -> CLIPVisionTransformer:
    return _clip("clip_vit_b16", **{"input_resolution": 224, "patch_size": 16, "width": 768, "layers": 12,
                                    "heads": 12, "output_dim": 512, **kwargs})


@MODELS.register()
def clip_vit_l14(**kwargs) -> CLIPVisionTransformer:
    return _clip("clip_vit_l14", **{"input_resolution": 224, "patch_size": 14, "width": 1024, "layers": 24,
                                    "heads": 16, "output_dim": 768, **kwargs})


# ------------------------------------------------------------------------------------------------
# Parity adapter (../shared/parity/clip), registered on import
# ------------------------------------------------------------------------------------------------
def _clip_tiny(kwargs: dict, manifest: dict) -> CLIPVisionTransformer:
    known = {"input_resolution", "patch_size", "width", "layers", "heads", "output_dim"}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ValueError(f"clip: official constructor argument(s) {unknown} have no counterpart here")
    return CLIPVisionTransformer(**kwargs)


def _clip_full(manifest: dict) -> CLIPVisionTransformer:
    name = re.sub(r"_visual$", "", manifest["name"])
    return MODELS.build({"type": name})


def _clip_run(model: CLIPVisionTransformer, io: dict, upstream: dict, manifest: dict) -> dict:
    x = jt.array(io["input"])
    outs = model.forward_blocks(x)
    result = {"ln_pre_out": model.embed(x), "tokens": outs[-1], "pooled": model.ln_post(outs[-1][:, 0, :]),
              "embedding": model.pool(outs[-1])}
    result.update({f"block_{i}": o for i, o in enumerate(outs[:-1])})
    return result


def _register_parity_adapter() -> None:
    from ..convert.fixtures import Adapter, get_adapter, register_adapter
    if get_adapter("clip") is None:
        register_adapter(Adapter("clip", _clip_tiny, _clip_full, _clip_run,
                                 outputs=("ln_pre_out", "block_*", "tokens", "pooled", "embedding")))


_register_parity_adapter()
