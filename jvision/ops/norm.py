"""Channels-first LayerNorm (normalise over C of an NCHW tensor), as Conv2Former and ConvNeXt use."""
import jittor as jt
from jittor import nn


class LayerNorm2d(nn.Module):
    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = jt.ones(channels)
        self.bias = jt.zeros(channels)
        self.eps = eps

    def execute(self, x):
        mean = x.mean(dim=1, keepdims=True)
        var = ((x - mean) ** 2).mean(dim=1, keepdims=True)
        x = (x - mean) / jt.sqrt(var + self.eps)
        return x * self.weight.reshape(1, -1, 1, 1) + self.bias.reshape(1, -1, 1, 1)
