#!/usr/bin/env python
"""Segment images with a trained model and write colour overlays and raw label maps.

    python tools/infer.py CONFIG CHECKPOINT IMAGE [IMAGE ...] [--out DIR] [--skip-bad]
    python tools/infer.py configs/demo/segnext_t_scenes.py work_dirs/segnext_t_scenes/latest.pkl \
        photos/*.jpg --out work_dirs/infer

CHECKPOINT is one of ours (``work_dirs/.../latest.pkl``), an official mmseg/SegNeXt ``.pth`` or a
JSeg ``.pkl`` (loaded strictly: any missing or mis-shaped key is an error with a table). An IMAGE
may also be a folder (its image files, not its sub-folders); a file given twice is segmented once.
Images are read upright (EXIF orientation applied, as phone photos need). They go through the
config's validation pipeline (normalisation) and the model's ``test_cfg`` (test-time resize, whole
or sliding-window inference, multi-scale/flip); ``--cfg-options`` changes either, e.g.
``model.test_cfg.flip=True``.

For each image: ``<out>/<name>.png`` (the colour overlay, ``--alpha`` of the class colours) and
``<out>/<name>_pred.png`` (class indices, uint8; 0..K-1). ``<name>`` is the file's stem; inputs
whose stems clash (``a.png`` and ``a.jpg``, or ``img.png`` in two folders) get the extension and
then as many parent folders as needed (``a_png``, ``a_jpg``; ``day_img_png``, ``night_img_png``), so no
output overwrites another. Each image's line shows ``input -> name`` and its largest classes.

An unreadable image (corrupt, truncated, not an image) stops the run with one line naming it;
with ``--skip-bad`` it is skipped and every skipped file is listed at the end (exit status 0 when
at least one image was segmented).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jvision  # noqa: E402  (configures Jittor before anything imports it)
from jvision.data.image_io import ImageReadError, is_image_file  # noqa: E402

DEFAULT_MEAN, DEFAULT_STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="Python config file the model was trained with")
    p.add_argument("checkpoint", help="checkpoint: ours (.pkl), official mmseg/SegNeXt (.pth) or JSeg (.pkl)")
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("--out", default="work_dirs/infer", help="output folder (default: work_dirs/infer)")
    p.add_argument("--alpha", type=float, default=0.5, help="weight of the class colours in overlays (0.5)")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip unreadable images (listed at the end) instead of stopping at the first")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override config values, e.g. model.test_cfg.mode=slide")
    return p.parse_args(argv)


def collect_images(items) -> list[Path]:
    """The image files of ``items`` (files as given, folders' image files sorted), each once."""
    found, seen = [], set()
    for item in items:
        p = Path(item)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and is_image_file(f.name))
        elif p.is_file():
            files = [p]
        else:
            raise FileNotFoundError(f"image {item!r} does not exist")
        for f in files:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                found.append(f)
    if not found:
        raise FileNotFoundError(f"no images found in {list(items)}")
    return found


def output_names(paths: list[Path]) -> list[str]:
    """One readable output name per input such that no two inputs write the same file.

    The stem where it is unique; otherwise ``<stem>_<ext>``, then parent folders in front
    (``<parent>_<stem>_<ext>``, ...) until the clash is gone; a numbered suffix as a last resort.
    Names are compared case-insensitively (case-insensitive file systems), and ``<name>_pred``
    counts as taken (it is the label map of ``<name>``).
    """
    def label(p: Path, depth: int) -> str:
        if depth == 0:
            return p.stem
        tail = f"{p.stem}_{p.suffix.lstrip('.')}" if p.suffix else p.stem
        parents = [part for part in p.absolute().parent.parts if part not in ("/", "")]
        return "_".join(parents[len(parents) - min(depth - 1, len(parents)):] + [tail])

    depth = [0] * len(paths)
    max_depth = [len(p.absolute().parent.parts) + 1 for p in paths]
    names = [label(p, 0) for p in paths]
    for _ in range(max(max_depth, default=0) + 2):
        owners: dict[str, set[int]] = {}
        for i, name in enumerate(names):
            for f in (name, f"{name}_pred"):
                owners.setdefault(f.lower(), set()).add(i)
        clashing = sorted({i for group in owners.values() if len(group) > 1 for i in group})
        if not clashing:
            return names
        for i in clashing:
            if depth[i] < max_depth[i]:
                depth[i] += 1
                names[i] = label(paths[i], depth[i])
        if all(depth[i] >= max_depth[i] for i in clashing):
            break
    # still clashing with every folder named (e.g. "a_b/c.png" and "a/b_c.png"): number them
    taken: set[str] = set()
    for i, name in enumerate(names):
        cand, k = name, 2
        while cand.lower() in taken or f"{cand}_pred".lower() in taken:
            cand, k = f"{name}-{k}", k + 1
        names[i] = cand
        taken.update({cand.lower(), f"{cand}_pred".lower()})
    return names


