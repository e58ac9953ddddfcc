"""Segmentation models: NMF (forward, both gradient policies, seeded evaluation bases), the
LightHamHead / EncoderDecoder (names, losses, whole / sliding / multi-scale+flip inference), and
the errors users see. Sliding and multi-scale inference are checked against windows and view sizes
worked out by hand here (mmsegmentation's rules), not against ``jseg.transforms.tta``, which the
segmentor itself uses."""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401  (configures Jittor)
import jittor as jt

import jseg  # noqa: F401  (registers the toolbox)
from jseg.models import ConvModule, EncoderDecoder, LightHamHead
from jvision.convert import StateDictMismatchError, load_state_dict
from jseg.models.losses import CrossEntropyLoss, cross_entropy
import cv2
from jvision.ops.nmf import NMF2D, nmf2d, normalize_bases, parse_ham_kwargs, seeded_bases
from jvision.registry import MODELS


# ------------------------------------------------------------------------------------------------
# NMF
# ------------------------------------------------------------------------------------------------
def nmf_reference(x, bases, steps, eps=1e-6):
    """The official NMF2D algorithm in float64 numpy: x [B, C, H, W], bases [B, D, R] (S=1)."""
    b, c, h, w = x.shape
    xs = x.reshape(b, c, h * w).astype(np.float64)
    bs = bases.astype(np.float64)
    logits = np.einsum("bdn,bdr->bnr", xs, bs)
    coef = np.exp(logits - logits.max(-1, keepdims=True))
    coef /= coef.sum(-1, keepdims=True)

    def upd_coef(bs, coef):
        return coef * np.einsum("bdn,bdr->bnr", xs, bs) / (coef @ (bs.transpose(0, 2, 1) @ bs) + eps)

    for _ in range(steps):
        coef = upd_coef(bs, coef)
        bs = bs * (xs @ coef) / (bs @ (coef.transpose(0, 2, 1) @ coef) + eps)
    coef = upd_coef(bs, coef)
    return (bs @ coef.transpose(0, 2, 1)).reshape(b, c, h, w), bs, coef


def _nonneg(rng, *shape):
    return np.maximum(rng.standard_normal(shape), 0).astype(np.float32) + 0.01


def test_nmf_matches_reference_train_and_eval_steps():
    rng = np.random.default_rng(0)
    x = _nonneg(rng, 2, 16, 5, 6)
    bases = normalize_bases(rng.random((2, 16, 4), dtype=np.float32))
    for steps in (0, 6, 7):
        ours = nmf2d(jt.array(x), jt.array(bases), steps).numpy()
        ref = nmf_reference(x, bases, steps)[0]
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)
    # the module picks 6 steps in training and 7 in evaluation
    m = NMF2D(channels=16, rank=4)
    m.train()
    np.testing.assert_allclose(m(jt.array(x), bases).numpy(), nmf_reference(x, bases, 6)[0], rtol=1e-4, atol=1e-5)
    m.eval()
    np.testing.assert_allclose(m(jt.array(x), bases).numpy(), nmf_reference(x, bases, 7)[0], rtol=1e-4, atol=1e-5)


def test_nmf_full_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    x = _nonneg(rng, 1, 4, 2, 3)
    bases = normalize_bases(rng.random((1, 4, 2), dtype=np.float32))
    wts = rng.standard_normal(x.shape)
    xv = jt.array(x)
    loss = (nmf2d(xv, jt.array(bases), 3) * jt.array(wts.astype(np.float32))).sum()
    grad = jt.grad(loss, xv).numpy()

    def f(xx):
        return float((nmf_reference(xx, bases, 3)[0] * wts).sum())
    num = np.zeros_like(x, dtype=np.float64)
    h = 1e-6
    for idx in np.ndindex(x.shape):
        xp, xm = x.astype(np.float64), x.astype(np.float64)
        xp[idx] += h
        xm[idx] -= h
        num[idx] = (f(xp) - f(xm)) / (2 * h)
    np.testing.assert_allclose(grad, num, rtol=2e-3, atol=2e-4)


