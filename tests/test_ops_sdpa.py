"""Scaled dot-product attention (jvision.ops.scaled_dot_product_attention), the op every ViT's
attention runs through without dropout: our CPU kernel (oneDNN products and the softmax in one
task per batch entry) against the composition of batched products and nn.softmax, forward and
gradients, on shapes whose rows are shorter and longer than a vector, and cross-attention (M != N)."""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt
from jvision.models.layers import Dropout
from jvision.models.vit import attend
from jvision.ops import packed_self_attention, scaled_dot_product_attention


@pytest.mark.parametrize("qshape,kshape,scale", [((2, 7, 5), (2, 11, 5), 0.37), ((3, 19, 8), (3, 19, 8), 8 ** -0.5)])
def test_kernel_matches_the_composition(qshape, kshape, scale):
    rng = np.random.default_rng(sum(qshape))
    q_np = (2 * rng.standard_normal(qshape)).astype(np.float32)   # peaked weights: the max shift matters
    k_np, v_np = (rng.standard_normal(kshape).astype(np.float32) for _ in range(2))
    g = jt.array(rng.standard_normal(qshape).astype(np.float32))
    out = {}
    for impl in ("kernel", "reference"):
        q, k, v = jt.array(q_np), jt.array(k_np), jt.array(v_np)
        o = scaled_dot_product_attention(q, k, v, scale, impl=impl)
        out[impl] = [o.numpy()] + [x.numpy() for x in jt.grad((o * g).sum(), [q, k, v])]
    for name, a, b in zip(("out", "dq", "dk", "dv"), out["kernel"], out["reference"]):
        np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-4, err_msg=name)


def test_attend_uses_the_op_and_keeps_dropout():
    rng = np.random.default_rng(0)
    q, k, v = (jt.array(rng.standard_normal((2, 3, 6, 4)).astype(np.float32)) for _ in range(3))
    ref = scaled_dot_product_attention(q.reshape(6, 6, 4), k.reshape(6, 6, 4), v.reshape(6, 6, 4), 0.5,
                                       impl="reference").reshape(2, 3, 6, 4).numpy()
    drop = Dropout(0.5)
    drop.eval()
    np.testing.assert_allclose(attend(q, k, v, 0.5, drop).numpy(), ref, atol=1e-5)
    drop.train()
    jt.set_global_seed(1)
    dropped = attend(q, k, v, 0.5, drop).numpy()
    assert np.abs(dropped - ref).max() > 1e-2    # the weights were dropped: not the plain op


def test_shapes_are_checked():
    q = jt.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"do not match"):
        scaled_dot_product_attention(q, jt.zeros((2, 5, 3)), jt.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"must be \[B, N, D\]"):
        scaled_dot_product_attention(q.reshape(1, 2, 3, 4), q, q)


def test_key_bias_is_shared_by_the_entries_of_a_group():
    """``key_bias [B / R, M]``: row j masks entries j*R .. j*R+R-1 (E2FGVI's window mask shared by the
    heads); -100 on a key removes it, as the official code's masked focal keys."""
    rng = np.random.default_rng(3)
    q_np = rng.standard_normal((4, 5, 6)).astype(np.float32)
    k_np, v_np = (rng.standard_normal((4, 9, 6)).astype(np.float32) for _ in range(2))
    bias_np = np.where(rng.random((2, 9)) < 0.3, -100.0, 0.0).astype(np.float32)
    g = jt.array(rng.standard_normal((4, 5, 6)).astype(np.float32))
    out = {}
    for impl in ("kernel", "reference"):
        q, k, v = jt.array(q_np), jt.array(k_np), jt.array(v_np)
        o = scaled_dot_product_attention(q, k, v, 0.4, key_bias=jt.array(bias_np), impl=impl)
        out[impl] = [o.numpy()] + [x.numpy() for x in jt.grad((o * g).sum(), [q, k, v])]
    for name, a, b in zip(("out", "dq", "dk", "dv"), out["kernel"], out["reference"]):
        np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-4, err_msg=name)
    s = np.einsum("bnd,bmd->bnm", q_np, k_np) * 0.4 + np.repeat(bias_np, 2, axis=0)[:, None, :]
    p = np.exp(s - s.max(-1, keepdims=True))
    expected = np.einsum("bnm,bmd->bnd", p / p.sum(-1, keepdims=True), v_np)
    np.testing.assert_allclose(out["kernel"][0], expected, atol=2e-5)
    with pytest.raises(ValueError, match="key_bias"):
        scaled_dot_product_attention(jt.array(q_np), jt.array(k_np), jt.array(v_np), key_bias=jt.zeros((3, 9)))


@pytest.mark.parametrize("samples", [1, 3])
def test_packed_layout_matches_split_permute_attend(samples):
    """``packed_self_attention`` on a ``[S, N, 3 C]`` projection: the kernel, which reads the heads
    in place, equals splitting / permuting to ``[S * heads, N, d]``, the reference attention and
    permuting back -- output and the gradient of the projection."""
    rng = np.random.default_rng(samples)
    heads, n, d = 3, 7, 5
    qkv_np = rng.standard_normal((samples, n, 3 * heads * d)).astype(np.float32)
    g = jt.array(rng.standard_normal((samples, n, heads * d)).astype(np.float32))
    out = {}
    for impl in ("kernel", "reference"):
        qkv = jt.array(qkv_np)
        y = packed_self_attention(qkv, heads, 0.37, impl=impl)
        out[impl] = [y.numpy(), jt.grad((y * g).sum(), qkv).numpy()]
    q, k, v = qkv_np.reshape(samples, n, 3, heads, d).transpose(2, 0, 3, 1, 4)
    s = q @ k.transpose(0, 1, 3, 2) * 0.37
    p = np.exp(s - s.max(-1, keepdims=True))
    expect = (p / p.sum(-1, keepdims=True) @ v).transpose(0, 2, 1, 3).reshape(samples, n, heads * d)
    np.testing.assert_allclose(out["reference"][0], expect, atol=1e-5)
    for name, a, r in zip(("y", "dqkv"), out["kernel"], out["reference"]):
        np.testing.assert_allclose(a, r, atol=2e-5, rtol=1e-5, err_msg=name)
    with pytest.raises(ValueError, match="divisible by num_heads"):
        packed_self_attention(jt.array(qkv_np), 4)
