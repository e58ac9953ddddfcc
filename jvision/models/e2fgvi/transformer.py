"""Content hallucination of E2FGVI: soft split / soft composition (FuseFormer's T2T) and the
temporal focal transformer block with the F3N feed-forward, as in
``model/modules/tfocal_transformer.py`` and ``tfocal_transformer_hq.py`` of MCG-NKU/E2FGVI
(commit 709cbe3). Keys equal the official ones (``ss.embedding``, ``sc.embedding``, ``sc.bias`` or
``sc.bias_conv`` for HQ, ``transformer.{i}.{norm1,attn.qkv,attn.proj,attn.valid_ind_rolled,norm2,
mlp.conv1.0,mlp.conv2.1,pool_layers.0}``).

Fold sizes are taken at run time for both variants (the official E2FGVI fixes them to 60x108;
for that size the two are the same computation); E2FGVI's ``sc.bias`` then pins the feature
size, which is checked with a clear error.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

import jittor as jt
from jittor import nn

from ...ops import Linear
from ...ops.sdpa import scaled_dot_product_attention

__all__ = ["SoftSplit", "SoftComp", "FusionFeedForward", "WindowAttention",
           "TemporalFocalTransformerBlock", "token_grid"]


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def token_grid(size, kernel_size, stride, padding) -> tuple[int, int]:
    """Token grid (f_h, f_w) of an unfold over a feature map of ``size``."""
    return tuple(int((size[i] + 2 * padding[i] - (kernel_size[i] - 1) - 1) / stride[i] + 1) for i in range(2))


@lru_cache(maxsize=32)
def _overlap_count(size, kernel_size, stride, padding) -> np.ndarray:
    """How many unfold windows cover each pixel: ``fold(ones)`` of the official F3N, [1, 1, h, w]."""
    h, w = size
    cnt = np.zeros((h + 2 * padding[0], w + 2 * padding[1]), np.float32)
    fh, fw = token_grid(size, kernel_size, stride, padding)
    for i in range(fh):
        for j in range(fw):
            cnt[i * stride[0]:i * stride[0] + kernel_size[0], j * stride[1]:j * stride[1] + kernel_size[1]] += 1
    return cnt[padding[0]:padding[0] + h, padding[1]:padding[1] + w][None, None].copy()


class SoftSplit(nn.Module):
    """Overlapping patches (unfold kxk, stride, padding) embedded by ``embedding`` (Linear)."""

    def __init__(self, channel: int, hidden: int, kernel_size, stride, padding):
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), _pair(padding)
        self.embedding = Linear(self.kernel_size[0] * self.kernel_size[1] * channel, hidden)

    def execute(self, x, b: int, output_size):
        """``x`` [b*t, c, h, w] -> [b, t, f_h, f_w, hidden]."""
        f_h, f_w = token_grid(output_size, self.kernel_size, self.stride, self.padding)
        feat = nn.unfold(x, self.kernel_size, 1, self.padding, self.stride).permute(0, 2, 1)
        feat = self.embedding(feat)
        return feat.reshape([b, -1, f_h, f_w, feat.shape[2]])


class SoftComp(nn.Module):
    """Tokens back to a feature map: ``embedding`` (Linear), fold, then ``+ bias`` (E2FGVI: a learned
    [c, h, w] map, which fixes the size) or ``bias_conv`` (HQ: a 3x3 conv, any size)."""

    def __init__(self, channel: int, hidden: int, kernel_size, stride, padding, output_size=None,
                 hq: bool = False):
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), _pair(padding)
        self.hq = hq
        self.embedding = Linear(hidden, self.kernel_size[0] * self.kernel_size[1] * channel)
        if hq:
            self.bias_conv = nn.Conv2d(channel, channel, 3, 1, 1)
        else:
            if output_size is None:
                raise ValueError("SoftComp: output_size is required without hq (the learned bias map has that size)")
            self.bias = jt.zeros((channel, *output_size), "float32")

    def execute(self, x, t: int, output_size):
        b_, c_ = x.shape[0], x.shape[-1]
        feat = self.embedding(x.reshape([b_, -1, c_]))
        b, _, c = feat.shape
        feat = feat.reshape([b * t, -1, c]).permute(0, 2, 1)
        feat = nn.fold(feat, list(output_size), self.kernel_size, 1, self.padding, self.stride)
        if self.hq:
            return self.bias_conv(feat)
        if tuple(self.bias.shape[1:]) != tuple(output_size):
            raise ValueError(f"E2FGVI SoftComp: features are {tuple(output_size)} but sc.bias is "
                             f"{tuple(self.bias.shape[1:])}: E2FGVI only runs at 432x240 frames "
                             "(use e2fgvi_hq for other sizes)")
        return feat + self.bias.unsqueeze(0)


class FusionFeedForward(nn.Module):
    """F3N: Linear d -> 1960, fold/unfold over the token grid normalised by the overlap count, GELU,
    Linear 1960 -> d (keys ``conv1.0``, ``conv2.1``; 1960 = 40 * 7 * 7 as the official code)."""

    def __init__(self, d_model: int, t2t_params: dict, hidden: int = 1960):
        super().__init__()
        self.conv1 = nn.Sequential(Linear(d_model, hidden))
        self.conv2 = nn.Sequential(nn.GELU(), Linear(hidden, d_model))
        self.kernel_size = _pair(t2t_params["kernel_size"])
        self.stride = _pair(t2t_params["stride"])
        self.padding = _pair(t2t_params["padding"])

    def execute(self, x, output_size):
        x = self.conv1(x)
        b, n, c = x.shape
        fh, fw = token_grid(output_size, self.kernel_size, self.stride, self.padding)
        n_vecs = fh * fw
        count = jt.array(_overlap_count(tuple(output_size), self.kernel_size, self.stride, self.padding))
        folded = nn.fold(x.reshape([-1, n_vecs, c]).permute(0, 2, 1), list(output_size), self.kernel_size, 1,
                         self.padding, self.stride)
        x = nn.unfold(folded / count, self.kernel_size, 1, self.padding, self.stride)
        x = x.permute(0, 2, 1).reshape([b, n, c])
        return self.conv2(x)


def window_partition(x, ws):
    """[B, T, H, W, C] -> [B*nW, T*wh*ww, C]."""
    B, T, H, W, C = x.shape
    x = x.reshape([B, T, H // ws[0], ws[0], W // ws[1], ws[1], C])
    return x.permute(0, 2, 4, 1, 3, 5, 6).reshape([-1, T * ws[0] * ws[1], C])


def window_partition_noreshape(x, ws):
    """[B, T, H, W, C] -> [B, nWh, nWw, T, wh, ww, C]."""
    B, T, H, W, C = x.shape
    x = x.reshape([B, T, H // ws[0], ws[0], W // ws[1], ws[1], C])
    return x.permute(0, 2, 4, 1, 3, 5, 6)


def window_reverse(windows, ws, T, H, W):
    """[B*nW, T, wh, ww, C] -> [B, T, H, W, C]."""
    B = int(windows.shape[0] / (H * W / ws[0] / ws[1]))
    x = windows.reshape([B, H // ws[0], W // ws[1], T, ws[0], ws[1], -1])
    return x.permute(0, 3, 1, 4, 2, 5, 6).reshape([B, T, H, W, -1])


class WindowAttention(nn.Module):
    """Temporal focal window attention: queries of a window attend to the window, to its four
    rolled neighbours (the ``valid_ind_rolled`` positions) and to pooled windows around it."""

    def __init__(self, dim, expand_size, window_size, focal_window, focal_level, num_heads, qkv_bias=True,
                 pool_method="fc"):
        super().__init__()
        self.dim, self.expand_size, self.window_size = dim, tuple(expand_size), tuple(window_size)
        self.pool_method, self.num_heads = pool_method, num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.focal_level, self.focal_window = focal_level, tuple(focal_window)
        wh, ww = self.window_size
        eh, ew = self.expand_size
        self._rolled = any(i > 0 for i in self.expand_size) and focal_level > 0
        if self._rolled:
            masks = []
            for rows, cols in ((slice(None, -eh), slice(None, -ew)), (slice(None, -eh), slice(ew, None)),
                               (slice(eh, None), slice(None, -ew)), (slice(eh, None), slice(ew, None))):
                m = np.ones((wh, ww), np.int64)
                m[rows, cols] = 0
                masks.append(m)
            ind = np.nonzero(np.stack(masks).reshape(-1))[0].astype(np.int64)
            self.register_buffer("valid_ind_rolled", jt.array(ind, dtype="int64"))
            self.valid_ind_rolled.stop_grad()
            self._valid_rolled_np = ind
        self._unfold_kernels = []
        if pool_method != "none" and focal_level > 1:
            for k in range(focal_level - 1):
                if k > 0:  # the official valid_ind_unfold_{k} buffers: not needed for focal_level 2
                    raise NotImplementedError("focal_level > 2 is not implemented (E2FGVI uses 2)")
                ks = tuple(2 * (i // 2) + 2 ** k + (2 ** k - 1) for i in self.focal_window)
                self._unfold_kernels.append((ks, 2 ** k, tuple(i // 2 for i in ks)))
        self.qkv = Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = Linear(dim, dim)

    def _heads(self, t, T):
        """[B*nW, T*wh*ww, C] windows -> [B*nW, heads, T*wh*ww, C/heads]."""
        wa = self.window_size[0] * self.window_size[1]
        C = t.shape[-1]
        t = t.reshape([-1, T, wa, self.num_heads, C // self.num_heads]).permute(0, 3, 1, 2, 4)
        return t.reshape([-1, self.num_heads, T * wa, C // self.num_heads])

    def execute(self, x_all):
        x = x_all[0]
        B, T, nH, nW, C = x.shape
        hd = C // self.num_heads
        qkv = self.qkv(x).reshape([B, T, nH, nW, 3, C]).permute(4, 0, 1, 2, 3, 5)
        q, k, v = qkv[0], qkv[1], qkv[2]
        ws = self.window_size
        wa = ws[0] * ws[1]
        q_w, k_w, v_w = (self._heads(window_partition(t, ws), T) for t in (q, k, v))
        if self._rolled:
            eh, ew = self.expand_size
            shifts = ((-eh, -ew), (-eh, ew), (eh, -ew), (eh, ew))
            idx = jt.array(self._valid_rolled_np.astype(np.int32))

            def rolled(t):
                parts = [window_partition(jt.roll(t, shifts=s, dims=(2, 3)), ws).reshape(
                    [-1, T, wa, self.num_heads, hd]) for s in shifts]
                r = jt.concat(parts, dim=2).permute(0, 3, 1, 2, 4)[:, :, :, idx]
                return r.reshape([-1, self.num_heads, T * r.shape[3], hd])

            k_rolled = jt.concat([k_w, rolled(k)], dim=2)
            v_rolled = jt.concat([v_w, rolled(v)], dim=2)
        else:
            k_rolled, v_rolled = k_w, v_w

        k_parts, v_parts, masks = [k_rolled], [v_rolled], []
        for lvl, (ks, stride, pad) in enumerate(self._unfold_kernels):
            xp = x_all[lvl + 1].permute(0, 3, 1, 2, 4)  # B, T, nWh, nWw, C
            nWh, nWw = xp.shape[2], xp.shape[3]
            # pooled windows outside the map are masked with -100, as the official code
            ones = np.ones((T, 1, nWh, nWw), np.float32)
            unf = _unfold_np(ones, ks, stride, pad)  # T, kk, L
            m = unf.reshape(1, T, ks[0], ks[1], -1).transpose(4, 1, 2, 3, 0).reshape(nWh * nWw // stride // stride, -1)
            masks.append(np.where(m == 0, -100.0, 0.0).astype(np.float32))  # [L, T*kk]
            qkv_p = self.qkv(xp).reshape([B, T, nWh, nWw, 3, C]).permute(4, 0, 1, 5, 2, 3).reshape([3, -1, C, nWh, nWw])
            kk = ks[0] * ks[1]

            def pooled(t):
                u = nn.unfold(t, ks, 1, pad, stride).reshape([B, T, C, ks[0], ks[1], -1])
                u = u.permute(0, 5, 1, 3, 4, 2).reshape([-1, T, kk, self.num_heads, hd]).permute(0, 3, 1, 2, 4)
                return u.reshape([-1, self.num_heads, T * kk, hd])

            k_parts.append(pooled(qkv_p[1]))
            v_parts.append(pooled(qkv_p[2]))
        k_all = jt.concat(k_parts, dim=2) if len(k_parts) > 1 else k_rolled
        v_all = jt.concat(v_parts, dim=2) if len(v_parts) > 1 else v_rolled

        nwb, heads, n_q, n_keys = q_w.shape[0], q_w.shape[1], q_w.shape[2], k_all.shape[2]
        key_bias = None
        if masks:
            segs = [np.zeros((masks[0].shape[0], k_rolled.shape[2]), np.float32)] + masks
            add = np.concatenate(segs, axis=1)  # [L, N]: 0 on window/rolled keys
            key_bias = jt.array(np.tile(add, (nwb // add.shape[0], 1)).reshape(nwb, n_keys))
        # one op for the products and the softmax (the heads of a window share its key mask)
        out = scaled_dot_product_attention(q_w.reshape([nwb * heads, n_q, hd]),
                                           k_all.reshape([nwb * heads, n_keys, hd]),
                                           v_all.reshape([nwb * heads, n_keys, hd]), self.scale, key_bias=key_bias)
        out = out.reshape([nwb, heads, n_q, hd]).permute(0, 2, 1, 3).reshape([nwb, T * wa, C])
        return self.proj(out)


def _unfold_np(x: np.ndarray, ks, stride, pad) -> np.ndarray:
    """``F.unfold`` of a NumPy [N, C, H, W] array: [N, C*kh*kw, L]."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - ks[0]) // stride + 1
    ow = (w + 2 * pad[1] - ks[1]) // stride + 1
    out = np.empty((n, c, ks[0], ks[1], oh, ow), x.dtype)
    for i in range(ks[0]):
        for j in range(ks[1]):
            out[:, :, i, j] = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return out.reshape(n, c * ks[0] * ks[1], oh * ow)


