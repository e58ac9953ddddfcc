"""The segmentation dataset readers on tiny fabricated copies of their on-disk layouts."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from jvision.registry import DATASETS
from jseg.datasets import (ADE20K, COCOStuff, Cityscapes, PascalContext59, PascalVOC, SegDataset, SegDatasetError,
                           iSAID)
from jseg.datasets.voc import VOC_PALETTE

H, W = 12, 16


def write_image(path: Path, seed: int = 0, h: int = H, w: int = W) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return rgb


def write_label(path: Path, values, h: int = H, w: int = W, mode: str = "L") -> np.ndarray:
    """A label map whose rows cycle through ``values``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lab = np.zeros((h, w), np.uint8)
    for i in range(h):
        lab[i] = values[i % len(values)]
    im = Image.fromarray(lab, mode="L")
    if mode == "P":  # palette PNG, as VOC's SegmentationClass
        im = im.convert("P")
        im.putpalette(sum(VOC_PALETTE, []) + [0] * (768 - 3 * len(VOC_PALETTE)))
        im.putdata(lab.ravel().tolist())
    im.save(path)
    return lab


def make_ade(root: Path, n: int = 3, split: str = "training") -> None:
    for i in range(n):
        write_image(root / "images" / split / f"ADE_{i:03d}.jpg", i)
        write_label(root / "annotations" / split / f"ADE_{i:03d}.png", [0, 1, 150, 7])


# -- every layout -----------------------------------------------------------------------------
def test_ade20k_layout_and_reduce_zero_label(tmp_path):
    make_ade(tmp_path, 3, "training")
    make_ade(tmp_path, 2, "validation")
    ds = ADE20K(str(tmp_path), split="train")
    assert len(ds) == 3 and ds.num_classes == 150 and len(ds.palette) == 150
    assert ADE20K(str(tmp_path), split="validation").split == "validation"
    s = ds.load(1)
    assert s["img"].shape == (H, W, 3) and s["img"].dtype == np.uint8
    assert s["gt_seg"].shape == (H, W) and s["gt_seg"].dtype == np.uint8
    # stored 0 (other) -> 255, 1 -> 0, 150 -> 149, 7 -> 6
    assert s["gt_seg"][:4, 0].tolist() == [255, 0, 149, 6]
    assert s["meta"]["filename"].endswith("images/training/ADE_001.jpg")
    assert s["meta"]["seg_filename"].endswith("annotations/training/ADE_001.png")
    assert s["meta"]["ori_shape"] == (H, W)


