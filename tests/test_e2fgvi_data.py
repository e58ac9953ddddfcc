"""E2FGVI data: the random blob masks of the official recipe, the YouTube-VOS / DAVIS readers on
fabricated layouts (per-video folders and zips, zip members read safely, errors naming the path),
the synthetic clips' exact flows and the flip, the losses against their definitions, and the 3D
convolution through 2D convolutions against Jittor's own."""
from __future__ import annotations

import json
import zipfile

import cv2
import numpy as np
import pytest

import jittor as jt
from jittor import nn

from jvision.data.video_inpainting import (ClipRandomFlip, PackInpaintingInputs, SyntheticInpaintingClips,
                                           VideoInpaintingDataset, VideoInpaintingTestDataset, ZipFrames)
from jvision.data.video_masks import RandomShapeMotionMasks, dilate_mask, random_blob, random_video_masks
from jvision.data.image_io import ImageReadError
from jvision.models.e2fgvi.loss import hinge_discriminator_loss, hinge_generator_loss, masked_l1
from jvision.ops.conv3d import conv3d

H, W = 24, 40


# ------------------------------------------------------------------------------------------------
# masks
# ------------------------------------------------------------------------------------------------
def test_random_blob_fills_a_box_within_the_official_size_range():
    for seed in range(20):
        region = random_blob(240, 432, np.random.default_rng(seed))
        h, w = region.shape
        assert 240 // 3 <= h <= 239 and 432 // 3 <= w <= 431
        ys, xs = np.nonzero(region)                 # the shape touches all four sides of its box
        assert (ys.min(), xs.min(), ys.max(), xs.max()) == (0, 0, h - 1, w - 1)
        assert 0.3 < region.mean() < 0.95           # a blob, not a box or a sliver


def test_masks_are_static_or_moving_and_stay_in_the_frame():
    static = random_video_masks(30, 60, 108, np.random.default_rng(0), static_prob=1.0)
    assert all(np.array_equal(m, static[0]) for m in static) and static[0].any()
    moving = random_video_masks(30, 60, 108, np.random.default_rng(0), static_prob=0.0, size_range=(0.2, 0.4))
    areas = moving.reshape(30, -1).sum(1)
    assert (areas == areas[0]).all()                 # the whole blob stays inside the frame
    assert len({m.tobytes() for m in moving}) > 5    # and it moves
    # half and half, as the official generator
    kinds = [len({m.tobytes() for m in random_video_masks(6, 30, 54, np.random.default_rng(s))}) == 1
             for s in range(200)]
    assert 0.35 < np.mean(kinds) < 0.65
    # the transform renders the sample's frames of the whole video's trajectory; same generator, same masks
    sample = {"frames": np.zeros((3, 30, 54, 3), np.uint8), "frame_ids": [4, 5, 20], "meta": {"video_length": 25}}
    a = RandomShapeMotionMasks(static_prob=0.0)(dict(sample), np.random.default_rng(7))["masks"]
    full = random_video_masks(25, 30, 54, np.random.default_rng(7), static_prob=0.0)
    np.testing.assert_array_equal(a, full[[4, 5, 20]])
    with pytest.raises(ValueError, match="size_range"):
        RandomShapeMotionMasks(size_range=(0.5, 0.2))


# ------------------------------------------------------------------------------------------------
# YouTube-VOS / DAVIS layouts
# ------------------------------------------------------------------------------------------------
def _frames(n, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(n)]


def _png(img) -> bytes:
    return cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))[1].tobytes()


def _layout(root, with_json=True):
    """datasets/<name>: vid_zip.zip (zip -j), vid_dir/ (folder), test_masks/, train.json, test.json."""
    frames = {"vid_zip": _frames(10, 1), "vid_dir": _frames(9, 2)}
    (root / "JPEGImages" / "vid_dir").mkdir(parents=True)
    with zipfile.ZipFile(root / "JPEGImages" / "vid_zip.zip", "w") as zf:
        for i, f in reversed(list(enumerate(frames["vid_zip"]))):       # stored out of order: sorted by name
            zf.writestr(f"{i:05d}.png", _png(f))
        zf.writestr("notes.txt", "not a frame")
    for i, f in enumerate(frames["vid_dir"]):
        (root / "JPEGImages" / "vid_dir" / f"{i:05d}.png").write_bytes(_png(f))
    for name, fr in frames.items():
        (root / "test_masks" / name).mkdir(parents=True)
        for i in range(len(fr)):
            m = np.zeros((H, W), np.uint8)
            m[5 + i % 3:12, 10:20] = 255
            cv2.imwrite(str(root / "test_masks" / name / f"{i:05d}.png"), m)
    if with_json:
        counts = {k: len(v) for k, v in frames.items()}
        (root / "train.json").write_text(json.dumps(counts))
        (root / "test.json").write_text(json.dumps(counts))
    return frames


PIPELINE = [dict(type="RandomShapeMotionMasks"), dict(type="ClipRandomFlip", prob=0.0), dict(type="PackInpaintingInputs")]


