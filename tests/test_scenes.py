"""The built-in synthetic street scenes: deterministic, textured, cached atomically, read as ADE20K."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from jvision.registry import DATASETS
import jseg.scenes as scenes
from jseg.scenes import SCENE_CLASSES, Scenes, ensure_scenes, generate_scene

SMALL = dict(num_train=5, num_val=3, size=(96, 72), seed=3)


def test_generation_is_deterministic_and_seeded():
    a = generate_scene(np.random.default_rng((0, 0, 1)), 128, 96)
    b = generate_scene(np.random.default_rng((0, 0, 1)), 128, 96)
    c = generate_scene(np.random.default_rng((0, 0, 2)), 128, 96)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    assert a[0].shape == (96, 128, 3) and a[0].dtype == np.uint8 and a[1].shape == (96, 128)


def test_classes_are_textured_not_flat():
    """Every class shows up; its pixels vary inside an image and its mean colour varies between images."""
    k = len(SCENE_CLASSES)
    seen = np.zeros(k + 1, int)
    std_in_image = [[] for _ in range(k + 1)]
    means = [[] for _ in range(k + 1)]
    for i in range(12):
        img, lab = generate_scene(np.random.default_rng((0, 0, i)), 192, 144)
        assert lab.max() <= k
        for v in range(1, k + 1):
            m = lab == v
            if m.sum() >= 30:
                seen[v] += 1
                px = img[m].astype(np.float32)
                std_in_image[v].append(px.std(0).mean())
                means[v].append(px.mean(0))
    assert (seen[1:] > 0).all(), f"classes never drawn: {[SCENE_CLASSES[v - 1] for v in range(1, k + 1) if not seen[v]]}"
    for v in range(1, k + 1):
        name = SCENE_CLASSES[v - 1]
        assert np.median(std_in_image[v]) > 6, f"{name} looks like a flat colour"
        if len(means[v]) >= 3 and name not in ("sky",):
            assert np.std(np.stack(means[v]), axis=0).mean() > 8, f"{name} has the same colour in every image"


def test_cache_layout_stamp_and_reuse(tmp_path):
    root = ensure_scenes(tmp_path / "sc", verbose=False, **SMALL)
    assert root == (tmp_path / "sc").absolute()
    for sub, ext, n in (("images/training", ".jpg", 5), ("annotations/training", ".png", 5),
                        ("images/validation", ".jpg", 3), ("annotations/validation", ".png", 3)):
        assert len([f for f in os.listdir(root / sub) if f.endswith(ext)]) == n
    stamp = json.loads((root / "scenes.json").read_text())
    assert stamp["version"] == scenes.SCENES_VERSION and stamp["classes"] == list(SCENE_CLASSES)
    assert (os.stat(root).st_mode & 0o777) != 0o700  # not left private by mkdtemp
    mtime = (root / "images/training/scene_train_00000.jpg").stat().st_mtime_ns
    ensure_scenes(root, verbose=False, **SMALL)  # identical request: nothing rewritten
    assert (root / "images/training/scene_train_00000.jpg").stat().st_mtime_ns == mtime
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_new_version_or_parameters_regenerate(tmp_path, monkeypatch):
    root = ensure_scenes(tmp_path / "sc", verbose=False, **SMALL)
    first = (root / "images/training/scene_train_00000.jpg").read_bytes()
    ensure_scenes(root, verbose=False, **{**SMALL, "num_train": 4})
    assert len(os.listdir(root / "images/training")) == 4
    monkeypatch.setattr(scenes, "SCENES_VERSION", scenes.SCENES_VERSION + 1)
    ensure_scenes(root, verbose=False, **SMALL)
    assert json.loads((root / "scenes.json").read_text())["version"] == scenes.SCENES_VERSION
    assert (root / "images/training/scene_train_00000.jpg").read_bytes() == first  # same seed, same pixels


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    real = scenes._write_split

    def crash_on_val(out, split, *args):
        if split == "val":
            raise KeyboardInterrupt
        return real(out, split, *args)

    monkeypatch.setattr(scenes, "_write_split", crash_on_val)
    with pytest.raises(KeyboardInterrupt):
        ensure_scenes(tmp_path / "sc", verbose=False, **SMALL)
    assert not (tmp_path / "sc").exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_refuses_to_overwrite_foreign_folder(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "precious.txt").write_text("x")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        ensure_scenes(tmp_path / "data", verbose=False, **SMALL)
    assert (tmp_path / "data" / "precious.txt").exists()


def test_scenes_dataset_reads_like_ade(tmp_path):
    train = DATASETS.build(dict(type="Scenes", root=str(tmp_path / "sc"), split="train", **SMALL))
    val = Scenes(str(tmp_path / "sc"), split="val", **SMALL)
    assert isinstance(train, Scenes) and len(train) == 5 and len(val) == 3
    assert train.classes == list(SCENE_CLASSES) and train.reduce_zero_label
    s = val.load(0)
    assert s["img"].shape == (72, 96, 3) and s["gt_seg"].shape == (72, 96)
    values = set(np.unique(s["gt_seg"]).tolist())
    assert values <= set(range(len(SCENE_CLASSES))) | {255} and len(values) >= 4
    stored = np.array(__import__("PIL.Image", fromlist=["Image"]).open(s["meta"]["seg_filename"]))
    np.testing.assert_array_equal(s["gt_seg"], np.where(stored == 0, 255, stored.astype(int) - 1))


def test_default_root_names_parameters(monkeypatch, tmp_path):
    monkeypatch.setenv("JVISION_CACHE", str(tmp_path / "cache"))
    root = scenes.default_scenes_root(400, 60, (256, 192), 0)
    assert root == tmp_path / "cache" / "scenes" / f"v{scenes.SCENES_VERSION}-256x192-400+60-seed0"


def test_the_test_session_never_writes_the_user_cache():
    """conftest points JVISION_CACHE at a temporary folder of this session: the scenes (and the
    synthetic shapes) that tests generate never land in ~/.cache/jvision."""
    import tempfile
    from jvision.data.synthetic import default_cache_dir
    user_cache = Path.home() / ".cache"
    for path in (scenes.default_scenes_root(), default_cache_dir()):
        assert not path.resolve().is_relative_to(user_cache.resolve()), path
        assert path.resolve().is_relative_to(Path(tempfile.gettempdir()).resolve()), path