def test_nmf_one_step_gradient_treats_the_iterations_as_constants():
    rng = np.random.default_rng(2)
    x = _nonneg(rng, 1, 8, 3, 3)
    bases = normalize_bases(rng.random((1, 8, 3), dtype=np.float32))
    wts = jt.array(rng.standard_normal(x.shape).astype(np.float32))
    xv = jt.array(x)
    full_out = nmf2d(xv, jt.array(bases), 6)
    one_out = nmf2d(xv, jt.array(bases), 6, grad_through_steps=False)
    np.testing.assert_allclose(one_out.numpy(), full_out.numpy(), rtol=1e-6, atol=1e-7)  # same forward
    g_full = jt.grad((full_out * wts).sum(), xv).numpy()
    g_one = jt.grad((one_out * wts).sum(), xv).numpy()
    # expected one-step gradient: bases_K and coef_K (after the loop) are constants
    b_k, c_k = [], []
    xs64 = x.reshape(1, 8, 9).astype(np.float64)
    bs = bases.astype(np.float64)
    logits = np.einsum("bdn,bdr->bnr", xs64, bs)
    coef = np.exp(logits - logits.max(-1, keepdims=True))
    coef /= coef.sum(-1, keepdims=True)
    for _ in range(6):
        coef = coef * np.einsum("bdn,bdr->bnr", xs64, bs) / (coef @ (bs.transpose(0, 2, 1) @ bs) + 1e-6)
        bs = bs * (xs64 @ coef) / (bs @ (coef.transpose(0, 2, 1) @ coef) + 1e-6)
    b_k, c_k = jt.array(bs.astype(np.float32)), jt.array(coef.astype(np.float32))
    xv2 = jt.array(x)
    xs = xv2.reshape(1, 8, 9)
    num = jt.nn.bmm(xs.transpose(0, 2, 1), b_k)
    den = jt.nn.bmm(c_k, jt.nn.bmm(b_k.transpose(0, 2, 1), b_k)) + 1e-6
    y = jt.nn.bmm(b_k, (c_k * num / den).transpose(0, 2, 1)).reshape(x.shape)
    g_expected = jt.grad((y * wts).sum(), xv2).numpy()
    np.testing.assert_allclose(g_one, g_expected, rtol=1e-3, atol=1e-5)
    assert np.abs(g_full - g_one).max() > 1e-3 * np.abs(g_full).max()  # the policies really differ


def test_nmf_eval_bases_are_seeded_and_batch_independent():
    rng = np.random.default_rng(3)
    x = _nonneg(rng, 3, 16, 4, 4)
    m = NMF2D(channels=16, rank=4, eval_seed=5)
    m.eval()
    a = m(jt.array(x)).numpy()
    b = m(jt.array(x)).numpy()
    np.testing.assert_array_equal(a, b)                       # the same every call
    np.testing.assert_array_equal(m.last_bases.numpy()[0], seeded_bases(5, (1, 16, 4))[0])
    alone = m(jt.array(x[1:2])).numpy()
    np.testing.assert_allclose(alone[0], a[1], rtol=1e-5, atol=1e-6)  # independent of the batch
    other = NMF2D(channels=16, rank=4, eval_seed=6)
    other.eval()
    assert np.abs(other(jt.array(x)).numpy() - a).max() > 1e-4   # the seed matters
    m.train()                                                  # training draws fresh bases
    jt.set_seed(0)
    t1 = m(jt.array(x)).numpy()
    t2 = m(jt.array(x)).numpy()
    assert np.abs(t1 - t2).max() > 1e-5
    official = NMF2D(channels=16, rank=4, eval_seed=None)      # official behaviour: random in eval too
    official.eval()
    assert np.abs(official(jt.array(x)).numpy() - official(jt.array(x)).numpy()).max() > 1e-5


def test_ham_kwargs_spellings_and_errors():
    assert parse_ham_kwargs(dict(MD_R=16)) == {"rank": 16}
    assert parse_ham_kwargs(dict(md_r=16, train_steps=3, INV_T=100, MD_D=512)) == {"rank": 16, "train_steps": 3}
    with pytest.raises(KeyError, match="MD_Q"):
        parse_ham_kwargs(dict(MD_Q=1))
    with pytest.raises(NotImplementedError):
        parse_ham_kwargs(dict(SPATIAL=False))
    with pytest.raises(ValueError, match=r"\[B\*S, D, R\]"):
        NMF2D(channels=8, rank=4)(jt.ones((1, 8, 2, 2)), np.ones((1, 8, 5), np.float32))


