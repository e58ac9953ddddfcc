"""jvision.mim masking and reconstruction targets, and the shared MAE decoder.

MAE's own parity (noise -> ids/mask, loss, pred) is tested through tools/compare.py in
tests/test_compare.py; the HOG fixture and VideoMAE's engine target are checked here.
"""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt

from jvision.convert import load_state_dict, read_state_dict
from jvision.convert.fixtures import check_folder
from jvision.mim.hog import HOGLayer, hog_per_patch
from jvision.mim.masking import (BlockwiseMasking, RandomMasking, TubeMasking, build_masking, indices_from_mask,
                                 masking_indices)
from jvision.mim.targets import build_target, patchify, unpatchify
from jvision.models.mae import MAEDecoder, MaskedAutoencoderViT

TINY_MAE = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, decoder_embed_dim=16,
                decoder_depth=1, decoder_num_heads=2)


# ------------------------------------------------------------------------------------------------
# Masking
# ------------------------------------------------------------------------------------------------
def test_random_masking_follows_mae_count_and_is_deterministic():
    gen = RandomMasking((14, 14), 0.75)
    m1 = gen(3, np.random.default_rng(5))
    m2 = gen(3, np.random.default_rng(5))
    np.testing.assert_array_equal(m1, m2)
    assert m1.shape == (3, 196) and (m1.sum(1) == 196 - 49).all() and gen.num_masked == 147
    assert not np.array_equal(m1[0], m1[1])
    # noise path: the generator's noise through MAE's argsort gives the same mask
    noise = gen.noise(3, np.random.default_rng(5))
    _, _, keep, mask = masking_indices(noise, 0.75)
    assert keep == 49
    np.testing.assert_array_equal(mask.numpy().astype(bool), m1)


def test_blockwise_masking_masks_whole_2x2_groups_at_cmae_ratio():
    gen = BlockwiseMasking((14, 14), 0.65, block=2)
    mask = gen(4, np.random.default_rng(0))
    groups_kept = int(49 * (1 - 0.65))                     # CMAE: int(seq_len * (1 - ratio)) groups
    assert gen.num_masked == 196 - 4 * groups_kept == 128
    assert (mask.sum(1) == 128).all()
    blocks = mask.reshape(4, 7, 2, 7, 2)
    assert (blocks == blocks[:, :, :1, :, :1]).all()       # every 2x2 group is all in or all out
    video = BlockwiseMasking((2, 4, 4), 0.5)(2, np.random.default_rng(1)).reshape(2, 2, 16)
    np.testing.assert_array_equal(video[:, 0], video[:, 1])


def test_tube_masking_repeats_one_spatial_mask_over_time():
    gen = TubeMasking((8, 14, 14), 0.9)
    mask = gen(2, np.random.default_rng(3)).reshape(2, 8, 196)
    assert (mask.sum(-1) == int(0.9 * 196)).all() and gen.num_masked == 8 * 176
    assert (mask == mask[:, :1]).all()
    assert not np.array_equal(mask[0, 0], mask[1, 0])
    with pytest.raises(ValueError, match="mask_ratio"):
        TubeMasking((2, 4, 4), 1.0)
    with pytest.raises(KeyError, match="unknown"):
        build_masking("checkerboard", (4, 4))


def test_indices_from_mask_round_trip():
    mask = TubeMasking((2, 4, 4), 0.75)(3, np.random.default_rng(0))
    ids_shuffle, ids_restore, keep, m = indices_from_mask(mask)
    s, r = ids_shuffle.numpy(), ids_restore.numpy()
    assert keep == 8 and (m.numpy().astype(bool) == mask).all()
    np.testing.assert_array_equal(np.take_along_axis(s, r, 1), np.tile(np.arange(32), (3, 1)))
    kept = s[:, :keep]
    assert (np.diff(kept, axis=1) > 0).all() and not mask[np.arange(3)[:, None], kept].any()
    with pytest.raises(ValueError, match="same number"):
        indices_from_mask(np.array([[True, False], [True, True]]))


# ------------------------------------------------------------------------------------------------
# HOG
# ------------------------------------------------------------------------------------------------
def test_hog_fixture_passes_compare(parity_dir):
    report = check_folder(parity_dir / "hog/hog_tiny", tol=1e-4)
    assert not report.failed and not report.unchecked, report.format()
    assert {o.name for o in report.outputs} >= {"hog", "hog_maskfeat", "target_all", "target", "target_gw16_all"}


def test_hog_of_an_edge_votes_in_the_matching_orientation_bin():
    img = np.zeros((2, 3, 16, 16), np.float32)
    img[0, :, :, 8:] = 1.0                  # vertical edge: gx != 0, gy = 0 -> phase -+90 deg -> bin 4
    img[1, :, 8:, :] = 1.0                  # horizontal edge: gx = 0, gy != 0 -> phase 0 / 180 deg -> bin 0
    hog = HOGLayer(9, 8)(jt.array(img)).numpy()            # (2, 3, 9, 2, 2)
    vertical, horizontal = hog[0, :, :, :, :], hog[1]
    np.testing.assert_allclose(vertical[:, 4], 1.0, atol=1e-6)      # every cell touches the edge column
    assert np.abs(np.delete(vertical, 4, axis=1)).max() < 1e-6
    np.testing.assert_allclose(horizontal[:, 0], 1.0, atol=1e-6)
    flat = np.zeros((1, 3, 16, 16), np.float32)
    assert np.abs(HOGLayer(9, 8)(jt.array(flat)).numpy()).max() == 0.0    # no gradient, no votes (no NaN)


