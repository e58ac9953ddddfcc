"""E2FGVI: "Towards An End-to-End Framework for Flow-Guided Video Inpainting", Li, Lu, Qin, Guo,
Cheng, CVPR 2022 (arXiv:2204.02663). Official code matched: MCG-NKU/E2FGVI (commit 709cbe3),
``model/e2fgvi.py`` and ``model/e2fgvi_hq.py``. Keys equal the official ones, so
``E2FGVI-CVPR22.pth`` / ``E2FGVI-HQ-CVPR22.pth`` load with no remapping (checked against the
full-size manifests in ``../shared/parity/e2fgvi``).

``InpaintGenerator(masked_frames [b, t, 3, h, w] in [-1, 1], num_local_frames)`` returns
``(frames [b*t, 3, h, w] in [-1, 1], (flows_forward, flows_backward) [b, l-1, 2, h/4, w/4])``:
SPyNet flows of the local frames at 1/4 scale, the encoder (to 128 channels at 1/4), the
second-order flow-guided deformable propagation over the local frames, soft split, 8 temporal focal
transformer blocks, soft composition (a residual), and the decoder. ``hq=True`` is E2FGVI-HQ
(fold sizes at run time, ``sc.bias_conv``); E2FGVI's learned ``sc.bias`` fixes frames to 432x240.

The T-PatchGAN ``Discriminator`` (training only) has five spectral-normalised Conv3d layers
(keys ``weight_orig`` / ``weight_u`` / ``weight_v`` as PyTorch's ``spectral_norm``) and a plain one.
"""
from __future__ import annotations

import numpy as np

import jittor as jt
from jittor import nn

from ...ops.conv import Conv2d
from ...ops.conv3d import Conv3d, conv3d
from ..layers import count_parameters  # noqa: F401  (re-exported for the variants' docs)
from .flow import SPyNet, resize_bilinear
from .propagation import BidirectionalPropagation, SecondOrderDeformableAlignment, offset_stats
from .transformer import SoftComp, SoftSplit, TemporalFocalTransformerBlock

__all__ = ["Encoder", "Deconv", "InpaintGenerator", "SpectralNormConv3d", "Discriminator",
           "offset_stats", "init_weights_normal", "init_weights_kaiming"]