# ------------------------------------------------------------------------------------------------
# bricks, loss
# ------------------------------------------------------------------------------------------------
def test_conv_module_names_follow_mmcv():
    gn = ConvModule(8, 16, 1, norm_cfg=dict(type="GN", num_groups=4))
    assert sorted(gn.state_dict()) == ["conv.weight", "gn.bias", "gn.weight"]   # no conv bias with a norm
    plain = ConvModule(8, 16, 1, norm_cfg=None, act_cfg=None)
    assert sorted(plain.state_dict()) == ["conv.bias", "conv.weight"]
    bn = ConvModule(8, 16, 3, padding=1, norm_cfg=dict(type="SyncBN"))
    assert "bn.running_mean" in bn.state_dict()
    with pytest.raises(ValueError, match="LN"):
        ConvModule(8, 16, 1, norm_cfg=dict(type="LN"))


def test_cross_entropy_ignore_index_and_class_weights():
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    label = rng.integers(0, 3, (2, 4, 5)).astype(np.int32)
    label[0, :2] = 255
    cw = np.array([0.5, 1.0, 2.0], np.float32)
    z = logits - logits.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    valid = label != 255
    safe = np.where(valid, label, 0)
    nll = -np.take_along_axis(logp, safe[:, None], 1)[:, 0] * valid
    ours = cross_entropy(jt.array(logits), jt.array(label)).item()
    assert ours == pytest.approx(nll.mean(), rel=1e-5)               # mmseg 0.x: mean over all pixels
    ours = cross_entropy(jt.array(logits), jt.array(label), avg_non_ignore=True).item()
    assert ours == pytest.approx(nll.sum() / valid.sum(), rel=1e-5)
    loss = CrossEntropyLoss(class_weight=cw.tolist(), loss_weight=2.0)
    assert loss(jt.array(logits), jt.array(label)).item() == pytest.approx(2 * (nll * cw[safe]).mean(), rel=1e-5)
    with pytest.raises(ValueError, match="resize"):
        cross_entropy(jt.array(logits), jt.array(label[:, :2]))


# ------------------------------------------------------------------------------------------------
# segmentor
# ------------------------------------------------------------------------------------------------
def tiny_segmentor(num_classes=5, **test_cfg) -> EncoderDecoder:
    jt.set_seed(0)
    return MODELS.build(dict(
        type="EncoderDecoder",
        backbone=dict(type="MSCAN", embed_dims=[8, 16, 32, 64], mlp_ratios=[2, 2, 2, 2], depths=[1, 1, 1, 1]),
        decode_head=dict(type="LightHamHead", in_channels=[16, 32, 64], channels=16, ham_channels=16,
                         ham_kwargs=dict(MD_R=4), num_classes=num_classes, norm_cfg=dict(type="GN", num_groups=4)),
        test_cfg=test_cfg or None))


def _logits_fn(model):
    def fn(x):
        with jt.no_grad():
            return model.encode_decode(jt.array(np.ascontiguousarray(x, dtype=np.float32))).numpy()
    return fn


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(5).standard_normal((1, 3, 48, 40)).astype(np.float32)


def test_slide_equals_whole_when_one_window_covers_the_image(image):
    model = tiny_segmentor()
    model.eval()
    with jt.no_grad():
        whole = model.whole_inference(jt.array(image)).numpy()
        for crop in ((48, 40), (64, 64)):
            model.set_test_cfg(mode="slide", crop_size=crop, stride=(32, 32))
            np.testing.assert_allclose(model.slide_inference(jt.array(image)).numpy(), whole, rtol=1e-5, atol=1e-6)
    pred_slide = model.predict(image)
    model.set_test_cfg(mode="whole")
    np.testing.assert_array_equal(model.predict(image), pred_slide)


def _record_inputs(model):
    """Wrap ``model.encode_decode`` to keep a copy of every input it is given."""
    seen, original = [], model.encode_decode

    def recording(img, *args, **kwargs):
        seen.append(img.numpy().copy())
        return original(img, *args, **kwargs)
    model.encode_decode = recording
    return seen