class TemporalFocalTransformerBlock(nn.Module):
    """``x + attn(norm1(x))`` then ``+ F3N(norm2(x))`` over [B, T, H, W, C] tokens."""

    def __init__(self, dim, num_heads, window_size=(5, 9), mlp_ratio=4.0, qkv_bias=True, pool_method="fc",
                 focal_level=2, focal_window=(5, 9), t2t_params=None):
        super().__init__()
        self.dim, self.num_heads = dim, num_heads
        self.window_size = tuple(window_size)
        self.expand_size = tuple(i // 2 for i in self.window_size)
        self.pool_method, self.focal_level, self.focal_window = pool_method, focal_level, tuple(focal_window)
        self.pool_layers = nn.Sequential()
        if pool_method != "none":
            for k in range(focal_level - 1):
                wg = tuple(math.floor(i / (2 ** k)) for i in self.window_size)
                lin = Linear(wg[0] * wg[1], 1)
                lin.weight.assign(jt.ones_like(lin.weight) * (1.0 / (wg[0] * wg[1])))
                lin.bias.assign(jt.zeros_like(lin.bias))
                self.pool_layers.append(lin)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, self.expand_size, self.window_size, self.focal_window, focal_level,
                                    num_heads, qkv_bias, pool_method)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = FusionFeedForward(dim, t2t_params)

    def execute(self, x, output_size):
        B, T, H, W, C = x.shape
        shortcut = x
        x = self.norm1(x)
        x_all = [x]
        if self.focal_level > 1 and self.pool_method != "none":
            for k in range(self.focal_level - 1):
                wg = tuple(math.floor(i / (2 ** k)) for i in self.window_size)
                H_pool = math.ceil(H / wg[0]) * (2 ** k) * wg[0]
                W_pool = math.ceil(W / wg[1]) * (2 ** k) * wg[1]
                xk = x
                if H > H_pool:
                    top = (H - H_pool) // 2
                    xk = xk[:, :, top:top + H_pool]
                elif H < H_pool:
                    top = (H_pool - H) // 2
                    xk = nn.pad(xk.permute(0, 1, 4, 3, 2), [0, 0, top, H_pool - H - top]).permute(0, 1, 4, 3, 2)
                if W > W_pool:
                    left = (W - W_pool) // 2
                    xk = xk[:, :, :, left:left + W_pool]
                elif W < W_pool:
                    left = (W_pool - W) // 2
                    xk = nn.pad(xk.permute(0, 1, 2, 4, 3), [left, W_pool - W - left]).permute(0, 1, 2, 4, 3)
                win = window_partition_noreshape(xk, wg)
                nWh, nWw = win.shape[1], win.shape[2]
                win = win.reshape([B, nWh, nWw, T, wg[0] * wg[1], C]).permute(0, 1, 2, 3, 5, 4)
                pooled = self.pool_layers[k](win)
                x_all.append(pooled.reshape([B, nWh, nWw, T, C]))
        attn_windows = self.attn(x_all)
        attn_windows = attn_windows.reshape([-1, T, self.window_size[0], self.window_size[1], C])
        x = shortcut + window_reverse(attn_windows, self.window_size, T, H, W)
        y = self.norm2(x)
        return x + self.mlp(y.reshape([B, T * H * W, C]), output_size).reshape([B, T, H, W, C])
