"""Flow-guided feature propagation of E2FGVI (from BasicVSR++, Chan et al., CVPR 2022), as in
``model/modules/feat_prop.py`` of MCG-NKU/E2FGVI (commit 709cbe3): second-order bidirectional
propagation with flow-guided modulated deformable alignment. Keys equal the official ones
(``deform_align.{backward_,forward_}.{weight,bias,conv_offset.*}``, ``backbone.*``, ``fusion.*``).

Field failure guarded here: the official training diverges to NaN after ~300k iterations when
the deformable offsets overflow. Every alignment records the largest offset magnitude of its last
forward (``offset_stats()``, for the training log), and offsets are clamped to a bound beyond
which a tap reads zero anyway (``offset_bound`` pixels past the feature map), so that the clamp
never changes a finite result while an exploding flow cannot feed ever larger values on.
"""
from __future__ import annotations

import jittor as jt
from jittor import nn

from ...ops.conv import Conv2d
from ...ops.deform import ModulatedDeformConv2d, modulated_deform_conv2d
from .flow import flow_warp

__all__ = ["SecondOrderDeformableAlignment", "BidirectionalPropagation", "offset_stats"]


class SecondOrderDeformableAlignment(ModulatedDeformConv2d):
    """Modulated deformable conv whose offsets and mask come from ``conv_offset`` on
    ``[extra_feat, flow_1, flow_2]``: offset ``= max_residue_magnitude * tanh(o) + flow.flip(1)``
    (per deform group: the first half of the groups follows ``flow_1``, the second ``flow_2``),
    mask ``= sigmoid(m)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1, padding=1,
                 dilation=1, groups: int = 1, deform_groups: int = 16, bias: bool = True,
                 max_residue_magnitude: float = 10.0, offset_bound: float | None = 0.0):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         deform_groups, bias)
        self.max_residue_magnitude = max_residue_magnitude
        self.offset_bound = offset_bound
        c = out_channels
        self.conv_offset = nn.Sequential(
            Conv2d(3 * c + 4, c, 3, 1, 1), nn.LeakyReLU(0.1),
            Conv2d(c, c, 3, 1, 1), nn.LeakyReLU(0.1),
            Conv2d(c, c, 3, 1, 1), nn.LeakyReLU(0.1),
            Conv2d(c, 27 * deform_groups, 3, 1, 1))
        self._stats = {}
        self.init_offset()

    def init_offset(self):
        """The official init: the last offset conv starts at zero (offsets = flow, mask = 0.5)."""
        last = self.conv_offset[-1]
        last.weight.assign(jt.zeros_like(last.weight))
        last.bias.assign(jt.zeros_like(last.bias))

    def execute(self, x, extra_feat, flow_1, flow_2):
        out = self.conv_offset(jt.concat([extra_feat, flow_1, flow_2], dim=1))
        third = out.shape[1] // 3
        o12, mask = out[:, :2 * third], out[:, 2 * third:]
        offset = self.max_residue_magnitude * jt.tanh(o12)
        half = offset.shape[1] // 2
        reps = half // 2
        offset_1 = offset[:, :half] + jt.concat([flow_1[:, 1:2], flow_1[:, 0:1]] * reps, dim=1)
        offset_2 = offset[:, half:] + jt.concat([flow_2[:, 1:2], flow_2[:, 0:1]] * reps, dim=1)
        offset = jt.concat([offset_1, offset_2], dim=1)
        self._stats = {"offset_abs_max": offset.abs().max().stop_grad()}
        if self.offset_bound is not None:
            h, w = x.shape[2], x.shape[3]
            kh, kw = self.kernel_size
            # beyond this a tap lies outside the padded map and reads 0 (no gradient either)
            bound = float(max(h, w) + max(kh, kw) * max(self.dilation) + max(self.padding) + 1 + self.offset_bound)
            offset = offset.clamp(-bound, bound)
        return modulated_deform_conv2d(x, offset, jt.sigmoid(mask), self.weight, self.bias, self.stride,
                                       self.padding, self.dilation, self.groups, self.deform_groups)

    def offset_stats(self) -> dict:
        """``{"offset_abs_max": Var}`` of the last forward (empty before the first)."""
        return dict(self._stats)


class _Branches(nn.Module):
    """Holds one module per direction under the official names ``backward_`` and ``forward_``."""

    def __init__(self, backward_: nn.Module, forward_: nn.Module):
        super().__init__()
        self.backward_ = backward_
        self.forward_ = forward_

    def __getitem__(self, name: str) -> nn.Module:
        return getattr(self, name)


class BidirectionalPropagation(nn.Module):
    """``execute(x [b, t, c, h, w], flows_backward, flows_forward [b, t-1, 2, h, w])``; note that
    E2FGVI calls it with (forward flows, backward flows) in that order, as the official code."""

    def __init__(self, channel: int, offset_bound: float | None = 0.0):
        super().__init__()
        self.channel = channel
        align = [SecondOrderDeformableAlignment(2 * channel, channel, 3, padding=1, deform_groups=16,
                                                offset_bound=offset_bound) for _ in range(2)]
        self.deform_align = _Branches(*align)
        backbone = [nn.Sequential(Conv2d((2 + i) * channel, channel, 3, 1, 1), nn.LeakyReLU(0.1),
                                  Conv2d(channel, channel, 3, 1, 1)) for i in range(2)]
        self.backbone = _Branches(*backbone)
        self.fusion = Conv2d(2 * channel, channel, 1, 1, 0)

    def execute(self, x, flows_backward, flows_forward):
        b, t, c, h, w = x.shape
        spatial = [x[:, i] for i in range(t)]
        feats = {}
        for name in ("backward_", "forward_"):
            feats[name] = []
            frame_idx = list(range(t))
            flow_idx = list(range(-1, t - 1))
            if name == "backward_":
                frame_idx = frame_idx[::-1]
                flows = flows_backward
            else:
                flows = flows_forward
            feat_prop = jt.zeros((b, self.channel, h, w), x.dtype)
            for i, idx in enumerate(frame_idx):
                feat_current = spatial[idx]
                if i > 0:
                    flow_n1 = flows[:, flow_idx[i]]
                    cond_n1 = flow_warp(feat_prop, flow_n1.permute(0, 2, 3, 1))
                    feat_n2 = jt.zeros_like(feat_prop)
                    flow_n2 = jt.zeros_like(flow_n1)
                    cond_n2 = jt.zeros_like(cond_n1)
                    if i > 1:
                        feat_n2 = feats[name][-2]
                        flow_n2 = flows[:, flow_idx[i - 1]]
                        flow_n2 = flow_n1 + flow_warp(flow_n2, flow_n1.permute(0, 2, 3, 1))
                        cond_n2 = flow_warp(feat_n2, flow_n2.permute(0, 2, 3, 1))
                    cond = jt.concat([cond_n1, feat_current, cond_n2], dim=1)
                    feat_prop = jt.concat([feat_prop, feat_n2], dim=1)
                    feat_prop = self.deform_align[name](feat_prop, cond, flow_n1, flow_n2)
                others = [feats[k][idx] for k in feats if k != name]
                feat = jt.concat([feat_current] + others + [feat_prop], dim=1)
                feat_prop = feat_prop + self.backbone[name](feat)
                feats[name].append(feat_prop)
            if name == "backward_":
                feats[name] = feats[name][::-1]
        outputs = [self.fusion(jt.concat([feats["backward_"][i], feats["forward_"][i]], dim=1))
                   for i in range(t)]
        return jt.stack(outputs, dim=1) + x


def offset_stats(model: nn.Module) -> dict:
    """``{module name: largest |offset| of its last forward}`` (floats) over every alignment in
    ``model``: what a training loop logs to see a divergence coming."""
    out = {}
    for name, mod in model.named_modules():
        if isinstance(mod, SecondOrderDeformableAlignment):
            stats = mod.offset_stats()
            if "offset_abs_max" in stats:
                out[name or "deform_align"] = float(stats["offset_abs_max"].item())
    return out
