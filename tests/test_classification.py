"""Classification: image reading, ImageFolder, timm-style transforms, Mixup/CutMix, the classifier
loss, the Accuracy metric, and a short training run on generated shapes evaluated by tools/test.py."""
from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import jvision  # noqa: F401
import jittor as jt

from jvision.config import Config
from jvision.data import Compose, ImageFolder, ImageReadError, read_image
from jvision.data.synthetic import SYNTHETIC_CLASSES, SyntheticShapes, make_synthetic_dataset
from jvision.data.transforms import (IMAGENET_MEAN, IMAGENET_STD, RAND_AUGMENT_OPS, CenterCrop, ColorJitter, Normalize,
                                     RandAugment, RandomErasing, RandomResizedCrop, Resize, ToTensor,
                                     parse_rand_augment)
from jvision.engine.metrics import Accuracy
from jvision.models.classifier import Mixup, smoothed_one_hot
from jvision.registry import MODELS

REPO = Path(__file__).resolve().parents[1]
EASY_CLASSES = ["cross", "hstripes", "vstripes", "ring"]
TINY_VAN = dict(type="VAN", embed_dims=[16, 32], depths=[1, 1], mlp_ratios=[2, 2], num_stages=2,
                out_indices=[0, 1], layer_scale_init_value=1.0, num_classes=4)
TIMM_TRAIN = [
    dict(type="RandomResizedCrop", size=24, interpolation="random"),
    dict(type="RandomHorizontalFlip"),
    dict(type="RandAugment", magnitude=9, magnitude_std=0.5, increasing=True),
    dict(type="ToTensor"),
    dict(type="Normalize"),
    dict(type="RandomErasing", prob=0.25, mode="pixel"),
]


