"""Parity adapters of the ``e2fgvi`` fixtures (``../shared/parity/e2fgvi``), registered on import
(``tools/compare.py`` imports this module).

* ``feat_prop_tiny``: ``BidirectionalPropagation(channel)`` on ``input`` / ``flows_backward`` /
  ``flows_forward`` -> ``output``; plus the isolated ``sda_*`` (one alignment module), ``dcn_*``
  (the bare op) and ``warp_*`` (flow_warp, zeros and border padding) tests.
* ``transformer_tiny``: SoftSplit -> temporal focal transformer blocks -> SoftComp (``ss_out``,
  ``block_0``, ``output = input + SoftComp(...)``).
* full-size manifests: ``e2fgvi_InpaintGenerator``, ``e2fgvi_hq_InpaintGenerator`` and
  ``e2fgvi_Discriminator``, by their names.
"""
from __future__ import annotations

import jittor as jt
from jittor import nn

from ...convert.fixtures import Adapter, register_adapter
from ...ops.deform import modulated_deform_conv2d
from .flow import flow_warp
from .model import Discriminator, InpaintGenerator
from .propagation import BidirectionalPropagation
from .transformer import SoftComp, SoftSplit, TemporalFocalTransformerBlock

#: Official buffers (not parameters) of the E2FGVI state dicts.
BUFFERS = ("*.valid_ind_rolled", "*.mean", "*.std", "*.weight_u", "*.weight_v", "valid_ind_rolled",
           "mean", "std")


class TransformerSection(nn.Module):
    """The SoftSplit -> blocks -> SoftComp section with the generator's attribute names."""

    def __init__(self, channel, hidden, kernel_size, stride, padding, output_size, depth, num_heads, window_size,
                 focal_window, focal_level, hq=False):
        super().__init__()
        self.output_size = tuple(output_size)
        self.ss = SoftSplit(channel, hidden, kernel_size, stride, padding)
        self.sc = SoftComp(channel, hidden, kernel_size, stride, padding,
                           output_size=None if hq else self.output_size, hq=hq)
        t2t = dict(kernel_size=kernel_size, stride=stride, padding=padding)
        self.transformer = nn.Sequential(*[
            TemporalFocalTransformerBlock(hidden, num_heads, window_size, 4.0, True, "fc", focal_level,
                                          focal_window, t2t) for _ in range(depth)])

    def execute(self, feats):
        b, t, c, h, w = feats.shape
        size = (h, w)
        out = {"ss_out": self.ss(feats.reshape([-1, c, h, w]), b, size)}
        x = out["ss_out"]
        for i in range(len(self.transformer)):
            x = self.transformer[i](x, size)
            out[f"block_{i}"] = x
        out["output"] = feats + self.sc(x, t, size).reshape([b, t, c, h, w])
        return out


def _feat_prop_tiny(kwargs: dict, manifest: dict):
    return BidirectionalPropagation(int(kwargs["channel"]), offset_bound=0.0)


def _feat_prop_run(model, io: dict, upstream: dict, manifest: dict) -> dict:
    a = {k: jt.array(v) for k, v in io.items()}
    out = {"output": model(a["input"], a["flows_backward"], a["flows_forward"])}
    out["sda_out"] = model.deform_align.backward_(a["sda_x"], a["sda_extra_feat"], a["sda_flow_1"], a["sda_flow_2"])
    out["dcn_output"] = modulated_deform_conv2d(a["dcn_input"], a["dcn_offset"], a["dcn_mask"], a["dcn_weight"],
                                                a["dcn_bias"], 1, 1, 1, 1, 4)
    out["warp_out_zeros"] = flow_warp(a["warp_x"], a["warp_flow"])
    out["warp_out_border"] = flow_warp(a["warp_x"], a["warp_flow"], padding_mode="border")
    return out


def _transformer_tiny(kwargs: dict, manifest: dict):
    k = dict(kwargs)
    return TransformerSection(k["channel"], k["hidden"], tuple(k["kernel_size"]), tuple(k["stride"]),
                              tuple(k["padding"]), tuple(k["output_size"]), k["depth"], k["num_heads"],
                              tuple(k["window_size"]), tuple(k["focal_window"]), k["focal_level"])


def _transformer_run(model, io: dict, upstream: dict, manifest: dict) -> dict:
    return model(jt.array(io["input"]))


def _build_tiny(kwargs: dict, manifest: dict):
    if manifest["name"].startswith("feat_prop"):
        return _feat_prop_tiny(kwargs, manifest)
    return _transformer_tiny(kwargs, manifest)


def _run(model, io, upstream, manifest):
    if isinstance(model, BidirectionalPropagation):
        return _feat_prop_run(model, io, upstream, manifest)
    return _transformer_run(model, io, upstream, manifest)


def _build_full(manifest: dict):
    name = manifest["name"]
    if name == "e2fgvi_Discriminator":
        kw = manifest.get("constructor_kwargs", {})
        return Discriminator(in_channels=kw.get("in_channels", 3), use_sigmoid=kw.get("use_sigmoid", False),
                             use_spectral_norm=kw.get("use_spectral_norm", True))
    if name in ("e2fgvi_InpaintGenerator", "e2fgvi_hq_InpaintGenerator"):
        return InpaintGenerator(hq=name.startswith("e2fgvi_hq"), warn_spynet=False)
    raise ValueError(f"e2fgvi parity: unknown full-size manifest {name!r}")


ADAPTER = register_adapter(Adapter(
    family="e2fgvi", build_tiny=_build_tiny, build_full=_build_full, run=_run,
    outputs=("output", "sda_out", "dcn_output", "warp_out_*", "ss_out", "block_*"),
    inputs=("flows_backward", "flows_forward", "sda_x", "sda_extra_feat", "sda_flow_1", "sda_flow_2",
            "dcn_input", "dcn_offset", "dcn_mask", "dcn_weight", "dcn_bias", "warp_x", "warp_flow"),
    buffers=BUFFERS), force=True)
