"""Segmentation transforms: image and label stay aligned; sizes and randomness as documented."""
from __future__ import annotations

import numpy as np
import pytest

from jvision.data.base import Compose
from jvision.registry import TRANSFORMS
from jseg.transforms import (Pad, PackSegInputs, PhotoMetricDistortion, RandomCrop, RandomFlip, ResizeToMultiple,
                             SegResize, TestTimeAug, aug_predict, slide_predict, slide_windows, softmax)

# colour of each class: far apart so that an interpolated colour is never mistaken for another class
COLOURS = np.array([[250, 10, 10], [10, 250, 10], [10, 10, 250], [250, 250, 10], [10, 250, 250], [250, 10, 250]],
                   np.float32)


def pattern(h: int = 60, w: int = 84, block: int = 6) -> dict:
    """Blocks of classes 0..5 (index depends on position, so that any shift or flip shows) and an image
    whose colour encodes the class of every pixel."""
    yy, xx = np.mgrid[0:h, 0:w]
    lab = ((yy // block) * 7 + (xx // block) * 3 + (xx // (3 * block))) % 6
    lab = lab.astype(np.uint8)
    lab[:block, :block] = 255  # an ignored corner
    img = np.where(lab[..., None] == 255, 0, COLOURS[np.minimum(lab, 5)]).astype(np.uint8)
    return {"img": img, "gt_seg": lab, "meta": {"filename": "pattern"}}


def decode(img: np.ndarray) -> np.ndarray:
    """Nearest class colour of every pixel (float HWC or CHW)."""
    if img.shape[0] == 3 and img.shape[-1] != 3:
        img = img.transpose(1, 2, 0)
    d = ((img[:, :, None, :].astype(np.float32) - COLOURS[None, None]) ** 2).sum(-1)
    return d.argmin(-1)


def interior(lab: np.ndarray) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood has one label (away from block edges, where bilinear blends)."""
    pad = np.pad(lab.astype(np.int32), 1, mode="edge")
    same = np.ones(lab.shape, bool)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            same &= pad[dy:dy + lab.shape[0], dx:dx + lab.shape[1]] == lab
    return same & (lab != 255)


def assert_aligned(sample: dict, min_fraction: float = 0.3) -> None:
    img, lab = sample["img"], sample["gt_seg"]
    assert img.shape[:2] == lab.shape if img.ndim == 3 and img.shape[-1] == 3 else img.shape[1:] == lab.shape
    m = interior(lab)
    assert m.mean() > min_fraction, "too few interior pixels to test"
    np.testing.assert_array_equal(decode(img)[m], lab[m])


# -- alignment ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_train_pipeline_keeps_image_and_label_aligned(seed):
    pipe = Compose([dict(type="SegResize", img_scale=(84, 60), ratio_range=(0.6, 2.5)),
                    dict(type="RandomCrop", crop_size=(48, 40), cat_max_ratio=0.75),
                    dict(type="RandomFlip", prob=0.5),
                    dict(type="RandomFlip", prob=0.5, direction="vertical"),
                    dict(type="Pad", size=(48, 40), pad_val=0, seg_pad_val=255)])
    out = pipe(pattern(), np.random.default_rng(seed))
    assert out["img"].shape == (48, 40, 3) and out["gt_seg"].shape == (48, 40)
    assert_aligned(out, 0.2)
    # padded area: ignored label, image pad value
    h, w = out["meta"]["img_shape"]
    assert (out["gt_seg"][h:] == 255).all() and (out["gt_seg"][:, w:] == 255).all()
    assert (out["img"][h:] == 0).all() and (out["img"][:, w:] == 0).all()


def test_crop_and_flip_are_exact():
    s = pattern()
    ref = s["gt_seg"].copy()
    out = RandomFlip(prob=1.0)(RandomCrop((30, 50))(s, np.random.default_rng(3)), np.random.default_rng(0))
    y1, y2, x1, x2 = out["meta"]["crop_bbox"]
    np.testing.assert_array_equal(out["gt_seg"], ref[y1:y2, x1:x2][:, ::-1])
    valid = out["gt_seg"] != 255
    np.testing.assert_array_equal(decode(out["img"])[valid], out["gt_seg"][valid])
    assert out["meta"]["flip"] is True


@pytest.mark.parametrize("scale,keep", [((200, 100), True), ((33, 47), False), ((500, 41), True)])
def test_resize_aligned(scale, keep):
    out = SegResize(img_scale=scale, keep_ratio=keep)(pattern(), np.random.default_rng(0))
    assert out["gt_seg"].dtype == np.uint8 and set(np.unique(out["gt_seg"])) <= set(range(6)) | {255}
    assert_aligned(out, 0.05)


def test_resize_to_multiple_aligned():
    out = ResizeToMultiple(size_divisor=32)(pattern(), np.random.default_rng(0))
    assert out["img"].shape[:2] == (64, 96) == out["gt_seg"].shape
    assert_aligned(out)


# -- sizes -------------------------------------------------------------------------------------
def test_resize_sizes():
    s = {"img": np.zeros((100, 200, 3), np.uint8), "gt_seg": np.zeros((100, 200), np.uint8)}
    out = SegResize(img_scale=(2048, 512), keep_ratio=True)(dict(s), np.random.default_rng(0))
    assert out["img"].shape == (512, 1024, 3) and out["gt_seg"].shape == (512, 1024)  # long <= 2048, short <= 512
    assert out["meta"]["scale_factor"] == (1024 / 200, 512 / 100)
    out = SegResize(img_scale=(30, 20), keep_ratio=False)(dict(s), np.random.default_rng(0))
    assert out["img"].shape == (20, 30, 3)  # img_scale is (w, h)
    shorts = {SegResize(img_scale=(400, 100), ratio_range=(0.5, 2.0))(dict(s), np.random.default_rng(i))["img"].shape[0]
              for i in range(20)}
    assert min(shorts) >= 50 and max(shorts) <= 200 and len(shorts) > 5
    with pytest.raises(ValueError):
        SegResize()


def test_pad_and_errors():
    s = {"img": np.ones((10, 13, 3), np.float32), "gt_seg": np.zeros((10, 13), np.uint8)}
    out = Pad(size_divisor=8)(dict(s), np.random.default_rng(0))
    assert out["img"].shape == (16, 16, 3) and out["meta"]["pad_shape"] == (16, 16)
    assert (out["gt_seg"][10:] == 255).all() and (out["img"][10:] == 0).all()
    with pytest.raises(ValueError, match=r"larger than the pad size 8x20"):
        Pad(size=(8, 20))(dict(s), np.random.default_rng(0))
    with pytest.raises(ValueError):
        Pad()


def test_random_crop_cat_max_ratio():
    lab = np.zeros((100, 100), np.uint8)
    lab[:50, :50] = 1  # a second class in one quarter
    lab[90:, 90:] = 255

    def dominated(ratio, seed):
        s = {"img": np.zeros((100, 100, 3), np.uint8), "gt_seg": lab.copy()}
        out = RandomCrop((40, 40), cat_max_ratio=ratio)(s, np.random.default_rng(seed))
        vals, counts = np.unique(out["gt_seg"], return_counts=True)
        counts = counts[vals != 255]
        return counts.max() / counts.sum() >= 0.75

    free = np.mean([dominated(1.0, i) for i in range(100)])
    constrained = np.mean([dominated(0.75, i) for i in range(100)])
    assert free > 0.7 and constrained < free / 2


def test_small_image_crop_takes_all():
    s = {"img": np.zeros((10, 12, 3), np.uint8), "gt_seg": np.zeros((10, 12), np.uint8)}
    out = RandomCrop((32, 32))(s, np.random.default_rng(0))
    assert out["img"].shape == (10, 12, 3)


# -- randomness, photometric, packing ------------------------------------------------------------
def test_same_rng_same_output():
    pipe = Compose([dict(type="SegResize", img_scale=(84, 60), ratio_range=(0.5, 2.0)),
                    dict(type="RandomCrop", crop_size=(32, 32)), dict(type="RandomFlip"),
                    dict(type="PhotoMetricDistortion")])
    a = pipe(pattern(), np.random.default_rng(7))
    b = pipe(pattern(), np.random.default_rng(7))
    c = pipe(pattern(), np.random.default_rng(8))
    np.testing.assert_array_equal(a["img"], b["img"])
    np.testing.assert_array_equal(a["gt_seg"], b["gt_seg"])
    assert not np.array_equal(a["img"], c["img"]) or not np.array_equal(a["gt_seg"], c["gt_seg"])


def test_photometric_distortion_touches_image_only():
    changed = 0
    for seed in range(8):
        s = pattern()
        lab, img = s["gt_seg"].copy(), s["img"].copy()
        out = PhotoMetricDistortion()(s, np.random.default_rng(seed))
        assert out["img"].dtype == np.uint8 and out["img"].shape == img.shape
        np.testing.assert_array_equal(out["gt_seg"], lab)
        changed += not np.array_equal(out["img"], img)
    assert changed >= 6
    with pytest.raises(ValueError, match="before Normalize"):
        PhotoMetricDistortion()({"img": np.zeros((4, 4, 3), np.float32)}, np.random.default_rng(0))


def test_full_pipeline_packs_chw_float_and_int32_labels():
    pipe = Compose([dict(type="SegResize", img_scale=(84, 60), ratio_range=(0.5, 2.0)),
                    dict(type="RandomCrop", crop_size=(32, 32), cat_max_ratio=0.75), dict(type="RandomFlip"),
                    dict(type="PhotoMetricDistortion"), dict(type="Normalize"),
                    dict(type="Pad", size=(32, 32)), dict(type="PackSegInputs")])
    out = pipe(pattern(), np.random.default_rng(0))
    assert out["img"].shape == (3, 32, 32) and out["img"].dtype == np.float32 and out["img"].flags.c_contiguous
    assert out["gt_seg"].shape == (32, 32) and out["gt_seg"].dtype == np.int32
    assert isinstance(PackSegInputs()(pattern(), None)["gt_seg"], np.ndarray)
    assert TRANSFORMS.get("SegResize") is SegResize


# -- test-time helpers ------------------------------------------------------------------------------
def test_tta_views():
    tta = TestTimeAug(img_scale=(2048, 512), ratios=(0.5, 1.0), flip=True, size_divisor=32)
    views = tta.views(100, 200)
    assert [v.flip for v in views] == [False, True, False, True]
    assert views[0].size == (256, 512) and views[2].size == (512, 1024)
    assert TestTimeAug(ratios=(1.0,), size_divisor=32).views(100, 200)[0].size == (128, 224)
    assert TestTimeAug().is_identity and not tta.is_identity


def test_slide_windows_cover_everything():
    for h, w, crop, stride in ((10, 13, 4, 3), (512, 1024, (256, 256), (170, 170)), (5, 5, 8, 6)):
        cover = np.zeros((h, w), int)
        wins = slide_windows(h, w, crop, stride)
        for y1, y2, x1, x2 in wins:
            cover[y1:y2, x1:x2] += 1
            ch, cw = (crop, crop) if isinstance(crop, int) else crop
            assert y2 - y1 == min(ch, h) and x2 - x1 == min(cw, w)
        assert cover.min() >= 1
    assert [w[0] for w in slide_windows(10, 4, 4, 3)] == [0, 3, 6]  # mmseg's grid: last window ends at the border


def test_slide_and_aug_predict_reference():
    rng = np.random.default_rng(0)
    img = rng.normal(size=(2, 3, 17, 23)).astype(np.float32)
    weights = rng.normal(size=(4, 3)).astype(np.float32)

    def pixelwise(x):  # a per-pixel linear classifier: equivariant to crops and flips
        return np.einsum("kc,nchw->nkhw", weights, x)

    full = pixelwise(img)
    np.testing.assert_allclose(slide_predict(img, pixelwise, 4, crop_size=8, stride=5), full, rtol=1e-5, atol=1e-5)
    probs = aug_predict(img, pixelwise, TestTimeAug(flip=True))
    np.testing.assert_allclose(probs, softmax(full, 1), rtol=1e-5, atol=1e-6)
    multi = aug_predict(img, pixelwise, TestTimeAug(ratios=(0.5, 1.0, 1.5), flip=True))
    assert multi.shape == (2, 4, 17, 23)
    np.testing.assert_allclose(multi.sum(1), 1.0, rtol=1e-5)
    assert (multi.argmax(1) == full.argmax(1)).mean() > 0.7