def _write_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def _rgb(h=20, w=30, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("synthetic")


# ------------------------------------------------------------------------------------------------
# image reading and ImageFolder
# ------------------------------------------------------------------------------------------------
def test_read_image_is_rgb_and_errors_name_the_path(tmp_path):
    img = np.zeros((4, 5, 3), np.uint8)
    img[..., 0] = 200  # red in RGB
    _write_png(tmp_path / "red.png", img)
    out = read_image(tmp_path / "red.png")
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8
    assert out[0, 0].tolist() == [200, 0, 0]
    assert read_image(tmp_path / "red.png", mode="gray").shape == (4, 5)

    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(ImageReadError, match="broken.jpg"):
        read_image(tmp_path / "broken.jpg")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty.png.*empty"):
        read_image(tmp_path / "empty.png")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_image(tmp_path / "missing.png")


def test_image_folder_layout_labels_and_checks(tmp_path):
    root = tmp_path / "train"
    for cls, n in (("b_dog", 2), ("a_cat", 3)):
        for i in range(n):
            _write_png(root / cls / f"{i}.png", _rgb(seed=i))
    _write_png(root / "a_cat" / "nested" / "x.png", _rgb())
    (root / "a_cat" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    ds = ImageFolder(str(root), pipeline=[dict(type="ToTensor")])
    assert ds.classes == ["a_cat", "b_dog"] and ds.class_to_idx == {"a_cat": 0, "b_dog": 1}
    assert len(ds) == 6 and ds.gt_labels.tolist() == [0, 0, 0, 0, 1, 1]
    sample = ds.prepare(5, np.random.default_rng(0))
    assert sample["img"].shape == (3, 20, 30) and sample["img"].dtype == np.float32
    assert sample["gt_label"].dtype == np.int64 and int(sample["gt_label"]) == 1
    assert sample["meta"]["filename"].endswith("b_dog/1.png")

    with pytest.raises(FileNotFoundError, match="nowhere"):
        ImageFolder(str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="zebra"):
        ImageFolder(str(root), classes=["a_cat", "zebra"])
    (root / "c_empty").mkdir()
    with pytest.raises(FileNotFoundError, match="c_empty"):
        ImageFolder(str(root))

    # a corrupt file is found at read time, with its path
    (root / "c_empty" / "bad.png").write_bytes(b"\x89PNG garbage")
    ds = ImageFolder(str(root))
    idx = [i for i, (p, _) in enumerate(ds.samples) if p.endswith("bad.png")][0]
    with pytest.raises(ImageReadError, match="bad.png"):
        ds.prepare(idx, np.random.default_rng(0))


def test_image_folder_file_list(tmp_path):
    for i in range(3):
        _write_png(tmp_path / "imgs" / f"im {i}.png", _rgb(seed=i))
    (tmp_path / "list.txt").write_text("# comment\nimgs/im 0.png 2\n\nimgs/im 1.png 0\nimgs/im 2.png 1\n")
    ds = ImageFolder(str(tmp_path), ann_file="list.txt", classes=["x", "y", "z"])
    assert len(ds) == 3 and ds.gt_labels.tolist() == [2, 0, 1] and ds.classes == ["x", "y", "z"]
    assert ds.load(0)["img"].shape == (20, 30, 3)
    assert ImageFolder(str(tmp_path), ann_file=str(tmp_path / "list.txt")).classes == ["0", "1", "2"]

    (tmp_path / "bad.txt").write_text("imgs/im 0.png 1\nimgs/im 1.png cat\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: label 'cat'"):
        ImageFolder(str(tmp_path), ann_file="bad.txt")
    (tmp_path / "range.txt").write_text("imgs/im 0.png 5\n")
    with pytest.raises(ValueError, match="out of range for 3 classes"):
        ImageFolder(str(tmp_path), ann_file="range.txt", classes=["x", "y", "z"])
    (tmp_path / "gone.txt").write_text("imgs/im 0.png 0\nimgs/missing.png 1\n")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        ImageFolder(str(tmp_path), ann_file="gone.txt")


def test_synthetic_dataset_is_deterministic_cached_and_atomic(tmp_path):
    a = make_synthetic_dataset(tmp_path / "a", num_classes=3, train_per_class=3, val_per_class=2, image_size=16)
    b = make_synthetic_dataset(tmp_path / "b", num_classes=3, train_per_class=3, val_per_class=2, image_size=16)
    files = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert len(files) == 15
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert not [p for p in (tmp_path / "a").iterdir() if ".tmp-" in p.name]  # nothing half-written
    mtime = (a / "manifest.json").stat().st_mtime_ns
    assert make_synthetic_dataset(tmp_path / "a", num_classes=3, train_per_class=3, val_per_class=2,
                                  image_size=16) == a
    assert (a / "manifest.json").stat().st_mtime_ns == mtime  # reused, not rewritten
    ds = SyntheticShapes("val", root=str(tmp_path / "a"), num_classes=3, train_per_class=3,
                         val_per_class=2, image_size=16)
    assert ds.classes == list(SYNTHETIC_CLASSES[:3]) and len(ds) == 6
    with pytest.raises(ValueError, match="synthetic classes"):
        make_synthetic_dataset(tmp_path, classes=["circle", "unicorn"])


# ------------------------------------------------------------------------------------------------
# transforms
# ------------------------------------------------------------------------------------------------
def test_train_pipeline_is_a_function_of_the_rng():
    pipe = Compose(TIMM_TRAIN)
    img = _rgb(40, 50, seed=3)
    run = lambda seed: pipe({"img": img.copy(), "gt_label": 1}, np.random.default_rng(seed))  # noqa: E731
    a, b, c = run(5), run(5), run(6)
    assert a["img"].shape == (3, 24, 24) and a["img"].dtype == np.float32
    assert np.array_equal(a["img"], b["img"])
    assert not np.array_equal(a["img"], c["img"])
    assert a["gt_label"].dtype == np.int64 and a["gt_label"].shape == ()


def test_random_resized_crop_sampling_bounds():
    t = RandomResizedCrop(size=16, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3))
    rng = np.random.default_rng(0)
    for _ in range(300):
        top, left, h, w = t.get_params(60, 90, rng)
        assert 0 <= top and top + h <= 60 and 0 <= left and left + w <= 90
        assert 0.08 * 5400 * 0.8 <= h * w <= 5400
        assert 3 / 4 * 0.85 <= w / h <= 4 / 3 * 1.15
    # impossible aspect ratios fall back to the clamped centre crop
    top, left, h, w = RandomResizedCrop(size=8, scale=(0.9, 1.0), ratio=(3.0, 4.0)).get_params(40, 40, rng)
    assert (h, w) == (13, 40) and (top, left) == (13, 0)


def test_resize_center_crop_match_reference_rules():
    img = _rgb(30, 45, seed=1)
    out = Resize(20, interpolation="bicubic")({"img": img}, None)["img"]
    assert out.shape == (20, 30, 3)
    ref = np.asarray(Image.fromarray(img).resize((30, 20), Image.Resampling.BICUBIC))
    assert np.array_equal(out, ref)  # same pixels as torchvision/timm (PIL) would give
    assert Resize((12, 7))({"img": img}, None)["img"].shape == (12, 7, 3)
    crop = CenterCrop(10)({"img": img}, None)["img"]
    assert np.array_equal(crop, img[10:20, 18:28])  # torchvision: round((30-10)/2), round((45-10)/2)
    padded = CenterCrop(40)({"img": img[:4, :6]}, None)["img"]
    assert padded.shape == (40, 40, 3) and padded[:18].sum() == 0 and np.array_equal(padded[18:22, 17:23], img[:4, :6])


def test_to_tensor_normalize_units():
    img = np.full((2, 3, 3), 255, np.uint8)
    s = ToTensor()({"img": img, "gt_label": 3}, None)
    assert s["img"].shape == (3, 2, 3) and float(s["img"].max()) == 255.0  # no division by 255
    s = Normalize()(s, None)
    expected = (255 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    assert np.allclose(s["img"][:, 0, 0], expected, atol=1e-5)
    # HWC uint8 input gives the same numbers in HWC layout
    hwc = Normalize()({"img": img}, None)["img"]
    assert hwc.shape == (2, 3, 3) and np.allclose(hwc[0, 0], expected, atol=1e-5)
    with pytest.raises(ValueError, match="0-1 units"):
        Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    with pytest.raises(TypeError, match="after ToTensor"):
        RandomErasing()({"img": img}, np.random.default_rng(0))


def test_color_jitter_factor_ranges():
    gray = np.full((4, 4, 3), 100, np.uint8)
    seen = set()
    for seed in range(30):
        out = ColorJitter(brightness=0.4, contrast=0, saturation=0)({"img": gray.copy()}, np.random.default_rng(seed))
        v = int(out["img"][0, 0, 0])
        assert 59 <= v <= 141 and (out["img"] == v).all()  # one factor in [0.6, 1.4] for all pixels
        seen.add(v)
    assert len(seen) > 10
    red = np.zeros((2, 2, 3), np.uint8)
    red[..., 0] = 255
    shifted = ColorJitter(0, 0, 0, hue=0.5)({"img": red.copy()}, np.random.default_rng(1))["img"]
    assert shifted.shape == red.shape and not np.array_equal(shifted, red)
    with pytest.raises(ValueError, match="hue"):
        ColorJitter(hue=0.7)


def test_random_erasing_fills_one_box_with_noise():
    img = np.zeros((3, 32, 32), np.float32)
    out = RandomErasing(prob=1.0, mode="pixel")({"img": img}, np.random.default_rng(0))["img"]
    changed = np.argwhere((out != 0).any(axis=0))
    (y0, x0), (y1, x1) = changed.min(0), changed.max(0)
    area = (y1 - y0 + 1) * (x1 - x0 + 1)
    assert 0.02 * 1024 * 0.5 <= area <= 1024 / 3 * 1.5
    assert np.count_nonzero(out[:, y0:y1 + 1, x0:x1 + 1]) > 0.95 * 3 * area  # per-pixel noise fills the box
    assert abs(float(out[:, y0:y1 + 1, x0:x1 + 1].std()) - 1.0) < 0.3
    same = RandomErasing(prob=0.0)({"img": img}, np.random.default_rng(0))["img"]
    assert np.array_equal(same, img)


def test_rand_augment_ops_and_timm_semantics():
    ra = RandAugment(config_str="rand-m9-mstd0.5-inc1")
    assert (ra.magnitude, ra.magnitude_std, ra.num_layers, ra.prob) == (9.0, 0.5, 2, 0.5)
    assert "PosterizeIncreasing" in ra.ops and "Posterize" not in ra.ops and len(ra.ops) == 15
    assert parse_rand_augment("rand-m7-n3") == {"magnitude": 7.0, "num_layers": 3}
    with pytest.raises(ValueError, match="unknown section"):
        parse_rand_augment("rand-m9-x1")

    img = Image.fromarray(_rgb(24, 24, seed=2))
    rng = np.random.default_rng(0)
    for name in RAND_AUGMENT_OPS:
        out = np.asarray(ra.apply_op(img, name, 9.0, rng))
        assert out.shape == (24, 24, 3) and out.dtype == np.uint8, name
        if name not in ("Solarize", "Sharpness", "SharpnessIncreasing"):  # weak at m=9 on noise
            assert not np.array_equal(out, np.asarray(img)), name
    # the increasing variants at full magnitude: solarize threshold 0 inverts, posterize keeps 0 bits
    inv = np.asarray(ra.apply_op(img, "SolarizeIncreasing", 10.0, rng))
    assert np.array_equal(inv, 255 - np.asarray(img))
    assert np.asarray(ra.apply_op(img, "PosterizeIncreasing", 10.0, rng)).max() == 0
    # magnitude noise is clipped to [0, 10]
    wide = RandAugment(magnitude=9.8, magnitude_std=5.0)
    mags = [wide._magnitude(rng) for _ in range(200)]
    assert min(mags) >= 0.0 and max(mags) == 10.0
    # prob 0 never changes the image, num_layers ops otherwise
    s = RandAugment(prob=0.0)({"img": np.asarray(img)}, rng)
    assert np.array_equal(s["img"], np.asarray(img))


# ------------------------------------------------------------------------------------------------
# mixup / cutmix, loss, metric
# ------------------------------------------------------------------------------------------------
def test_mixup_and_cutmix_targets():
    x_np = np.random.default_rng(0).standard_normal((4, 3, 16, 16)).astype(np.float32)
    labels = np.array([0, 1, 2, 3])
    y = smoothed_one_hot(labels, 5, 0.1)
    assert np.allclose(y.sum(1), 1.0) and np.isclose(y[0, 0], 1 - 0.1 + 0.02) and np.isclose(y[0, 1], 0.02)

    mix = Mixup(mixup_alpha=0.8, cutmix_alpha=0.0)
    out, t, lam = mix(jt.array(x_np), labels, 5, 0.1, np.random.default_rng(1))
    assert 0.0 < lam < 1.0 and np.allclose(t.sum(1), 1.0)
    assert np.allclose(out.numpy(), lam * x_np + (1 - lam) * x_np[::-1], atol=1e-5)
    assert np.allclose(t, lam * y + (1 - lam) * y[::-1], atol=1e-6)

    cut = Mixup(mixup_alpha=0.0, cutmix_alpha=1.0)
    for seed in range(5):
        out, t, lam = cut(jt.array(x_np), labels, 5, 0.0, np.random.default_rng(seed))
        o = out.numpy()
        pasted = ~np.isclose(o, x_np).all(axis=(0, 1))  # pixels taken from the reversed batch
        assert np.isclose(1 - pasted.mean(), lam, atol=1e-6)  # lam corrected to the clipped box
        assert np.allclose(t.sum(1), 1.0) and np.allclose(t[0, 0], lam) and np.allclose(t[0, 3], 1 - lam)

    none = Mixup(prob=0.0)
    out, t, lam = none(jt.array(x_np), labels, 5, 0.1, np.random.default_rng(0))
    assert lam == 1.0 and np.array_equal(out.numpy(), x_np) and np.allclose(t, y)
    # the switch picks both methods, and the same rng gives the same choice
    kinds = {Mixup().sample((16, 16), np.random.default_rng(s))[1] is None for s in range(20)}
    assert kinds == {True, False}
    assert Mixup().sample((16, 16), np.random.default_rng(3)) == Mixup().sample((16, 16), np.random.default_rng(3))


def test_classifier_losses_and_val_step():
    jt.set_seed(0)
    model = MODELS.build(dict(type="ImageClassifier", backbone=TINY_VAN, loss=dict(label_smoothing=0.1)))
    x = jt.array(np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32))
    labels = np.array([0, 1, 2, 3], np.int64)
    model.eval()
    logits = model.val_step({"img": x})
    assert isinstance(logits, np.ndarray) and logits.shape == (4, 4)
    loss = float(model.train_step({"img": x, "gt_label": jt.array(labels)})["loss"].item())
    m = logits.max(1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(1, keepdims=True))
    expected = float(np.mean(0.9 * -logp[np.arange(4), labels] + 0.1 * -logp.mean(1)))
    assert math.isclose(loss, expected, rel_tol=1e-4)
    with pytest.raises(ValueError, match="label 7 is out of range"):
        model.train_step({"img": x, "gt_label": jt.array(np.array([0, 1, 2, 7]))})

    model.train()
    mixed = MODELS.build(dict(type="ImageClassifier", backbone=TINY_VAN, loss=dict(label_smoothing=0.1),
                              mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0)))
    a = mixed.train_step({"img": x, "gt_label": jt.array(labels), "_rng": np.random.default_rng(4)})["loss"]
    b = mixed.train_step({"img": x, "gt_label": jt.array(labels), "_rng": np.random.default_rng(4)})["loss"]
    assert a.numel() == 1 and np.isfinite(a.item()) and math.isclose(a.item(), b.item(), rel_tol=1e-5)


