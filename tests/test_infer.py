"""tools/infer.py: outputs never overwrite each other, phone photos are read upright, unreadable
files stop the run naming themselves or are skipped and listed (--skip-bad); image_io's EXIF
orientation against Pillow's."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

import jvision  # noqa: F401
from jvision.data.image_io import image_size, read_image

REPO = Path(__file__).resolve().parents[1]
H, W = 24, 32   # every image is HxW upright: one compiled shape


@pytest.fixture(scope="module")
def infer_tool():
    spec = importlib.util.spec_from_file_location("infer_tool", REPO / "tools" / "infer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_read_image_applies_exif_orientation_like_pillow(tmp_path, fmt):
    stored = np.random.default_rng(0).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    for orientation in range(1, 9):
        path = tmp_path / f"o{orientation}.{fmt.lower()}"
        Image.fromarray(stored).save(path, format=fmt, exif=_exif(orientation), quality=95)
        with Image.open(path) as im:
            expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        ours = read_image(path)
        assert ours.shape == expected.shape, orientation
        np.testing.assert_array_equal(ours, expected)      # same decoder underneath for JPEG: exact
        assert image_size(path) == expected.shape[:2]
        assert read_image(path, mode="gray").shape == expected.shape[:2]
        assert read_image(path, mode="unchanged").shape[:2] == (4, 6)   # stored pixels, as label maps


def output_names(tool, paths):
    return tool.output_names([Path(p) for p in paths])


def test_output_names_are_unique_and_readable(infer_tool, tmp_path):
    d = tmp_path
    names = output_names(infer_tool, [d / "a.png", d / "a.jpg", d / "day/img.png", d / "night/img.png", d / "b.png",
                                      d / "b_pred.png", d / "C.png", d / "x/c.png", d / "solo.jpg"])
    assert names[:4] == ["a_png", "a_jpg", "day_img_png", "night_img_png"]
    assert names[4:6] == ["b_png", "b_pred_png"]        # b_pred.png would be b.png's label map
    assert names[6:8] == [f"{d.name}_C_png", "x_c_png"]   # case-insensitive file systems
    assert names[8] == "solo"
    files = [f"{n}{s}".lower() for n in names for s in ("", "_pred")]
    assert len(files) == len(set(files))
    # folders whose joined names coincide: numbered as a last resort, still unique
    odd = output_names(infer_tool, [d / "p_q/r.png", d / "p/q_r.png"])
    assert len({n.lower() for n in odd}) == 2


def test_infer_writes_every_image_and_handles_bad_files(infer_tool, tmp_path, capsys):
    from jvision.convert import write_torch_file
    from jvision.registry import MODELS
    import jseg  # noqa: F401

    model_cfg = dict(type="EncoderDecoder",
                     backbone=dict(type="MSCAN", embed_dims=[8, 16, 32, 64], mlp_ratios=[2, 2, 2, 2],
                                   depths=[1, 1, 1, 1]),
                     decode_head=dict(type="LightHamHead", in_channels=[16, 32, 64], channels=16, ham_channels=16,
                                      ham_kwargs=dict(MD_R=4), num_classes=3, norm_cfg=dict(type="GN", num_groups=4)))
    # weights drawn in numpy (the model's own initialisation would compile its init operators)
    wrng = np.random.default_rng(0)
    state = {k: (np.abs if "running_var" in k else np.asarray)(0.2 * wrng.standard_normal(v.shape)).astype(np.float32)
             for k, v in MODELS.build(model_cfg).state_dict().items()}
    ckpt = tmp_path / "tiny.pth"
    write_torch_file(state, ckpt)
    config = tmp_path / "tiny_seg.py"
    config.write_text(f"model = {model_cfg!r}\n"
                      "data = dict(val=dict(type='CustomDataset', data_root='unused', classes=('sky', 'road', 'car'),\n"
                      "                     palette=[[0, 0, 255], [128, 128, 128], [255, 0, 0]],\n"
                      "                     pipeline=[dict(type='Normalize'), dict(type='PackSegInputs')]))\n")

    rng = np.random.default_rng(1)
    photos = tmp_path / "photos"
    for folder in ("day", "night"):
        (photos / folder).mkdir(parents=True)
        cv2.imwrite(str(photos / folder / "img.png"), rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    cv2.imwrite(str(photos / "a.png"), rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    # a phone photo: stored sideways (W x H) with EXIF orientation 6 -> H x W upright
    Image.fromarray(rng.integers(0, 256, (W, H, 3), dtype=np.uint8)).save(photos / "a.jpg", exif=_exif(6))
    corrupt = photos / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    out = tmp_path / "out"
    inputs = [str(photos / "day"), str(photos / "night"), str(photos / "a.png"), str(photos / "a.jpg")]

    # without --skip-bad: the first unreadable file stops the run, in one line naming it
    assert infer_tool.main([str(config), str(ckpt), str(corrupt), *inputs, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"infer: cannot decode image file {str(corrupt)!r}" in err and "--skip-bad" in err
    assert not list(out.glob("*.png"))

    assert infer_tool.main([str(config), str(ckpt), *inputs, str(corrupt), str(photos / "a.png"), "--out", str(out),
                            "--skip-bad"]) == 0
    printed = capsys.readouterr().out
    expected = {"day_img_png", "night_img_png", "a_png", "a_jpg"}
    assert {p.name for p in out.iterdir()} == {f"{n}{s}.png" for n in expected for s in ("", "_pred")}
    for name in expected:
        assert f" -> {name}: " in printed, name
        pred = cv2.imread(str(out / f"{name}_pred.png"), cv2.IMREAD_UNCHANGED)
        assert pred.shape == (H, W) and pred.max() < 3                # upright, class indices
        assert cv2.imread(str(out / f"{name}.png")).shape == (H, W, 3)
    assert "skipped 1 unreadable image(s):" in printed and str(corrupt) in printed
    assert printed.count(" -> a_png: ") == 1                            # given twice, segmented once