def test_image_is_rgb(tmp_path):
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[..., 0] = 200  # pure red
    p = tmp_path / "images" / "training" / "a.png"
    p.parent.mkdir(parents=True)
    cv2.imwrite(str(p), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    write_label(tmp_path / "annotations" / "training" / "a.png", [1])
    ds = ADE20K(str(tmp_path), img_suffix=".png")
    assert ds.load(0)["img"][0, 0].tolist() == [200, 0, 0]


def test_cityscapes_nested_cities(tmp_path):
    for city, names in (("aachen", ["aachen_000000_000019", "aachen_000001_000019"]), ("bonn", ["bonn_000000_000019"])):
        for n in names:
            write_image(tmp_path / "leftImg8bit" / "val" / city / f"{n}_leftImg8bit.png")
            write_label(tmp_path / "gtFine" / "val" / city / f"{n}_gtFine_labelTrainIds.png", [0, 18, 255])
            write_label(tmp_path / "gtFine" / "val" / city / f"{n}_gtFine_color.png", [3])  # ignored
    ds = Cityscapes(str(tmp_path), split="val")
    assert len(ds) == 3 and ds.num_classes == 19
    assert ds.samples[0][0].endswith("aachen/aachen_000000_000019_leftImg8bit.png")
    assert ds.samples[2][1].endswith("bonn/bonn_000000_000019_gtFine_labelTrainIds.png")
    assert ds.load(2)["gt_seg"][:3, 0].tolist() == [0, 18, 255]


def _make_voc(root: Path, aug: bool = True) -> None:
    ids = {"train": ["2007_000032", "2007_000039"], "val": ["2007_000033"], "aug": ["2008_000001", "2008_000002"]}
    for split, names in ids.items():
        for n in names:
            write_image(root / "JPEGImages" / f"{n}.jpg")
            if split == "aug":
                if aug:
                    write_label(root / "SegmentationClassAug" / f"{n}.png", [0, 20])
            else:
                write_label(root / "SegmentationClass" / f"{n}.png", [0, 15, 255], mode="P")
        if split != "aug" or aug:
            (root / "ImageSets" / "Segmentation").mkdir(parents=True, exist_ok=True)
            (root / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(names) + "\n")


def test_voc_with_augmented_set(tmp_path):
    _make_voc(tmp_path)
    train = PascalVOC(str(tmp_path), split="train")
    assert len(train) == 4 and train.num_classes == 21
    assert [Path(s[1]).parent.name for s in train.samples] == ["SegmentationClass"] * 2 + ["SegmentationClassAug"] * 2
    # a palette PNG gives its indices, not its colours
    assert train.load(0)["gt_seg"][:3, 0].tolist() == [0, 15, 255]
    assert train.load(3)["gt_seg"][:2, 0].tolist() == [0, 20]
    assert len(PascalVOC(str(tmp_path), split="val")) == 1
    assert len(PascalVOC(str(tmp_path), split="train", aug=False)) == 2


def test_voc_aug_missing_names_the_folder(tmp_path):
    _make_voc(tmp_path, aug=False)
    with pytest.raises(SegDatasetError, match="SegmentationClassAug"):
        PascalVOC(str(tmp_path), split="train")
    assert len(PascalVOC(str(tmp_path), split="train", aug=False)) == 2


def test_coco_stuff(tmp_path):
    for split in ("train2017", "val2017"):
        write_image(tmp_path / "images" / split / "000000000009.jpg")
        write_label(tmp_path / "annotations" / split / "000000000009_labelTrainIds.png", [0, 170, 255])
    ds = COCOStuff(str(tmp_path), split="val")
    assert len(ds) == 1 and ds.num_classes == 171 and len(ds.palette) == 171
    assert ds.load(0)["gt_seg"][:3, 0].tolist() == [0, 170, 255]


def test_pascal_context59(tmp_path):
    for n in ("2008_000002", "2008_000003"):
        write_image(tmp_path / "JPEGImages" / f"{n}.jpg")
        write_label(tmp_path / "SegmentationClassContext" / f"{n}.png", [0, 1, 59])
    (tmp_path / "ImageSets" / "SegmentationContext").mkdir(parents=True)
    (tmp_path / "ImageSets" / "SegmentationContext" / "val.txt").write_text("2008_000003\n")
    ds = PascalContext59(str(tmp_path), split="val")
    assert len(ds) == 1 and ds.num_classes == 59 and ds.classes[0] == "aeroplane"
    assert ds.load(0)["gt_seg"][:3, 0].tolist() == [255, 0, 58]


def test_isaid(tmp_path):
    write_image(tmp_path / "img_dir" / "train" / "P0000_0_896_0_896.png")
    write_label(tmp_path / "ann_dir" / "train" / "P0000_0_896_0_896_instance_color_RGB.png", [0, 15])
    ds = iSAID(str(tmp_path), split="train")
    assert len(ds) == 1 and ds.num_classes == 16 and ds.classes[0] == "background"
    assert ds.load(0)["gt_seg"][:2, 0].tolist() == [0, 15]


def test_built_from_registry_with_pipeline(tmp_path):
    make_ade(tmp_path, 2)
    ds = DATASETS.build(dict(type="ADE20K", root=str(tmp_path), split="train",
                             pipeline=[dict(type="RandomFlip", prob=1.0), dict(type="Normalize"),
                                       dict(type="PackSegInputs")]))
    s = ds.prepare(0, np.random.default_rng(0))
    assert s["img"].shape == (3, H, W) and s["img"].dtype == np.float32
    assert s["gt_seg"].dtype == np.int32 and s["gt_seg"][:4, -1].tolist() == [255, 0, 149, 6]
    assert DATASETS.get("ADE20KDataset") is ADE20K and DATASETS.get("VOC") is PascalVOC


def test_generic_folder_pair(tmp_path):
    write_image(tmp_path / "img" / "x.png")
    write_label(tmp_path / "lab" / "x_mask.png", [0, 1, 2])
    ds = SegDataset(str(tmp_path), img_dir="img", ann_dir="lab", img_suffix=".png", seg_suffix="_mask.png",
                    classes=["a", "b", "c"])
    assert len(ds) == 1 and ds.load(0)["gt_seg"][:3, 0].tolist() == [0, 1, 2]
    test_ds = SegDataset(str(tmp_path), img_dir="img", ann_dir=None, img_suffix=".png", classes=["a"],
                         test_mode=True)
    assert "gt_seg" not in test_ds.load(0)


# -- errors name the path at fault -------------------------------------------------------------
def test_missing_label_names_expected_file(tmp_path):
    make_ade(tmp_path, 2)
    (tmp_path / "annotations" / "training" / "ADE_001.png").unlink()
    with pytest.raises(SegDatasetError) as e:
        ADE20K(str(tmp_path))
    assert "ADE_001.jpg" in str(e.value) and str(tmp_path / "annotations" / "training" / "ADE_001.png") in str(e.value)
    assert e.value.path == str(tmp_path / "annotations" / "training" / "ADE_001.png")


def test_missing_folders_are_named(tmp_path):
    with pytest.raises(SegDatasetError, match="does not exist"):
        ADE20K(str(tmp_path / "nowhere"))
    (tmp_path / "images" / "training").mkdir(parents=True)
    with pytest.raises(SegDatasetError, match=r"annotations/training"):
        ADE20K(str(tmp_path))
    (tmp_path / "annotations" / "training").mkdir(parents=True)
    with pytest.raises(SegDatasetError, match=r"no images ending in '\.jpg'"):
        ADE20K(str(tmp_path))
    with pytest.raises(SegDatasetError, match=r"split file .*val\.txt"):
        PascalContext59(str(tmp_path), split="val", img_dir="images/training", ann_dir="annotations/training")


def test_corrupt_image_named_on_construction(tmp_path):
    make_ade(tmp_path, 3)
    bad = tmp_path / "images" / "training" / "ADE_002.jpg"
    bad.write_bytes(b"this is not a jpeg at all")
    with pytest.raises(SegDatasetError) as e:
        ADE20K(str(tmp_path))
    assert str(bad) in str(e.value) and e.value.path == str(bad)
    bad.write_bytes(b"")
    with pytest.raises(SegDatasetError, match="empty"):
        ADE20K(str(tmp_path))


def test_truncated_image_named_on_load(tmp_path):
    make_ade(tmp_path, 1)
    p = tmp_path / "images" / "training" / "ADE_000.jpg"
    write_image(p, h=64, w=64)
    write_label(tmp_path / "annotations" / "training" / "ADE_000.png", [1], h=64, w=64)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])  # header intact, pixels cut off
    ds = ADE20K(str(tmp_path))  # the header check passes
    with pytest.raises(SegDatasetError) as e:
        ds.load(0)
    assert str(p) in str(e.value)
    with pytest.raises(SegDatasetError, match="ADE_000.jpg"):
        ADE20K(str(tmp_path), verify="full")