def test_accuracy_metric():
    metric = Accuracy(topk=(1, 2, 5))
    metric.reset()
    logits = np.array([[3.0, 2.0, 1.0], [1.0, 3.0, 2.0], [1.0, 2.0, 3.0], [3.0, 1.0, 2.0]])
    labels = np.array([0, 2, 1, 1])  # ranks: 0, 1, 1, 2
    metric.process({"gt_label": jt.array(labels[:2])}, logits[:2])
    metric.process({"gt_label": labels[2:]}, {"logits": jt.array(logits[2:].astype(np.float32))})
    out = metric.evaluate()
    assert out["count"] == 4 and out["top1"] == 25.0 and out["top2"] == 75.0 and out["top5"] == 100.0
    shifted = logits - logits.max(1, keepdims=True)
    ce = np.log(np.exp(shifted).sum(1)) - shifted[np.arange(4), labels]
    assert math.isclose(out["loss"], ce.mean(), rel_tol=1e-6)
    with pytest.raises(ValueError, match="out of range"):
        metric.process({"gt_label": np.array([3])}, logits[:1])


# ------------------------------------------------------------------------------------------------
# configs
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["van/van_b0_in1k.py", "van/van_b3_in1k.py", "conv2former/conv2former_t_in1k.py"])
def test_imagenet_recipes(name):
    cfg = Config.fromfile(REPO / "configs" / name)
    assert cfg.optimizer.lr == 1e-3 and cfg.optimizer.weight_decay == 0.05 and cfg.data.batch_size == 1024
    assert cfg.schedule.type == "cosine" and cfg.schedule.warmup_iters == 5 * 1251
    assert cfg.train.max_iters == 300 * 1251 and cfg.model.loss.label_smoothing == 0.1
    assert cfg.model.mixup == dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5)
    assert cfg.model.backbone.drop_path_rate == (0.2 if "b3" in name else 0.1)
    train, val = Compose(cfg.data.train.pipeline), Compose(cfg.data.val.pipeline)
    s = train({"img": _rgb(300, 260, seed=4), "gt_label": 5}, np.random.default_rng(0))
    assert s["img"].shape == (3, 224, 224)
    s = val({"img": _rgb(300, 260, seed=4), "gt_label": 5}, np.random.default_rng(0))
    assert s["img"].shape == (3, 224, 224)
    assert [t["type"] for t in cfg.data.val.pipeline][:2] == ["Resize", "CenterCrop"]
    assert cfg.data.val.pipeline[0]["size"] == 248  # crop_pct 0.9 of both families' default_cfg


