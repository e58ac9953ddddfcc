#!/usr/bin/env python3
"""Validate a segmentation dataset on disk before training on it; every bad file is reported.

    python tools/check_dataset.py CONFIG.py [--split train|val|test] [--cfg-options KEY=VALUE ...]
    python tools/check_dataset.py TYPE ROOT [--split train|val]
    python tools/check_dataset.py custom ROOT --img-dir DIR --ann-dir DIR --classes NAMES_OR_FILE
        [--img-suffix .jpg] [--seg-map-suffix .png] [--split-file FILE] [--reduce-zero-label]

CONFIG.py: the dataset of ``data.<split>`` in a training config (any registered type, your own
``CustomDataset`` included). TYPE is one of ade20k, cityscapes, voc, coco_stuff, pascal_context,
isaid, scenes, custom (ROOT may be left out for scenes: the built-in set in the cache, generated if
needed). The check pairs images with labels, reads every header, then decodes every pair: images
without a label, listed images that do not exist, unreadable files, label maps that are not
single-channel, of another size than their image or with values that are neither a class nor the
ignore index are ALL listed, one line each, naming the file. Printed: the number of pairs, the
label values present and a per-class pixel histogram of the sound pairs. Written: a few
``image | ground truth`` overlays into --out.

Exit status: 0 when every pair is sound; 1 when any file is bad (all listed) or the folders do not
exist; 2 for a usage error.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import jvision  # noqa: E402,F401  (configures Jittor before anything imports it)
import jseg  # noqa: E402,F401
from jseg.datasets import DATASET_TYPES, SegDatasetError  # noqa: E402
from jvision.registry import DATASETS  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip(),
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("source", metavar="CONFIG|TYPE",
                   help="a config file (.py), or a dataset type: " + ", ".join(sorted(DATASET_TYPES)))
    p.add_argument("root", nargs="?", default=None, metavar="ROOT",
                   help="dataset root folder (with TYPE; optional for scenes: the cache)")
    p.add_argument("--split", default="train", choices=["train", "val", "test"], help="which split (default: train)")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="with CONFIG: override config values, e.g. data.train.data_root=/data/my_set")
    p.add_argument("--out", default=None,
                   help="folder for the overlay pictures (default: work_dirs/check_dataset/<name>_<split>)")
    p.add_argument("--samples", type=int, default=4, help="number of overlay pictures to write (default: 4)")
    p.add_argument("--limit", type=int, default=None, help="decode only the first N pairs (default: all)")
    p.add_argument("--no-aug", action="store_true", help="voc: without the augmented (SBD) training set")
    custom = p.add_argument_group("custom (mmsegmentation's CustomDataset arguments)")
    custom.add_argument("--img-dir", default="images", help="image folder under ROOT (default: images)")
    custom.add_argument("--ann-dir", default="annotations", help="label folder under ROOT (default: annotations)")
    custom.add_argument("--img-suffix", default=".jpg", help="image file ending (default: .jpg)")
    custom.add_argument("--seg-map-suffix", default=".png", help="label file ending (default: .png)")
    custom.add_argument("--split-file", default=None, help="text file of names, one per line (default: all)")
    custom.add_argument("--classes", default=None,
                        help="comma-separated class names in index order, or a text file with one per line")
    custom.add_argument("--reduce-zero-label", action="store_true",
                        help="label files store 0 for unlabelled and class i as i + 1")
    args = p.parse_args(argv)
    if not args.source.endswith(".py") and args.source not in DATASET_TYPES:
        p.error(f"{args.source!r} is neither a config file (.py) nor a dataset type "
                f"({', '.join(sorted(DATASET_TYPES))})")
    if args.source in DATASET_TYPES and args.root is None and args.source != "scenes":
        p.error(f"ROOT is required for {args.source}")
    if args.source == "custom" and not args.classes:
        p.error("custom needs --classes (names in index order, comma-separated, or a file with one per line)")
    if args.source != "custom" and args.split == "test" and not args.source.endswith(".py"):
        p.error("--split test: only with a config file")
    return args


def dataset_spec(args) -> tuple[dict, str]:
    """The dataset config to build, and a short name for messages and the output folder."""
    if args.source.endswith(".py"):
        from jvision.config import Config
        from jvision.engine.trainer import import_custom
        cfg = Config.fromfile(args.source)
        cfg.merge_from_list(args.cfg_options)
        import_custom(cfg)
        data = cfg.get("data", {}) or {}
        spec = data.get(args.split)
        if not spec:
            have = [k for k in ("train", "val", "test") if data.get(k)]
            raise SystemExit(f"check_dataset: {args.source} has no data.{args.split} (it has: {have or 'none'})")
        spec = {k: v for k, v in dict(spec).items() if k != "pipeline"}
        return spec, Path(args.source).stem
    spec = dict(type=DATASET_TYPES[args.source], root=args.root)
    if args.source == "custom":
        classes = args.classes
        if not Path(classes).is_file() and not (Path(args.root) / classes).is_file():
            classes = [c.strip() for c in classes.split(",") if c.strip()]
        spec = dict(type="CustomDataset", data_root=args.root, img_dir=args.img_dir, ann_dir=args.ann_dir,
                    img_suffix=args.img_suffix, seg_map_suffix=args.seg_map_suffix, split=args.split_file,
                    classes=classes, reduce_zero_label=args.reduce_zero_label)
    else:
        spec["split"] = args.split
    if args.source == "voc":
        spec["aug"] = not args.no_aug
    return spec, args.source


def histogram_table(classes, counts, images, ignore_count, ignore_index=255) -> str:
    total = counts.sum() + ignore_count
    width = max(len("class"), max(len(c) for c in classes))
    lines = [f"{'id':>4}  {'class':<{width}}  {'pixels':>12}  {'share':>7}  {'images':>7}"]
    for i, name in enumerate(classes):
        share = 100.0 * counts[i] / total if total else 0.0
        lines.append(f"{i:>4}  {name:<{width}}  {int(counts[i]):>12}  {share:>6.2f}%  {int(images[i]):>7}")
    share = 100.0 * ignore_count / total if total else 0.0
    lines.append(f"{ignore_index:>4}  {'(ignored)':<{width}}  {int(ignore_count):>12}  {share:>6.2f}%")
    return "\n".join(lines)


def report_problems(problems) -> None:
    print(f"check_dataset: FAILED: {len(problems)} bad file(s):", file=sys.stderr)
    for exc in problems:
        print(f"  {exc}", file=sys.stderr)


def main(argv=None) -> int:
    args = parse_args(argv)
    spec, name = dataset_spec(args)
    try:
        ds = DATASETS.build(dict(spec, verify="header", errors="collect"))
    except (SegDatasetError, FileNotFoundError, FileExistsError, ValueError, KeyError) as exc:
        print(f"check_dataset: FAILED: {exc}", file=sys.stderr)
        return 1
    from tqdm import tqdm

    problems = list(ds.problems)
    n = len(ds) if args.limit is None else min(len(ds), max(0, args.limit))
    k = ds.num_classes
    counts = np.zeros(k + 1, np.int64)
    images = np.zeros(k + 1, np.int64)
    rejected = f" (and {len(problems)} rejected by the pairing/header check)" if problems else ""
    print(f"{type(ds).__name__} ({args.split}) at {ds.root}: {len(ds)} image/label pairs{rejected}; decoding "
          f"{'all' if n == len(ds) else f'the first {n}'}", flush=True)
    sound = []
    for idx in tqdm(range(n), desc="checking", unit="pair", file=sys.stderr, disable=n < 50):
        try:
            c = ds.check_sample(idx, decode=True)
        except SegDatasetError as exc:
            problems.append(exc)
            continue
        sound.append(idx)
        if c is None:
            continue
        counts += c
        images += c > 0
    print(f"pairs decoded: {n} of {len(ds)}; sound: {len(sound)}")
    present = [i for i in range(k) if counts[i] > 0]
    print(f"label values present (as loaded, {k} classes + {ds.ignore_index} ignored): "
          f"{present + ([ds.ignore_index] if counts[k] else [])}")
    if ds.reduce_zero_label:
        print(f"  (stored in the files as {([0] if counts[k] else []) + [v + 1 for v in present]}: "
              "0 = unlabelled, class i stored as i + 1)")
    absent = [ds.classes[i] for i in range(k) if counts[i] == 0]
    if absent and sound:
        shown = ", ".join(absent[:10]) + (f" and {len(absent) - 10} more" if len(absent) > 10 else "")
        print(f"classes with no pixels: {shown}")
    print(histogram_table(ds.classes, counts[:k], images[:k], counts[k], ds.ignore_index))

    from jseg.visualize import compare, save_image
    out = Path(args.out or Path("work_dirs") / "check_dataset" / f"{name}_{args.split}")
    picks = sorted({sound[i] for i in np.linspace(0, len(sound) - 1, num=min(args.samples, len(sound)))
                    .round().astype(int).tolist()}) if sound else []
    written = []
    for idx in picks:
        s = ds.load(idx)
        if "gt_seg" not in s:
            continue
        pic = compare(s["img"], s["gt_seg"], None, ds.palette, ds.classes, title=Path(s["meta"]["filename"]).name)
        written.append(save_image(out / f"sample_{idx:06d}.png", pic))
    if written:
        print(f"wrote {len(written)} overlay picture(s) to {out}/")
    if problems:
        report_problems(problems)
        return 1
    print("dataset OK")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