def test_bad_labels_are_named(tmp_path):
    make_ade(tmp_path, 2)
    lab = tmp_path / "annotations" / "training" / "ADE_001.png"
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(lab)  # colour-coded label
    with pytest.raises(SegDatasetError, match="single-channel") as e:
        ADE20K(str(tmp_path))
    assert str(lab) in str(e.value)
    write_label(lab, [1], h=H + 1)  # wrong size
    with pytest.raises(SegDatasetError, match=r"13x16.*12x16") as e:
        ADE20K(str(tmp_path))
    assert str(lab) in str(e.value)
    write_label(lab, [1, 200])  # value > 150 classes
    ds = ADE20K(str(tmp_path))
    with pytest.raises(SegDatasetError, match=r"value\(s\) \[200\]") as e:
        ds.load(1)
    assert str(lab) in str(e.value)
    with pytest.raises(SegDatasetError):
        ds.check_sample(1)


def test_check_sample_counts(tmp_path):
    make_ade(tmp_path, 1)
    counts = ADE20K(str(tmp_path), verify="full").check_sample(0)
    assert counts.shape == (151,)
    per_row = W * H // 4  # rows cycle through [0 -> ignore, 1 -> 0, 150 -> 149, 7 -> 6]
    assert counts[0] == per_row and counts[149] == per_row and counts[6] == per_row and counts[150] == per_row