def test_training_windows_from_zips_and_folders(tmp_path):
    frames = _layout(tmp_path)
    ds = VideoInpaintingDataset(str(tmp_path), num_local_frames=3, num_ref_frames=2, height=H, width=W,
                                pipeline=PIPELINE)
    assert ds.names == ["vid_zip", "vid_dir"]
    for idx, name in enumerate(ds.names):
        s = ds.prepare(idx, np.random.default_rng(3))
        ids = s["meta"]["frame_ids"]
        assert ids[1] == ids[0] + 1 and ids[2] == ids[1] + 1                    # 3 consecutive local frames
        assert len(set(ids)) == 5 and ids[3:] == sorted(ids[3:]) and not set(ids[3:]) & set(ids[:3])
        assert s["frames"].shape == (5, 3, H, W) and s["frames"].dtype == np.float32
        assert s["masks"].shape == (5, 1, H, W) and set(np.unique(s["masks"])) <= {0.0, 1.0}
        expect = np.stack([frames[name][i] for i in ids]).transpose(0, 3, 1, 2) / 127.5 - 1
        np.testing.assert_allclose(s["frames"], expect, atol=1e-6)
        again = ds.prepare(idx, np.random.default_rng(3))                       # reproducible from the rng
        np.testing.assert_array_equal(again["masks"], s["masks"])
    # without the index files every zip / folder under JPEGImages is a video
    for f in ("train.json", "test.json"):
        (tmp_path / f).unlink()
    assert sorted(VideoInpaintingDataset(str(tmp_path), height=H, width=W).names) == ["vid_dir", "vid_zip"]


def test_reader_errors_name_the_path(tmp_path):
    _layout(tmp_path)
    (tmp_path / "train.json").write_text(json.dumps({"vid_zip": 10, "gone": 20}))
    ds = VideoInpaintingDataset(str(tmp_path), height=H, width=W, pipeline=PIPELINE)
    with pytest.raises(FileNotFoundError, match=r"'gone'.*gone\.zip.*gone"):
        ds.prepare(1, np.random.default_rng(0))
    (tmp_path / "train.json").write_text(json.dumps({"vid_zip": 12}))
    with pytest.raises(ValueError, match=r"lists 12 frames but .*vid_zip\.zip holds 10"):
        VideoInpaintingDataset(str(tmp_path), height=H, width=W).prepare(0, np.random.default_rng(0))
    (tmp_path / "train.json").write_text(json.dumps({"vid_dir": 9}))
    with pytest.raises(ValueError, match=r"'vid_dir'.*has 9 frames, fewer than 8 local \+ 3 reference"):
        VideoInpaintingDataset(str(tmp_path), num_local_frames=8, height=H, width=W).prepare(0, np.random.default_rng(0))
    with pytest.raises(FileNotFoundError, match="dataset root .*nowhere does not exist"):
        VideoInpaintingDataset(str(tmp_path / "nowhere"))
    # zip members are checked before anything is read
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("00000.png", _png(_frames(1, 0)[0]))
        zf.writestr("../../etc/00001.png", b"x")
    with pytest.raises(ImageReadError, match=r"bad\.zip: member '\.\./\.\./etc/00001\.png' has an unsafe path"):
        ZipFrames(bad)
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("00000.png", b"\0" * 5000)
    with pytest.raises(ImageReadError, match=r"big\.zip: member '00000\.png' would decompress to 5000 bytes"):
        ZipFrames(big, max_member_bytes=4096)
    corrupt = tmp_path / "corrupt.zip"
    with zipfile.ZipFile(corrupt, "w") as zf:
        zf.writestr("00000.jpg", b"not an image")
    with pytest.raises(ImageReadError, match=r"corrupt\.zip:00000\.jpg"):
        ZipFrames(corrupt).read([0])