def test_slide_averages_overlapping_windows_like_mmseg(image):
    """48x40 input, 32x32 windows every (16, 24): mmseg's grid puts rows at y = 0, 16 and columns
    at x = 0, 24 -> shifted back to 8 so the last window ends at the border."""
    model = tiny_segmentor(mode="slide", crop_size=(32, 32), stride=(16, 24))
    model.eval()
    windows = [(0, 32, 0, 32), (0, 32, 8, 40), (16, 48, 0, 32), (16, 48, 8, 40)]   # (y1, y2, x1, x2)
    logits_fn = _logits_fn(model)
    ref = np.zeros((1, model.num_classes, 48, 40), np.float64)
    count = np.zeros((48, 40))
    for y1, y2, x1, x2 in windows:
        ref[:, :, y1:y2, x1:x2] += logits_fn(image[:, :, y1:y2, x1:x2])
        count[y1:y2, x1:x2] += 1
    assert count.min() == 1 and count.max() == 4 and count[16:32, 8:32].min() == 4
    ref /= count
    seen = _record_inputs(model)
    with jt.no_grad():
        ours = model.slide_inference(jt.array(image)).numpy()
    assert len(seen) == len(windows)
    for crop, (y1, y2, x1, x2) in zip(seen, windows):                  # exactly these windows, in order
        np.testing.assert_array_equal(crop, image[:, :, y1:y2, x1:x2])
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)
    assert np.abs(ours - logits_fn(image)).max() > 1e-3   # windows really differ from whole