# ------------------------------------------------------------------------------------------------
# Encoder and decoder
# ------------------------------------------------------------------------------------------------
class Encoder(nn.Module):
    """Conv3x3 + LeakyReLU(0.2) to 1/4 scale; the last four convs are grouped and see the
    256-channel features of layer 8 concatenated group-wise (keys ``layers.{0,2,..,16}``).

    ``channel`` (the output width, official 128) scales every width by ``channel / 128``: a
    narrower encoder for demos and tests; 128 is the official layout."""

    group = (1, 2, 4, 8, 1)
    #: (in, out, stride, groups) of the official encoder, in units of channel / 128.
    OFFICIAL = ((3, 64, 2, 1), (64, 64, 1, 1), (64, 128, 2, 1), (128, 256, 1, 1), (256, 384, 1, 1),
                (640, 512, 1, 2), (768, 384, 1, 4), (640, 256, 1, 8), (512, 128, 1, 1))

    def __init__(self, channel: int = 128):
        super().__init__()
        if channel % 16 or channel < 16:
            raise ValueError(f"Encoder: channel={channel} must be a multiple of 16 (the grouped convs split "
                             "the widths into 8 groups)")
        layers = []
        for cin, cout, stride, groups in self.OFFICIAL:
            cin = cin if cin == 3 else cin * channel // 128
            layers += [Conv2d(cin, cout * channel // 128, 3, stride, 1, groups=groups), nn.LeakyReLU(0.2)]
        self.layers = nn.Sequential(*layers)

    def execute(self, x):
        bt = x.shape[0]
        out = x
        x0 = None
        for i in range(len(self.layers)):
            if i == 8:
                x0 = out
            if i > 8 and i % 2 == 0:
                g = self.group[(i - 8) // 2]
                h, w = x0.shape[2], x0.shape[3]
                xg = x0.reshape([bt, g, -1, h, w])
                og = out.reshape([bt, g, -1, h, w])
                out = jt.concat([xg, og], dim=2).reshape([bt, -1, h, w])
            out = self.layers[i](out)
        return out


class Deconv(nn.Module):
    """Bilinear x2 upsampling (align_corners=True) then a conv (key ``conv``)."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, padding: int = 1):
        super().__init__()
        self.conv = Conv2d(cin, cout, kernel_size, 1, padding)

    def execute(self, x):
        x = resize_bilinear(x, (x.shape[2] * 2, x.shape[3] * 2), align_corners=True)
        return self.conv(x)


# ------------------------------------------------------------------------------------------------
# Generator
# ------------------------------------------------------------------------------------------------
def _init_conv_weights(module: nn.Module, std_of) -> None:
    """Every Conv / Linear weight (``weight_orig`` under spectral norm) N(0, ``std_of(weight)``), bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear, SpectralNormConv3d)) or type(m).__name__.endswith("Conv2d"):
            w = getattr(m, "weight_orig", None)
            w = w if w is not None else getattr(m, "weight", None)
            if w is not None:
                w.assign(jt.init.gauss(w.shape, "float32", 0.0, std_of(w)))
            b = getattr(m, "bias", None)
            if isinstance(b, jt.Var):
                b.assign(jt.zeros_like(b))


def init_weights_normal(module: nn.Module, gain: float = 0.02) -> None:
    """The official ``init_weights('normal', 0.02)``: every Conv / Linear weight N(0, gain), bias 0."""
    _init_conv_weights(module, lambda w: gain)


def init_weights_kaiming(module: nn.Module, negative_slope: float = 0.2) -> None:
    """He-normal init (fan-in, LeakyReLU ``negative_slope``) of every Conv / Linear weight, bias 0.

    Not the official recipe: N(0, 0.02) suits the official widths (fan-in 576-2304, so a layer keeps
    roughly its input's scale), but in a narrow generator (``channel=16``: fan-in 27-288) each layer
    shrinks the signal several times: measured on a synthetic clip, the encoder's features have a
    std of 2e-5 and the output before the tanh 1e-8, a constant grey that Adam moves only slowly
    (hole PSNR 15 dB after 300 iterations of the demo). He-normal keeps the features at ~0.5."""
    _init_conv_weights(module, lambda w: float(np.sqrt(2.0 / ((1 + negative_slope ** 2) * np.prod(w.shape[1:])))))


class InpaintGenerator(nn.Module):
    """E2FGVI's generator (``hq=False``) or E2FGVI-HQ's (``hq=True``).

    Args:
        hq: the HQ variant (any frame size whose 1/4 features give a token grid divisible by the
            5x9 attention windows; ``jvision.video`` pads frames to multiples of 60x108 for it).
        spynet_pretrained: a local SPyNet weights file (None: random init, with a warning unless
            ``warn_spynet=False``: loading a full E2FGVI checkpoint supplies SPyNet's weights).
        channel, hidden, depth, num_heads: the official widths (128 features, 512 tokens, 8 blocks,
            4 heads); smaller values make a small model for demos and tests (``channel`` scales the
            encoder and decoder widths by ``channel / 128``; a multiple of 16).
        offset_bound: see :mod:`.propagation` (None turns the offset clamp off).
        init_weights: ``True`` / ``"normal"``: the official N(0, 0.02) init with zero last offset
            convs; ``"kaiming"``: He-normal for the encoder, propagation and decoder convs (for
            narrow generators, see :func:`init_weights_kaiming`), the rest as the official init;
            ``False``: Jittor's default.
        pretrained: a weights file loaded strictly after the initialisation (an official
            ``E2FGVI-CVPR22.pth``, or a checkpoint of ours: the ``generator.`` keys of a
            ``VideoInpainter`` / ``InpaintingWarmup`` run are picked out).
    """

    def __init__(self, hq: bool = False, spynet_pretrained: str | None = None, warn_spynet: bool = True,
                 channel: int = 128, hidden: int = 512, depth: int = 8, num_heads: int = 4,
                 window_size=(5, 9), focal_window=(5, 9), focal_level: int = 2,
                 kernel_size=(7, 7), stride=(3, 3), padding=(3, 3), output_size=(60, 108),
                 offset_bound: float | None = 0.0, init_weights: bool | str = True,
                 pretrained: str | None = None):
        super().__init__()
        self.hq = hq
        self.kernel_size, self.stride, self.padding = tuple(kernel_size), tuple(stride), tuple(padding)
        self.encoder = Encoder(channel)
        c2 = channel // 2  # the decoder's 64-channel layers of the official 128
        self.decoder = nn.Sequential(
            Deconv(channel, channel, 3, 1), nn.LeakyReLU(0.2),
            Conv2d(channel, c2, 3, 1, 1), nn.LeakyReLU(0.2),
            Deconv(c2, c2, 3, 1), nn.LeakyReLU(0.2),
            Conv2d(c2, 3, 3, 1, 1))
        self.feat_prop_module = BidirectionalPropagation(channel, offset_bound=offset_bound)
        self.ss = SoftSplit(channel, hidden, kernel_size, stride, padding)
        self.sc = SoftComp(channel, hidden, kernel_size, stride, padding,
                           output_size=None if hq else tuple(output_size), hq=hq)
        t2t = dict(kernel_size=self.kernel_size, stride=self.stride, padding=self.padding)
        self.transformer = nn.Sequential(*[
            TemporalFocalTransformerBlock(hidden, num_heads, window_size, 4.0, True, "fc", focal_level,
                                          focal_window, t2t) for _ in range(depth)])
        if init_weights not in (True, False, "normal", "kaiming"):
            raise ValueError(f"InpaintGenerator: init_weights={init_weights!r} must be True / 'normal' (official), "
                             "'kaiming' or False")
        if init_weights:
            init_weights_normal(self)
            if init_weights == "kaiming":
                # the convolutional path only: the transformer's residual branch keeps N(0, 0.02), so
                # it starts near zero instead of swamping the features (8x their scale measured), and
                # so does the output conv, so the tanh starts unsaturated (pre-tanh std 1.1 otherwise)
                for part in (self.encoder, self.feat_prop_module, *self.decoder[:-1]):
                    init_weights_kaiming(part)
            for m in self.modules():
                if isinstance(m, SecondOrderDeformableAlignment):
                    m.init_offset()
        self.update_spynet = SPyNet(spynet_pretrained, warn=warn_spynet and not pretrained)
        if pretrained:
            from ...convert import load_checkpoint
            load_checkpoint(self, pretrained, strict=True)

    def forward_bidirect_flow(self, masked_local_frames):
        """Forward and backward SPyNet flows between consecutive local frames ([0, 1]) at 1/4."""
        b, l_t, c, h, w = masked_local_frames.shape
        small = resize_bilinear(masked_local_frames.reshape([-1, c, h, w]), (h // 4, w // 4), align_corners=True)
        small = small.reshape([b, l_t, c, h // 4, w // 4])
        f1 = small[:, :-1].reshape([-1, c, h // 4, w // 4])
        f2 = small[:, 1:].reshape([-1, c, h // 4, w // 4])
        fwd = self.update_spynet(f1, f2).reshape([b, l_t - 1, 2, h // 4, w // 4])
        bwd = self.update_spynet(f2, f1).reshape([b, l_t - 1, 2, h // 4, w // 4])
        return fwd, bwd

    def execute(self, masked_frames, num_local_frames: int):
        l_t = int(num_local_frames)
        b, t, ori_c, ori_h, ori_w = masked_frames.shape
        if ori_h % 4 or ori_w % 4 or l_t < 2 or l_t > t:
            raise ValueError(f"InpaintGenerator: frames must be [b, t, 3, h, w] with h, w multiples of 4 and "
                             f"2 <= num_local_frames <= t; got {list(masked_frames.shape)}, num_local_frames={l_t}")
        pred_flows = self.forward_bidirect_flow((masked_frames[:, :l_t] + 1) / 2)
        enc_feat = self.encoder(masked_frames.reshape([b * t, ori_c, ori_h, ori_w]))
        _, c, h, w = enc_feat.shape
        feats = enc_feat.reshape([b, t, c, h, w])
        local_feat = self.feat_prop_module(feats[:, :l_t], pred_flows[0], pred_flows[1])
        enc_feat = jt.concat([local_feat, feats[:, l_t:]], dim=1) if l_t < t else local_feat
        size = (h, w)
        trans = self.ss(enc_feat.reshape([-1, c, h, w]), b, size)
        for i in range(len(self.transformer)):
            trans = self.transformer[i](trans, size)
        trans = self.sc(trans, t, size).reshape([b, t, -1, h, w])
        enc_feat = enc_feat + trans
        output = self.decoder(enc_feat.reshape([b * t, c, h, w]))
        return jt.tanh(output), pred_flows

    def offset_stats(self) -> dict:
        """Largest |offset| of each deformable alignment in the last forward (for the training log)."""
        return offset_stats(self)


# ------------------------------------------------------------------------------------------------
# Discriminator (T-PatchGAN) with spectral normalisation
# ------------------------------------------------------------------------------------------------
def _l2_normalize(v, eps: float = 1e-12):
    return v / jt.maximum(jt.sqrt((v * v).sum()), jt.array(np.float32(eps)))


class SpectralNormConv3d(nn.Module):
    """Conv3d with spectral normalisation as PyTorch's ``spectral_norm`` (name ``weight``, dim 0,
    one power iteration, eps 1e-12): parameter ``weight_orig``, buffers ``weight_u`` [out] and
    ``weight_v`` [in*kt*kh*kw]. In training each forward runs one power iteration (updating u and v,
    no gradient through them) and divides the weight by ``sigma = u . (W v)``; in eval mode the
    stored u and v are used as they are."""

    def __init__(self, cin: int, cout: int, kernel_size, stride, padding, bias: bool = False, eps: float = 1e-12):
        super().__init__()
        ks = tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) else (kernel_size,) * 3
        self.stride, self.padding, self.eps = stride, padding, eps
        fan_in = cin * ks[0] * ks[1] * ks[2]
        bound = 1.0 / np.sqrt(fan_in)
        self.weight_orig = jt.init.uniform((cout, cin, *ks), "float32", -bound, bound)
        self.bias = jt.init.uniform((cout,), "float32", -bound, bound) if bias else None
        # NumPy's global generator, which the trainer seeds before building: a run's initial u and v
        # (and so its whole trajectory) follow train.seed
        u = np.random.standard_normal(cout).astype(np.float32)
        v = np.random.standard_normal(fan_in).astype(np.float32)
        self.register_buffer("weight_u", jt.array(u / max(np.linalg.norm(u), eps)))
        self.register_buffer("weight_v", jt.array(v / max(np.linalg.norm(v), eps)))
        self.weight_u.stop_grad()
        self.weight_v.stop_grad()

    def power_iteration(self) -> None:
        """One step: v = normalize(W^T u), u = normalize(W v) (in place, no gradient)."""
        with jt.no_grad():
            wm = self.weight_orig.reshape([self.weight_orig.shape[0], -1]).stop_grad()
            v = _l2_normalize(jt.matmul(wm.transpose(), self.weight_u), self.eps)
            u = _l2_normalize(jt.matmul(wm, v), self.eps)
            self.weight_v.update(v.detach())
            self.weight_u.update(u.detach())

    def weight(self):
        """The normalised weight ``weight_orig / sigma``."""
        wm = self.weight_orig.reshape([self.weight_orig.shape[0], -1])
        sigma = (self.weight_u.detach() * jt.matmul(wm, self.weight_v.detach())).sum()
        return self.weight_orig / sigma

    def execute(self, x):
        if self.is_training():
            self.power_iteration()
        return conv3d(x, self.weight(), self.bias, self.stride, self.padding)


class Discriminator(nn.Module):
    """T-PatchGAN: Conv3d k(3,5,5) s(1,2,2), nf=32: 3 -> 32 -> 64 -> 128 -> 128 -> 128 -> 128, LeakyReLU
    0.2 between; input and output [B, T, C, H, W]; no sigmoid under the hinge loss."""

    def __init__(self, in_channels: int = 3, use_sigmoid: bool = False, use_spectral_norm: bool = True,
                 init_weights: bool = True, nf: int = 32):
        super().__init__()
        self.use_sigmoid = use_sigmoid
        chans = [in_channels, nf, nf * 2, nf * 4, nf * 4, nf * 4]
        layers = []
        for i in range(5):
            pad = 1 if i == 0 else (1, 2, 2)
            if use_spectral_norm:
                conv = SpectralNormConv3d(chans[i], chans[i + 1], (3, 5, 5), (1, 2, 2), pad, bias=False)
            else:
                conv = Conv3d(chans[i], chans[i + 1], (3, 5, 5), (1, 2, 2), pad, bias=True)
            layers += [conv, nn.LeakyReLU(0.2)]
        layers.append(Conv3d(nf * 4, nf * 4, (3, 5, 5), (1, 2, 2), (1, 2, 2)))
        self.conv = nn.Sequential(*layers)
        if init_weights:
            init_weights_normal(self)

    def execute(self, xs):
        feat = self.conv(xs.permute(0, 2, 1, 3, 4))
        if self.use_sigmoid:
            feat = jt.sigmoid(feat)
        return feat.permute(0, 2, 1, 3, 4)