# ------------------------------------------------------------------------------------------------
# Targets
# ------------------------------------------------------------------------------------------------
def test_patchify_images_and_tubelets_round_trip():
    rng = np.random.default_rng(0)
    img = rng.standard_normal((2, 3, 16, 24)).astype(np.float32)
    p = patchify(jt.array(img), 8).numpy()
    assert p.shape == (2, 6, 192)
    np.testing.assert_array_equal(p[1, 4].reshape(8, 8, 3), img[1, :, 8:16, 8:16].transpose(1, 2, 0))
    np.testing.assert_array_equal(unpatchify(jt.array(p), 8, (2, 3)).numpy(), img)
    clip = rng.standard_normal((1, 3, 4, 16, 16)).astype(np.float32)
    t = patchify(jt.array(clip), 8, tubelet_size=2).numpy()
    assert t.shape == (1, 8, 2 * 8 * 8 * 3)
    np.testing.assert_array_equal(t[0, 5].reshape(2, 8, 8, 3), clip[0, :, 2:4, 0:8, 8:16].transpose(1, 2, 3, 0))
    np.testing.assert_array_equal(unpatchify(jt.array(t), 8, (2, 2, 2), tubelet_size=2).numpy(), clip)


def test_videomae_style_target_equals_the_official_engine_labels(parity_dir):
    with np.load(parity_dir / "videomae/videomae_pretrain_tiny/io.npz") as f:
        io = {k: f[k] for k in ("input", "mask", "labels")}
    target = build_target(dict(type="norm_pix", style="videomae", input_mean=(0.485, 0.456, 0.406),
                               input_std=(0.229, 0.224, 0.225)), patch_size=8, tubelet_size=2)
    out = target(jt.array(io["input"])).numpy()
    assert out.shape == (2, 128, 384) and target.dim == 384
    labels = out[io["mask"]].reshape(2, -1, 384)
    np.testing.assert_allclose(labels, io["labels"], atol=1e-4, rtol=1e-4)


def test_hog_target_on_patches_and_tubelets():
    rng = np.random.default_rng(1)
    img = jt.array(rng.standard_normal((2, 3, 16, 16)).astype(np.float32))
    hog = build_target("hog", patch_size=16)
    assert hog.dim == 108
    np.testing.assert_allclose(hog(img).numpy(), hog_per_patch(HOGLayer()(img), 16, 8).numpy(), atol=1e-6)
    clip = jt.array(rng.standard_normal((1, 3, 2, 16, 16)).astype(np.float32))
    video = build_target("hog", patch_size=16, tubelet_size=2)
    out = video(clip).numpy()
    assert out.shape == (1, 1, 216) == (1, 1, video.dim)
    frame1 = hog_per_patch(HOGLayer()(clip[:, :, 1]), 16, 8).numpy()
    np.testing.assert_allclose(out[0, 0, 108:], frame1[0, 0], atol=1e-6)   # (time, channel, bin, cell) order


def test_teacher_target_resizes_to_the_student_grid_and_scores_cosine():
    teacher = build_target(dict(type="teacher", model=dict(type="VisionTransformer", img_size=32, patch_size=16,
                                                           embed_dim=16, depth=1, num_heads=2, num_classes=0)),
                           patch_size=8, img_size=32)
    x = jt.array(np.random.default_rng(2).standard_normal((2, 3, 32, 32)).astype(np.float32))
    feats = teacher(x)                                       # teacher grid 2x2 -> student grid 4x4
    assert tuple(feats.shape) == (2, 16, 16) and teacher.dim == 16
    np.testing.assert_allclose(feats.numpy().mean(-1), 0.0, atol=1e-5)      # LayerNorm-normalised
    mask = jt.array(np.tile([1.0, 0.0], (2, 8)).astype(np.float32))
    assert abs(teacher.loss(feats * 3.0, feats, mask).item()) < 1e-5       # cosine ignores scale
    assert teacher.loss(-feats, feats, mask).item() == pytest.approx(2.0, abs=1e-5)
    assert not [k for k in MaskedAutoencoderViT(**TINY_MAE, target=teacher).state_dict() if "teacher" in k]


# ------------------------------------------------------------------------------------------------
# The shared decoder and MAE options
# ------------------------------------------------------------------------------------------------
def test_mae_decoder_module_reproduces_the_official_decoder(parity_dir):
    weights = read_state_dict(parity_dir / "mae/mae_tiny/weights.pth")[0]
    with np.load(parity_dir / "mae/mae_tiny/io.npz") as f:
        io = {k: f[k] for k in f.files}
    decoder = MAEDecoder(16, 32, decoder_embed_dim=16, depth=1, num_heads=2, out_dim=192)
    load_state_dict(decoder, {k: v for k, v in weights.items() if k.startswith(("decoder", "mask_token"))}, log=None)
    decoder.eval()
    pred = decoder(jt.array(io["latent"]), jt.array(io["ids_restore"].astype(np.int32))).numpy()
    np.testing.assert_allclose(pred, io["pred"], atol=1e-4, rtol=1e-4)


def test_mae_with_blockwise_masking_and_hog_target_trains_a_step():
    model = MaskedAutoencoderViT(**TINY_MAE, target="hog", masking=dict(type="blockwise", mask_ratio=0.5))
    assert tuple(model.decoder_pred.weight.shape) == (108 // 4, 16)            # 8-px patches: one cell each
    x = jt.array(np.random.default_rng(3).standard_normal((2, 3, 32, 32)).astype(np.float32))
    out = model.val_step({"img": x, "_rng": np.random.default_rng(0)})
    mask = out["mask"].numpy().reshape(2, 2, 2, 2, 2)
    assert (mask.sum(axis=(1, 2, 3, 4)) == 8).all() and (mask == mask[:, :, :1, :, :1]).all()
    assert np.isfinite(model.train_step({"img": x, "_rng": np.random.default_rng(0)})["loss"].item())