def _resize_chw(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear, half-pixel centres (align_corners=False), one channel at a time."""
    return np.stack([cv2.resize(c, (w, h), interpolation=cv2.INTER_LINEAR) for c in x[0]])[None]


def test_multiscale_flip_inference_matches_reference(image):
    """img_scale (w, h) = (40, 48) x ratios 0.75 / 1.25 on a 48x40 input, keep-ratio, rounded up to
    multiples of 8: 0.75 -> 36x30 -> 40x32; 1.25 -> 60x50 -> 64x56; each also flipped. Softmax
    of each view's logits, resized back to 48x40, averaged."""
    cfg = dict(img_scale=(40, 48), ratios=(0.75, 1.25), flip=True, size_divisor=8)
    model = tiny_segmentor(**cfg)
    model.eval()
    views = [((40, 32), False), ((40, 32), True), ((64, 56), False), ((64, 56), True)]
    logits_fn = _logits_fn(model)
    total = 0
    for (h, w), flip in views:
        x = _resize_chw(image, h, w)
        x = x[..., ::-1] if flip else x
        logits = logits_fn(np.ascontiguousarray(x))
        logits = logits[..., ::-1] if flip else logits
        logits = _resize_chw(np.ascontiguousarray(logits), 48, 40)
        e = np.exp(logits - logits.max(1, keepdims=True))
        total = total + e / e.sum(1, keepdims=True)
    ref = total / len(views)
    seen = _record_inputs(model)
    with jt.no_grad():
        probs, is_prob = model.inference(jt.array(image), out_size=(48, 40))
    assert is_prob
    assert [tuple(v.shape[2:]) for v in seen] == [size for size, _ in views]
    np.testing.assert_array_equal(seen[1], seen[0][..., ::-1])        # the flipped view is the mirror image
    np.testing.assert_allclose(probs.numpy(), ref, rtol=1e-4, atol=2e-5)


def test_val_step_predicts_at_label_resolution_and_is_deterministic():
    model = tiny_segmentor(img_scale=(64, 48), keep_ratio=True)
    rng = np.random.default_rng(6)
    imgs = [rng.standard_normal((3, 30, 50)).astype(np.float32), rng.standard_normal((3, 41, 33)).astype(np.float32)]
    gts = [np.zeros((30, 50), np.int32), np.zeros((41, 33), np.int32)]
    model.eval()
    with jt.no_grad():
        out1 = model.val_step({"img": imgs, "gt_seg": gts, "meta": [{}, {}]})
        out2 = model.val_step({"img": imgs, "gt_seg": gts, "meta": [{}, {}]})
        no_gt = model.val_step({"img": jt.array(imgs[0][None]), "meta": [{"ori_shape": (15, 25, 3)}]})
    assert [o.shape for o in out1] == [(30, 50), (41, 33)]
    assert all(o.dtype == np.int32 and o.min() >= 0 and o.max() < model.num_classes for o in out1)
    for a, b in zip(out1, out2):
        np.testing.assert_array_equal(a, b)   # seeded NMF bases: the same prediction every time
    assert no_gt[0].shape == (15, 25)
    # one image per forward by default: a prediction does not depend on its batch mates
    batch = jt.array(np.stack([imgs[1], imgs[1][:, ::-1].copy(), imgs[1] * 0.5]))
    with jt.no_grad():
        together = model.val_step({"img": batch, "gt_seg": jt.zeros((3, 41, 33), "int32")})
        alone = model.val_step({"img": batch[2:3], "gt_seg": jt.zeros((1, 41, 33), "int32")})
    np.testing.assert_array_equal(together[2], alone[0])


def test_train_step_loss_and_gradients():
    model = tiny_segmentor(num_classes=3)
    model.train()
    rng = np.random.default_rng(7)
    img = jt.array(rng.standard_normal((2, 3, 32, 32)).astype(np.float32))
    gt = rng.integers(0, 3, (2, 32, 32)).astype(np.int32)
    gt[:, :4] = 255
    out = model.train_step({"img": img, "gt_seg": jt.array(gt)})
    assert set(out) == {"loss", "decode.loss_ce", "decode.acc_seg"}
    assert np.isfinite(out["loss"].item()) and 0 <= out["decode.acc_seg"].item() <= 100
    grads = jt.grad(out["loss"], [model.decode_head.conv_seg.weight, model.decode_head.hamburger.ham_in.conv.weight,
                                  model.backbone.patch_embed1.proj[0].weight])
    assert all(float(np.abs(g.numpy()).max()) > 0 for g in grads)
    with pytest.raises(ValueError, match="RandomCrop"):
        model.train_step({"img": [np.zeros((3, 8, 8), np.float32), np.zeros((3, 9, 8), np.float32)],
                          "gt_seg": [np.zeros((8, 8)), np.zeros((9, 8))]})


def test_configuration_errors_are_clear(tmp_path):
    with pytest.raises(KeyError, match="crop"):
        tiny_segmentor(crop=3)
    with pytest.raises(ValueError, match="crop_size and stride"):
        tiny_segmentor(mode="slide")
    with pytest.raises(ValueError, match="leaves pixels"):
        tiny_segmentor(mode="slide", crop_size=16, stride=32)
    # a missing backbone file does not stop evaluation of a whole checkpoint, but training refuses
    model = MODELS.build(dict(type="segnext_t", num_classes=4, pretrained=str(tmp_path / "mscan_t.pth")))
    with pytest.raises(FileNotFoundError, match="model.pretrained=None"):
        model.train_step({"img": jt.zeros((1, 3, 32, 32)), "gt_seg": jt.zeros((1, 32, 32), "int32")})
    # an ImageNet MSCAN file (backbone keys + classifier head.*) loads strictly, the head skipped
    backbone = model.backbone.state_dict()
    state = {k: v.numpy() + 1.0 for k, v in backbone.items()}
    state["head.weight"] = np.zeros((1000, 256), np.float32)
    np.savez(tmp_path / "mscan_t.npz", **state)
    model.init_backbone(str(tmp_path / "mscan_t.npz"))
    k = "block1.0.mlp.fc1.weight"
    np.testing.assert_array_equal(model.backbone.state_dict()[k].numpy(), state[k])
    state.pop(k)
    np.savez(tmp_path / "broken.npz", **state)
    with pytest.raises(StateDictMismatchError, match=f"missing     {k}"):
        model.init_backbone(str(tmp_path / "broken.npz"))
    head = LightHamHead([16, 32, 64], 16, num_classes=4, ham_channels=16, norm_cfg=dict(type="GN", num_groups=4))
    state = {k: v.numpy() for k, v in head.state_dict().items()}
    state["conv_seg.weight"] = state["conv_seg.weight"][:2]
    state.pop("align.gn.bias")
    state["extra.weight"] = np.zeros(1)
    with pytest.raises(StateDictMismatchError) as err:
        load_state_dict(head, state, source="ckpt.pth", log=None)
    msg = str(err.value)
    assert "missing     align.gn.bias" in msg and "unexpected  extra.weight" in msg and "conv_seg.weight" in msg


def test_named_variants_register_and_count():
    model = MODELS.build(dict(type="segnext_t", num_classes=19))
    n = sum(int(np.prod(v.shape)) for k, v in model.state_dict().items() if "running" not in k)
    assert n == 4263414 - (150 - 19) * 257            # the ADE20K manifest's count, 19 classes instead of 150
    assert model.decode_head.hamburger.ham.rank == 16 and model.test_cfg["mode"] == "whole"


def test_variant_overrides_merge_like_configs():
    from jseg.models.segnext import SEGNEXT_VARIANTS, segnext_config
    cfg = segnext_config("t", backbone=dict(drop_path_rate=0.0), decode_head=dict(ham_kwargs=dict(MD_S=2)))
    assert cfg["backbone"] == dict(type="mscan_t", drop_path_rate=0.0)            # merged, not replaced
    assert cfg["decode_head"]["ham_kwargs"] == dict(MD_R=16, MD_S=2) and cfg["decode_head"]["num_classes"] == 150
    assert SEGNEXT_VARIANTS["t"]["backbone"]["drop_path_rate"] == 0.1             # the table is never changed
    assert segnext_config("b", decode_head=dict(num_classes=19))["decode_head"]["num_classes"] == 19
    replaced = segnext_config("t", decode_head=dict(_delete_=True, type="LightHamHead", in_channels=[1]))
    assert replaced["decode_head"] == dict(type="LightHamHead", in_channels=[1])
    with pytest.raises(ValueError, match=r"num_classes=19 but decode_head.num_classes=21"):
        segnext_config("t", num_classes=19, decode_head=dict(num_classes=21))
    with pytest.raises(TypeError, match="pretrainned.*did you mean 'pretrained'"):
        MODELS.build(dict(type="segnext_t", pretrainned="x.pth"))


# ------------------------------------------------------------------------------------------------
# configs
# ------------------------------------------------------------------------------------------------
def test_segnext_configs_follow_the_official_recipe(repo_root):
    from jvision.config import Config
    from jvision.engine.optim import build_param_groups
    classes = {"ade20k": 150, "cityscapes": 19, "voc_aug": 21, "coco_stuff164k": 171, "pascal_context": 59, "isaid": 16}
    crops = {"cityscapes": (1024, 1024), "pascal_context": (480, 480), "isaid": (896, 896)}
    paths = sorted((repo_root / "configs" / "segnext").glob("segnext_*.py"))
    assert len(paths) == 24
    for path in paths:
        size, dataset = path.stem.split("_", 2)[1:]
        cfg = Config.fromfile(path)
        assert cfg.optimizer.type == "AdamW" and cfg.optimizer.lr == 6e-5 and cfg.optimizer.weight_decay == 0.01
        assert cfg.optimizer.paramwise.custom_keys["head"]["lr_mult"] == 10.0
        assert cfg.optimizer.paramwise.custom_keys["norm"]["decay_mult"] == 0.0
        assert (cfg.schedule.type, cfg.schedule.power, cfg.schedule.warmup_iters) == ("poly", 1.0, 1500)
        assert cfg.train.max_iters == (80000 if dataset == "coco_stuff164k" else 160000), path.name
        assert cfg.data.batch_size == 16
        crop = [t for t in cfg.data.train.pipeline if t["type"] == "RandomCrop"][0]["crop_size"]
        assert tuple(crop) == crops.get(dataset, (512, 512)), path.name
        # the architecture is the registered variant's (jseg/models/segnext.py), never restated
        assert cfg.model.type == f"segnext_{size}" and set(cfg.model) == {"type", "pretrained", "num_classes", "test_cfg"}
        assert cfg.model.num_classes == classes[dataset] and cfg.model.pretrained == f"pretrained/mscan_{size}.pth"
        if dataset == "cityscapes":
            assert cfg.model.test_cfg["mode"] == "slide" and tuple(cfg.model.test_cfg["stride"]) == (768, 768)
        if size == "t":  # one size per dataset: the pipelines run, the model builds, the lr groups
            from jvision.data.base import Compose
            rng = np.random.default_rng(0)
            sample = {"img": rng.integers(0, 256, (300, 420, 3), dtype=np.uint8),
                      "gt_seg": rng.integers(0, classes[dataset], (300, 420)).astype(np.uint8), "meta": {}}
            out = Compose(cfg.data.train.pipeline)(dict(sample, meta={}), rng)
            assert out["img"].shape == (3,) + tuple(crop) and out["gt_seg"].shape == tuple(crop), path.name
            val = Compose(cfg.data.val.pipeline)(dict(sample, meta={}), rng)
            assert val["img"].shape == (3, 300, 420) and val["gt_seg"].dtype == np.int32
            model = MODELS.build(cfg.model)
            assert model.num_classes == classes[dataset] and model.decode_head.conv_seg.weight.shape[0] == classes[dataset]
            assert model.backbone.embed_dims == [32, 64, 160, 256] and model.backbone.block1[0].norm1.sync
            assert model.backbone.block4[-1].drop_path.drop_prob == pytest.approx(0.1)
            groups = build_param_groups(model, 6e-5, cfg.optimizer.paramwise)
            head = [g for g in groups if g["lr_mult"] == 10.0]
            assert head and all(n.startswith("decode_head.") for g in head for n in g["names"])
            no_decay = {n for g in groups if g["decay_mult"] == 0.0 for n in g["names"]}
            assert "backbone.block1.0.norm1.weight" in no_decay and "backbone.norm4.bias" in no_decay
