"""E2FGVI: the parity fixtures (components within 1e-5, every full-size manifest exact), spectral
norm against NumPy and its keys round-tripping, the offset monitor and clamp, windowed inference
against whole-clip inference and against an in-memory rendering of the official loop, and the
inpainting tool's errors."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import jittor as jt
from jittor import nn

from jvision.convert import fixtures
from jvision.data.video_synthetic import make_clip
from jvision.models.e2fgvi import Discriminator, InpaintGenerator, SpectralNormConv3d
from jvision.models.e2fgvi.propagation import SecondOrderDeformableAlignment
from jvision.video.inpaint import inpaint_clip, run_window, window_plan


@pytest.mark.parametrize("name", ["feat_prop_tiny", "transformer_tiny"])
def test_component_fixtures_within_1e5(parity_dir, name):
    report = fixtures.compare_fixture(parity_dir / "e2fgvi" / name, tol=1e-5)
    assert not report.failed, report.format()
    assert {o.name for o in report.outputs if o.status == "ok"} >= ({"output", "sda_out", "dcn_output"}
                                                                      if name == "feat_prop_tiny" else {"output", "block_0"})


@pytest.mark.parametrize("name", ["e2fgvi_InpaintGenerator", "e2fgvi_hq_InpaintGenerator", "e2fgvi_Discriminator"])
def test_full_size_manifests_exact(parity_dir, name):
    report = fixtures.check_manifest(parity_dir / "e2fgvi" / name)
    assert not report.failed and report.checked_anything, report.format()


def test_spectral_norm_one_power_iteration_matches_numpy():
    conv = SpectralNormConv3d(3, 4, (3, 5, 5), (1, 2, 2), 1)
    w = conv.weight_orig.numpy().reshape(4, -1).astype(np.float64)
    u0, v0 = conv.weight_u.numpy().astype(np.float64), conv.weight_v.numpy()
    x = jt.randn(1, 3, 3, 9, 9)
    conv.train()
    y = conv(x)
    v = w.T @ u0
    v /= np.linalg.norm(v)
    u = w @ v
    u /= np.linalg.norm(u)
    np.testing.assert_allclose(conv.weight_v.numpy(), v, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(conv.weight_u.numpy(), u, rtol=1e-5, atol=1e-6)
    sigma = u @ w @ v
    np.testing.assert_allclose(conv.weight().numpy().reshape(4, -1), w / sigma, rtol=1e-5, atol=1e-6)
    assert sigma == pytest.approx(np.linalg.svd(w, compute_uv=False)[0], rel=0.5)  # one step from random u
    # eval: no iteration, u and v unchanged
    conv.eval()
    u_after_train = conv.weight_u.numpy().copy()
    conv(x)
    np.testing.assert_array_equal(conv.weight_u.numpy(), u_after_train)
    assert list(y.shape) == [1, 4, 3, 4, 4]


def test_discriminator_keys_round_trip(tmp_path):
    from jvision.convert import load_checkpoint, save_state_dict
    d1 = Discriminator(nf=4)
    keys = list(d1.state_dict())
    assert "conv.0.weight_orig" in keys and "conv.0.weight_u" in keys and "conv.0.weight_v" in keys
    assert "conv.10.weight" in keys and "conv.10.bias" in keys and "conv.0.bias" not in keys
    path = save_state_dict(d1.state_dict(), tmp_path / "dis.pth")
    d2 = Discriminator(nf=4)
    load_checkpoint(d2, path, strict=True)
    for k, v in d1.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), d2.state_dict()[k].numpy(), err_msg=k)


def test_offset_monitor_and_clamp_keep_results():
    jt.set_global_seed(0)
    sda = SecondOrderDeformableAlignment(8, 4, 3, padding=1, deform_groups=2)
    last = sda.conv_offset[-1]
    last.weight.assign(jt.randn(*last.weight.shape) * 0.5)
    x, extra = jt.randn(1, 8, 6, 7), jt.randn(1, 12, 6, 7)
    f1, f2 = jt.randn(1, 2, 6, 7) * 40, jt.randn(1, 2, 6, 7) * 40   # flows far beyond the map
    clamped = sda(x, extra, f1, f2).numpy()
    stats = sda.offset_stats()["offset_abs_max"].item()
    assert stats > 40
    sda.offset_bound = None
    np.testing.assert_allclose(sda(x, extra, f1, f2).numpy(), clamped, atol=1e-5)


def _tiny_hq():
    jt.set_global_seed(1)
    return InpaintGenerator(hq=True, hidden=32, depth=1, num_heads=2, warn_spynet=False)


def _official_loop(model, frames, masks, stride, ref_step):
    """The official evaluation loop over an in-memory clip (all frames held)."""
    comp = [None] * len(frames)
    for f, nb, refs in window_plan(len(frames), stride, ref_step, -1):
        ids = nb + refs
        pred = run_window(model, [frames[i] for i in ids], [masks[i] for i in ids], len(nb))
        for j, idx in enumerate(nb):
            m = masks[idx][..., None]
            img = pred[j].astype(np.uint8) * m + frames[idx] * (1 - m)
            comp[idx] = img if comp[idx] is None else comp[idx].astype(np.float32) * 0.5 + img.astype(np.float32) * 0.5
    return comp


def test_windowed_inference_equals_whole_clip_and_the_official_loop():
    model = _tiny_hq()
    model.eval()
    clip = make_clip(7, (60, 108), seed=4)
    frames, masks = list(clip.frames), list(clip.masks)
    # one window holding the whole clip == one forward over the whole clip
    windowed = inpaint_clip(model, frames, masks, neighbor_stride=7)
    whole = run_window(model, frames, masks, len(frames))
    for i in range(7):
        m = masks[i][..., None]
        np.testing.assert_array_equal(windowed[i], whole[i].astype(np.uint8) * m + frames[i] * (1 - m))
    # streaming windows (bounded memory) == the official loop over the clip in memory
    streamed = inpaint_clip(model, frames, masks, neighbor_stride=2, ref_step=3)
    official = _official_loop(model, frames, masks, 2, 3)
    for a, b in zip(streamed, official):
        np.testing.assert_array_equal(a, b)
    assert all(np.array_equal(streamed[i][masks[i] == 0], frames[i][masks[i] == 0]) for i in range(7))


def test_inpainting_inside_a_training_run_leaves_the_generator_trainable():
    """``inpaint_stream`` runs the generator in eval mode and leaves it as it was: Jittor's
    ``eval()`` stop-grads the parameters and the trainer's ``train()`` on the parent model would not
    restore them, so an evaluation during training used to freeze the generator silently."""
    model = _tiny_hq()
    parent = nn.Sequential(model)                  # the VideoInpainter that holds it
    parent.train()
    trainable = [p for p in model.parameters() if not p.is_stop_grad()]
    assert trainable
    clip = make_clip(7, (60, 108), seed=4)
    inpaint_clip(model, list(clip.frames), list(clip.masks), neighbor_stride=7)
    parent.train()
    assert model.is_training() and not any(p.is_stop_grad() for p in trainable)


def test_inpaint_tool_names_a_mask_count_mismatch(tmp_path, repo_root):
    import cv2
    clip = make_clip(3, (32, 48), seed=0)
    (tmp_path / "f").mkdir()
    (tmp_path / "m").mkdir()
    for i in range(3):
        cv2.imwrite(str(tmp_path / "f" / f"{i}.png"), clip.frames[i])
    for i in range(2):
        cv2.imwrite(str(tmp_path / "m" / f"{i}.png"), clip.masks[i] * 255)
    proc = subprocess.run([sys.executable, str(repo_root / "tools" / "inpaint.py"), str(tmp_path / "f"),
                           str(tmp_path / "m"), "--out", str(tmp_path / "o")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2
    assert "2 masks for 3 frames" in proc.stderr