def test_evaluation_clips_read_on_demand_with_dilated_masks(tmp_path):
    frames = _layout(tmp_path)
    ds = VideoInpaintingTestDataset(str(tmp_path), height=H, width=W, dilate=4)
    clip = ds.prepare(0)["video"]
    assert clip.name == "vid_zip" and len(clip) == 10 and not clip.has_flow
    np.testing.assert_array_equal(clip.frame(7), frames["vid_zip"][7])
    raw = cv2.imread(str(tmp_path / "test_masks" / "vid_zip" / "00002.png"), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(clip.mask(2), dilate_mask(raw, 4))
    assert clip.mask(2).sum() > (raw > 0).sum()
    # resized as the official code: Pillow bicubic for frames, nearest for masks
    from PIL import Image
    small = VideoInpaintingTestDataset(str(tmp_path), height=12, width=20, dilate=0).prepare(1)["video"]
    np.testing.assert_array_equal(small.frame(0), np.asarray(Image.fromarray(frames["vid_dir"][0]).resize((20, 12),
                                                                                                        Image.BICUBIC)))
    assert small.mask(0).shape == (12, 20)
    (tmp_path / "test_masks" / "vid_dir" / "00008.png").unlink()
    with pytest.raises(ValueError, match=r"'vid_dir': 8 masks in .*test_masks/vid_dir for 9 frames"):
        ds.prepare(1)


# ------------------------------------------------------------------------------------------------
# synthetic clips, flip
# ------------------------------------------------------------------------------------------------
def test_synthetic_windows_carry_exact_flows_and_the_flip_mirrors_them():
    from jvision.models.e2fgvi.flow import flow_warp
    ds = SyntheticInpaintingClips("train", num_clips=4, length=8, height=32, width=48, num_local_frames=3,
                                  num_ref_frames=1, pipeline=[dict(type="RandomShapeMotionMasks")])
    for flip in (False, True):
        s = ds.prepare(2, np.random.default_rng(1))
        if flip:
            s = ClipRandomFlip(prob=1.0)(s, np.random.default_rng(0))
        # at 1/4 scale, warping local frame t+1 by the forward flow gives frame t (away from the border)
        small = jt.array(np.stack([cv2.resize(f, (12, 8), interpolation=cv2.INTER_AREA) for f in s["frames"][:3]])
                         .astype(np.float32).transpose(0, 3, 1, 2))
        fwd = jt.array(s["flows_forward"]).permute(0, 2, 3, 1)
        warped = flow_warp(small[1:], fwd, padding_mode="border").numpy()
        err = np.abs(warped - small[:-1].numpy())[:, :, 2:-2, 2:-2].mean()
        assert err < 12, err                                        # blurred by the 4x area resize only
        assert np.abs(flow_warp(small[1:], -fwd).numpy() - small[:-1].numpy())[:, :, 2:-2, 2:-2].mean() > err
        np.testing.assert_array_equal(s["flows_backward"], -s["flows_forward"])
    val = SyntheticInpaintingClips("val", num_clips=2, length=8, height=32, width=48)
    clip = val.prepare(0)["video"]
    assert clip.has_flow and clip.flow(0).shape == (32, 48, 2) and clip.mask(0).any()
    train_clip = SyntheticInpaintingClips("train", num_clips=2, length=8, height=32, width=48).clip(0)
    assert not np.array_equal(clip.frame(0), train_clip.frames[0])          # held out


def test_pack_inputs():
    s = {"frames": np.full((2, 4, 8, 3), 255, np.uint8), "masks": np.eye(4, 8, dtype=np.uint8)[None].repeat(2, 0)}
    out = PackInpaintingInputs()(s, np.random.default_rng(0))
    assert out["frames"].shape == (2, 3, 4, 8) and out["frames"].max() == 1.0
    assert out["masks"].shape == (2, 1, 4, 8) and out["masks"].sum() == 8
    with pytest.raises(ValueError, match="masks .* do not fit frames"):
        PackInpaintingInputs()({"frames": np.zeros((2, 4, 8, 3)), "masks": np.zeros((2, 4, 7))}, None)


# ------------------------------------------------------------------------------------------------
# losses, 3D convolution
# ------------------------------------------------------------------------------------------------
def test_losses_match_the_official_formulas():
    rng = np.random.default_rng(0)
    pred, gt = rng.uniform(-1, 1, (2, 3, 3, 4, 5)), rng.uniform(-1, 1, (2, 3, 3, 4, 5))
    m = (rng.random((2, 3, 1, 4, 5)) < 0.3).astype(np.float64)
    hole = np.abs(pred * m - gt * m).mean() / m.mean()              # l1(pred*m, gt*m) / mean(m)
    valid = np.abs(pred * (1 - m) - gt * (1 - m)).mean() / (1 - m).mean()
    to = jt.array
    assert masked_l1(to(pred), to(gt), to(m)).item() == pytest.approx(hole, rel=1e-5)
    assert masked_l1(to(pred), to(gt), to(1 - m)).item() == pytest.approx(valid, rel=1e-5)
    real, fake = rng.normal(size=(2, 3, 8)), rng.normal(size=(2, 3, 8))
    d = (np.maximum(0, 1 - real).mean() + np.maximum(0, 1 + fake).mean()) / 2
    assert hinge_discriminator_loss(to(real), to(fake)).item() == pytest.approx(d, rel=1e-5)
    assert hinge_generator_loss(to(fake)).item() == pytest.approx(-fake.mean(), rel=1e-5)


def test_conv3d_through_2d_convolutions_matches_jittor():
    jt.set_global_seed(0)
    x, w, b = jt.randn(2, 3, 5, 9, 11), jt.randn(4, 3, 3, 5, 5) * 0.1, jt.randn(4)
    for stride, padding in (((1, 2, 2), (1, 2, 2)), ((2, 1, 1), (0, 2, 1))):
        y, ref = conv3d(x, w, b, stride, padding), nn.conv3d(x, w, b, stride, padding)
        assert y.shape == ref.shape
        np.testing.assert_allclose(y.numpy(), ref.numpy(), atol=1e-5)
        for g, gr in zip(jt.grad((y * y).sum(), [x, w, b]), jt.grad((ref * ref).sum(), [x, w, b])):
            np.testing.assert_allclose(g.numpy(), gr.numpy(), rtol=1e-4, atol=1e-4)