# ------------------------------------------------------------------------------------------------
# a short training run through the engine, evaluated by tools/test.py
# ------------------------------------------------------------------------------------------------
def _load_test_tool():
    spec = importlib.util.spec_from_file_location("jvision_tools_test", REPO / "tools" / "test.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_train_synthetic_then_evaluate_checkpoint(tmp_path, synthetic_root):
    from jvision.engine import Trainer

    syn = dict(type="SyntheticShapes", root=str(synthetic_root), classes=EASY_CLASSES, train_per_class=64,
               val_per_class=16, image_size=32, seed=0)
    norm = [dict(type="ToTensor"), dict(type="Normalize", mean=(127.5,) * 3, std=(127.5,) * 3)]
    cfg_text = f"""
model = dict(type="ImageClassifier", backbone={TINY_VAN!r}, loss=dict(label_smoothing=0.1))
data = dict(batch_size=32, val_batch_size=64, num_workers=0,
            train=dict({syn!r}, split="train", pipeline=[dict(type="RandomHorizontalFlip")] + {norm!r}),
            val=dict({syn!r}, split="val", pipeline={norm!r}))
optimizer = dict(type="AdamW", lr=5e-3, weight_decay=0.05,
                 paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, no_decay_keys=("layer_scale",)))
schedule = dict(type="cosine", warmup_iters=10, warmup_ratio=1e-2, min_lr=1e-5)
train = dict(max_iters=100, val_interval=100, ckpt_interval=100, log_interval=50, seed=0)
evaluation = dict(metric=dict(type="Accuracy", topk=(1, 2)))
"""
    cfg_file = tmp_path / "cls_tiny.py"
    cfg_file.write_text(cfg_text)
    work = tmp_path / "work"
    trainer = Trainer.from_config(Config.fromfile(cfg_file), work_dir=work)
    trainer.run()
    records = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in records if r.get("mode") == "val"][-1]
    assert val["count"] == 64
    assert val["top1"] >= 50.0, f"top-1 {val['top1']}% after 100 iterations (chance 25%)"

    ckpt = work / "latest.pkl"
    assert ckpt.exists()
    tool = _load_test_tool()
    out = tmp_path / "eval.json"
    assert tool.main([str(cfg_file), str(ckpt), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["metrics"]["top1"] == pytest.approx(val["top1"]) and result["samples"] == 64

    # the same weights as an "official" PyTorch file of the backbone (keys without "backbone.")
    from jvision.convert import save_state_dict
    from jvision.engine.checkpoint import read_training_checkpoint
    state = read_training_checkpoint(ckpt)["model"]
    pth = save_state_dict({k[len("backbone."):]: v for k, v in state.items()}, tmp_path / "official.pth")
    out2 = tmp_path / "eval_official.json"
    assert tool.main([str(cfg_file), str(pth), "--out", str(out2)]) == 0
    assert json.loads(out2.read_text())["metrics"]["top1"] == pytest.approx(val["top1"])

    # a checkpoint that does not fit the config is refused, naming the parameter and both shapes
    from jvision.convert import StateDictMismatchError
    with pytest.raises(StateDictMismatchError,
                       match=r"shape +backbone\.patch_embed1\.proj\.weight +\[16, 3, 7, 7\] +\[8, 3, 7, 7\]"):
        tool.main([str(cfg_file), str(ckpt), "--cfg-options", "model.backbone.embed_dims=[8,32]",
                   "--out", str(tmp_path / "x.json")])
