#!/usr/bin/env python
"""Segment images with a trained model and write colour overlays and raw label maps.

    python tools/infer.py CONFIG CHECKPOINT IMAGE [IMAGE ...] [--out DIR]
    python tools/infer.py configs/demo/segnext_t_scenes.py work_dirs/segnext_t_scenes/latest.pkl \
        photos/*.jpg --out work_dirs/infer

CHECKPOINT is one of ours (``work_dirs/.../latest.pkl``), an official mmseg/SegNeXt ``.pth`` or a
JSeg ``.pkl`` (loaded strictly: any missing or mis-shaped key is an error with a table). An IMAGE
may also be a folder (its .jpg/.jpeg/.png/.bmp files). The images go through the config's
validation pipeline (normalisation) and the model's ``test_cfg`` (test-time resize, whole or
sliding-window inference, multi-scale/flip); ``--cfg-options`` changes either, e.g.
``model.test_cfg.flip=True``.

For each image ``<stem>``: ``<out>/<stem>.png`` (the colour overlay, ``--alpha`` of the class
colours) and ``<out>/<stem>_pred.png`` (class indices, uint8; 0..K-1). Prints where it wrote them.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jvision  # noqa: E402  (configures Jittor before anything imports it)

DEFAULT_MEAN, DEFAULT_STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="Python config file the model was trained with")
    p.add_argument("checkpoint", help="checkpoint: ours (.pkl), official mmseg/SegNeXt (.pth) or JSeg (.pkl)")
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("--out", default="work_dirs/infer", help="output folder (default: work_dirs/infer)")
    p.add_argument("--alpha", type=float, default=0.5, help="weight of the class colours in overlays (0.5)")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override config values, e.g. model.test_cfg.mode=slide")
    return p.parse_args(argv)


def collect_images(items) -> list[Path]:
    found = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found += sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            found.append(p)
        else:
            raise FileNotFoundError(f"image {item!r} does not exist")
    if not found:
        raise FileNotFoundError(f"no images found in {list(items)}")
    return found


def _dataset_info(cfg, num_classes: int):
    """Class names and palette of the config's validation (or training) dataset type."""
    from jvision.registry import DATASETS
    from jseg.datasets import random_palette
    data = cfg.get("data", {}) or {}
    for split in ("val", "test", "train"):
        spec = data.get(split)
        if spec and "type" in spec:
            cls = DATASETS.get(spec["type"])
            classes = list(getattr(cls, "CLASSES", ()) or ())
            palette = getattr(cls, "PALETTE", None)
            if len(classes) == num_classes:
                if palette is None or len(palette) != num_classes:
                    palette = random_palette(num_classes)
                return classes, palette, spec.get("pipeline", [])
    return [f"class_{i}" for i in range(num_classes)], random_palette(num_classes), []


def main(argv=None) -> int:
    args = parse_args(argv)
    import cv2
    import numpy as np

    import jseg  # noqa: F401  (registers the toolbox)
    from jvision.config import Config
    from jvision.data.base import Compose
    from jvision.data.image_io import read_image
    from jvision.data.loader import collate
    from jvision.engine.trainer import import_custom
    from jvision.registry import MODELS
    from jvision.convert import load_checkpoint
    from jseg.visualize import overlay, save_image

    if not 0 <= args.alpha <= 1:
        raise SystemExit(f"--alpha must be in [0, 1], got {args.alpha}")
    cfg = Config.fromfile(args.config)
    cfg.merge_from_list(args.cfg_options)
    import_custom(cfg)
    model_cfg = dict(cfg.model)
    model_cfg.pop("pretrained", None)  # the checkpoint holds the backbone too
    if isinstance(model_cfg.get("backbone"), dict):
        model_cfg["backbone"] = {k: v for k, v in model_cfg["backbone"].items() if k != "init_cfg"}
    model = MODELS.build(model_cfg)
    load_checkpoint(model, args.checkpoint)
    model.eval()
    num_classes = getattr(model, "num_classes", None)
    classes, palette, pipeline_cfg = _dataset_info(cfg, num_classes)
    if not pipeline_cfg:
        pipeline_cfg = [dict(type="Normalize", mean=DEFAULT_MEAN, std=DEFAULT_STD), dict(type="PackSegInputs")]
        print(f"{args.config} has no data.val pipeline: normalising with the ImageNet mean/std {DEFAULT_MEAN} / "
              f"{DEFAULT_STD} (the SegNeXt recipes' values)")
    pipeline = Compose([t for t in pipeline_cfg if t.get("type") not in ("LoadAnnotations",)])

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images = collect_images(args.images)
    rng = np.random.default_rng(0)
    for path in images:
        img = read_image(path)  # HxWx3 uint8 RGB
        sample = pipeline({"img": img.copy(), "meta": {"filename": str(path), "ori_shape": img.shape}}, rng)
        arr = sample.get("img")
        if not (isinstance(arr, np.ndarray) and arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.dtype == np.float32):
            raise ValueError(f"the validation pipeline of {args.config} gives img {getattr(arr, 'dtype', '?')} "
                             f"{getattr(arr, 'shape', '?')}; the model needs CxHxW float32 (end it with PackSegInputs)")
        pred = model.val_step(collate([sample]))[0]
        if pred.shape != img.shape[:2]:
            pred = cv2.resize(pred.astype(np.uint8), (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST)
        save_image(out / f"{path.stem}.png", overlay(img, pred, palette, args.alpha))
        if not cv2.imwrite(str(out / f"{path.stem}_pred.png"), pred.astype(np.uint8 if num_classes <= 256 else np.uint16)):
            raise OSError(f"could not write {out / f'{path.stem}_pred.png'}")
        ids, counts = np.unique(pred, return_counts=True)
        top = ids[np.argsort(-counts)][:10]  # the largest classes first
        present = ", ".join(f"{classes[c]} {100 * np.mean(pred == c):.0f}%" for c in top)
        print(f"{path}: {present}")
    print(f"wrote {len(images)} overlay(s) (<name>.png) and label map(s) (<name>_pred.png, class indices) "
          f"to {out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