# -- tools/check_dataset.py ---------------------------------------------------------------------
def _check_dataset_main():
    import importlib.util
    path = Path(__file__).resolve().parents[1] / "tools" / "check_dataset.py"
    spec = importlib.util.spec_from_file_location("check_dataset_tool", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


def test_check_dataset_tool(tmp_path, capsys):
    main = _check_dataset_main()
    make_ade(tmp_path / "ade", 3)
    assert main(["ade20k", str(tmp_path / "ade"), "--out", str(tmp_path / "out"), "--samples", "2"]) == 0
    out = capsys.readouterr().out
    assert "3 image/label pairs" in out and "[0, 6, 149, 255]" in out and "dataset OK" in out
    assert "wall" in out and len(list((tmp_path / "out").glob("sample_*.png"))) == 2
    # a label value out of range: exit 1 naming the file
    write_label(tmp_path / "ade" / "annotations" / "training" / "ADE_001.png", [1, 151])
    assert main(["ade20k", str(tmp_path / "ade"), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "1 bad file(s)" in err and "ADE_001.png" in err and "[151]" in err


def make_custom(root: Path, n: int = 6) -> None:
    """mmsegmentation's CustomDataset layout: images/<name>.jpg + labels/<name>_mask.png, a split file."""
    for i in range(n):
        write_image(root / "images" / f"img_{i}.jpg", i)
        write_label(root / "labels" / f"img_{i}_mask.png", [0, 1, 2, 255])
    (root / "splits").mkdir(parents=True, exist_ok=True)
    (root / "splits" / "train.txt").write_text("".join(f"img_{i}\n" for i in range(n - 1)))
    (root / "classes.txt").write_text("background\nroad\ncar\n")


def test_custom_dataset_mmseg_arguments(tmp_path):
    make_custom(tmp_path)
    spec = dict(type="CustomDataset", data_root=str(tmp_path), img_dir="images", ann_dir="labels",
                img_suffix=".jpg", seg_map_suffix="_mask.png", classes="classes.txt")
    ds = DATASETS.build(spec)
    assert len(ds) == 6 and ds.classes == ["background", "road", "car"] and ds.seg_map_suffix == "_mask.png"
    assert ds.load(2)["gt_seg"][:4, 0].tolist() == [0, 1, 2, 255]
    train = DATASETS.build(dict(spec, split="splits/train.txt", classes=("bg", "road", "car"),
                                palette=[[0, 0, 0], [128, 64, 128], [0, 0, 142]]))
    assert len(train) == 5 and train.palette[2] == [0, 0, 142] and train.classes[0] == "bg"
    reduced = DATASETS.build(dict(spec, classes=("road", "car"), reduce_zero_label=True))
    s = reduced.load(0)["gt_seg"][:4, 0].tolist()
    assert s == [255, 0, 1, 255] and reduced.num_classes == 2
    with pytest.raises(ValueError, match="classes is required"):
        DATASETS.build(dict(spec, classes=None))
    with pytest.raises(SegDatasetError, match="nope.txt"):
        DATASETS.build(dict(spec, classes="nope.txt"))
    with pytest.raises(SegDatasetError, match=r"value\(s\) \[2\]"):   # 2 is not a class of a 2-class set
        DATASETS.build(dict(spec, classes=("a", "b"))).load(0)


def test_check_dataset_reports_every_bad_file(tmp_path, capsys):
    """Five different faults in one custom set: all five named, exit 1; the sound pairs still counted."""
    main = _check_dataset_main()
    make_custom(tmp_path, 8)
    lab = tmp_path / "labels"
    (lab / "img_0_mask.png").unlink()                                            # image without label
    (tmp_path / "images" / "img_1.jpg").write_bytes(b"not a jpeg")               # unreadable image
    write_label(lab / "img_2_mask.png", [1], h=H + 2)                            # wrong size
    write_label(lab / "img_3_mask.png", [1, 7])                                  # value 7: no such class
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(lab / "img_4_mask.png")  # colour label
    cfg = tmp_path / "my_data.py"
    cfg.write_text(f"data = dict(train=dict(type='CustomDataset', data_root={str(tmp_path)!r}, img_dir='images', "
                   "ann_dir='labels', seg_map_suffix='_mask.png', classes=('background', 'road', 'car'), "
                   "pipeline=[dict(type='PackSegInputs')]))\n")
    assert main([str(cfg), "--out", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    err = captured.err
    assert "5 bad file(s)" in err
    for name in ("img_0_mask.png", "img_1.jpg", "img_2_mask.png", "img_3_mask.png", "img_4_mask.png"):
        assert name in err, name
    assert "4 image/label pairs (and 4 rejected" in captured.out and "sound: 3" in captured.out
    # the same through the custom TYPE without a config; a clean split passes
    args = ["custom", str(tmp_path), "--img-dir", "images", "--ann-dir", "labels", "--seg-map-suffix", "_mask.png",
            "--classes", "background,road,car", "--out", str(tmp_path / "out")]
    assert main(args) == 1 and "5 bad file(s)" in capsys.readouterr().err
    (tmp_path / "ok.txt").write_text("img_5\nimg_6\n")
    assert main(args + ["--split-file", "ok.txt", "--classes", "classes.txt"]) == 0
    assert "dataset OK" in capsys.readouterr().out


def test_exif_rotated_image_is_read_upright_and_checked_against_its_label(tmp_path):
    """A phone photo stored 16x12 with EXIF orientation 6 is 12x16 upright: its label must be too."""
    rgb = np.random.default_rng(0).integers(0, 256, (W, H, 3), dtype=np.uint8)   # stored sideways
    exif = Image.Exif()
    exif[0x0112] = 6
    img = tmp_path / "images" / "training" / "ADE_000.jpg"
    img.parent.mkdir(parents=True)
    Image.fromarray(rgb).save(img, quality=95, exif=exif.tobytes())
    write_label(tmp_path / "annotations" / "training" / "ADE_000.png", [1, 2])  # drawn upright: H x W
    ds = ADE20K(str(tmp_path), verify="full")
    assert ds.load(0)["img"].shape == (H, W, 3)
    write_label(tmp_path / "annotations" / "training" / "ADE_000.png", [1, 2], h=W, w=H)  # drawn on stored pixels
    with pytest.raises(SegDatasetError, match="EXIF orientation 6"):
        ADE20K(str(tmp_path))


def test_custom_config_example_checks_and_builds(tmp_path, capsys, repo_root):
    """configs/custom/segnext_t_custom.py on a set laid out as its comment says."""
    from jvision.config import Config
    from jvision.registry import MODELS
    for split, n in (("train", 3), ("val", 2)):
        for i in range(n):
            write_image(tmp_path / "images" / split / f"{split}{i}.jpg", i)
            write_label(tmp_path / "labels" / split / f"{split}{i}.png", [0, 1, 2, 255])
    config = str(repo_root / "configs" / "custom" / "segnext_t_custom.py")
    main = _check_dataset_main()
    for split in ("train", "val"):
        assert main([config, "--split", split, "--cfg-options", f"data.{split}.data_root={str(tmp_path)!r}",
                     "--out", str(tmp_path / "out")]) == 0
        assert "dataset OK" in capsys.readouterr().out
    cfg = Config.fromfile(config)
    cfg.merge_from_list([f"data.train.data_root={str(tmp_path)!r}"])
    ds = DATASETS.build(cfg.data.train)
    sample = ds.prepare(0, np.random.default_rng(0))
    assert sample["img"].shape == (3, 512, 512) and set(np.unique(sample["gt_seg"])) <= {0, 1, 2, 255}
    assert MODELS.build(dict(cfg.model, pretrained=None)).num_classes == len(ds.classes) == 3