def _dataset_info(cfg, num_classes: int):
    """Class names, palette and validation pipeline of the config's dataset (val, test or train):
    the dataset entry's own ``classes``/``palette`` (``CustomDataset``) or its type's."""
    from jvision.registry import DATASETS
    from jseg.datasets import random_palette, read_class_names
    data = cfg.get("data", {}) or {}
    for split in ("val", "test", "train"):
        spec = data.get(split)
        if not spec or "type" not in spec:
            continue
        cls = DATASETS.get(spec["type"])
        if spec.get("classes") is not None:
            classes = read_class_names(spec["classes"], spec.get("data_root"))
        else:
            classes = list(getattr(cls, "CLASSES", ()) or ())
        palette = spec.get("palette") or getattr(cls, "PALETTE", None)
        if len(classes) == num_classes:
            if palette is None or len(palette) != num_classes:
                palette = random_palette(num_classes)
            return classes, palette, spec.get("pipeline", [])
    return [f"class_{i}" for i in range(num_classes)], random_palette(num_classes), []


def main(argv=None) -> int:
    args = parse_args(argv)
    if not 0 <= args.alpha <= 1:
        raise SystemExit(f"--alpha must be in [0, 1], got {args.alpha}")
    try:
        images = collect_images(args.images)
    except FileNotFoundError as exc:
        raise SystemExit(f"infer: {exc}")
    names = output_names(images)

    import cv2
    import numpy as np
    from tqdm import tqdm

    import jseg  # noqa: F401  (registers the toolbox)
    from jvision.config import Config
    from jvision.data.base import Compose
    from jvision.data.image_io import read_image
    from jvision.data.loader import collate
    from jvision.engine.trainer import import_custom, model_config_for_checkpoint
    from jvision.registry import MODELS
    from jvision.convert import load_checkpoint
    from jseg.visualize import overlay, save_image

    cfg = Config.fromfile(args.config)
    cfg.merge_from_list(args.cfg_options)
    import_custom(cfg)
    model = MODELS.build(model_config_for_checkpoint(cfg.model))  # the checkpoint holds the backbone too
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
    rng = np.random.default_rng(0)
    skipped: list[tuple[Path, str]] = []
    done = 0
    # tqdm's moving-average rate: the ETA recovers after the first image, which compiles the operators
    bar = tqdm(list(zip(images, names)), desc="infer", unit="img", file=sys.stderr, dynamic_ncols=True)
    for path, name in bar:
        try:
            img = read_image(path)  # HxWx3 uint8 RGB, upright
        except (ImageReadError, FileNotFoundError) as exc:
            if not args.skip_bad:
                bar.close()
                print(f"infer: {exc} (--skip-bad skips unreadable images)", file=sys.stderr)
                return 1
            skipped.append((path, str(exc)))
            continue
        sample = pipeline({"img": img.copy(), "meta": {"filename": str(path), "ori_shape": img.shape}}, rng)
        arr = sample.get("img")
        if not (isinstance(arr, np.ndarray) and arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.dtype == np.float32):
            raise ValueError(f"the validation pipeline of {args.config} gives img {getattr(arr, 'dtype', '?')} "
                             f"{getattr(arr, 'shape', '?')}; the model needs CxHxW float32 (end it with PackSegInputs)")
        pred = model.val_step(collate([sample]))[0]
        if pred.shape != img.shape[:2]:
            pred = cv2.resize(pred.astype(np.uint8), (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST)
        save_image(out / f"{name}.png", overlay(img, pred, palette, args.alpha))
        if not cv2.imwrite(str(out / f"{name}_pred.png"), pred.astype(np.uint8 if num_classes <= 256 else np.uint16)):
            raise OSError(f"could not write {out / f'{name}_pred.png'}")
        done += 1
        ids, counts = np.unique(pred, return_counts=True)
        top = ids[np.argsort(-counts)][:10]  # the largest classes first
        present = ", ".join(f"{classes[c]} {100 * np.mean(pred == c):.0f}%" for c in top)
        bar.write(f"{path} -> {name}: {present}", file=sys.stdout)
    bar.close()
    print(f"wrote {done} overlay(s) (<name>.png) and label map(s) (<name>_pred.png, class indices) "
          f"to {out.resolve()}")
    if skipped:
        print(f"skipped {len(skipped)} unreadable image(s):")
        for path, why in skipped:
            print(f"  {path}: {why}")
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
