#!/usr/bin/env python3
"""Validate a segmentation dataset on disk before training on it.

    python tools/check_dataset.py TYPE ROOT [--split train|val] [--out DIR] [--samples 4] [--limit N]

TYPE is one of ade20k, cityscapes, voc, coco_stuff, pascal_context, isaid, scenes (ROOT may be
left out for scenes: the built-in set in the cache, generated if needed). The reader is built with
its header check (folders, image/label pairing, file headers, sizes), then every pair is decoded:
unreadable files, label maps of the wrong size or with values that are neither a class nor 255
stop the check. Printed: the number of image/label pairs, the label values present, and a per-class
pixel histogram. Written: a few ``image | ground truth`` overlays into --out.

Exit status: 0 when the dataset is sound; 1 naming the first offending file; 2 for a usage error.
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
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1].strip(),
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Exit status: 0 sound, 1 first offending file named, 2 usage error.")
    p.add_argument("type", choices=sorted(DATASET_TYPES), metavar="TYPE",
                   help="dataset type: " + ", ".join(sorted(DATASET_TYPES)))
    p.add_argument("root", nargs="?", default=None, metavar="ROOT",
                   help="dataset root folder (optional for scenes: the cache)")
    p.add_argument("--split", default="train", choices=["train", "val"], help="which split (default: train)")
    p.add_argument("--out", default=None,
                   help="folder for the overlay pictures (default: work_dirs/check_dataset/<type>_<split>)")
    p.add_argument("--samples", type=int, default=4, help="number of overlay pictures to write (default: 4)")
    p.add_argument("--limit", type=int, default=None, help="decode only the first N pairs (default: all)")
    p.add_argument("--no-aug", action="store_true", help="voc: without the augmented (SBD) training set")
    return p.parse_args(argv)


def build(args):
    kwargs = dict(split=args.split, verify="header")
    if args.type == "voc":
        kwargs["aug"] = not args.no_aug
    if args.root is None and args.type != "scenes":
        raise SystemExit(f"check_dataset: ROOT is required for {args.type}")
    return DATASETS.build(dict(type=DATASET_TYPES[args.type], root=args.root, **kwargs))


def histogram_table(classes, counts, images, ignore_count) -> str:
    total = counts.sum() + ignore_count
    width = max(len("class"), max(len(c) for c in classes))
    lines = [f"{'id':>4}  {'class':<{width}}  {'pixels':>12}  {'share':>7}  {'images':>7}"]
    for i, name in enumerate(classes):
        share = 100.0 * counts[i] / total if total else 0.0
        lines.append(f"{i:>4}  {name:<{width}}  {int(counts[i]):>12}  {share:>6.2f}%  {int(images[i]):>7}")
    share = 100.0 * ignore_count / total if total else 0.0
    lines.append(f"{255:>4}  {'(ignored)':<{width}}  {int(ignore_count):>12}  {share:>6.2f}%")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        ds = build(args)
    except SegDatasetError as exc:
        print(f"check_dataset: FAILED: {exc}", file=sys.stderr)
        print(f"first offending file: {exc.path}", file=sys.stderr)
        return 1
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"check_dataset: FAILED: {exc}", file=sys.stderr)
        return 1
    from tqdm import tqdm

    n = len(ds) if args.limit is None else min(len(ds), max(0, args.limit))
    k = ds.num_classes
    counts = np.zeros(k + 1, np.int64)
    images = np.zeros(k + 1, np.int64)
    print(f"{type(ds).__name__} ({args.split}) at {ds.root}: {len(ds)} image/label pairs; decoding "
          f"{'all' if n == len(ds) else f'the first {n}'}", flush=True)
    for idx in tqdm(range(n), desc="checking", unit="pair", file=sys.stderr, disable=n < 50):
        try:
            c = ds.check_sample(idx, decode=True)
        except SegDatasetError as exc:
            print(f"check_dataset: FAILED at pair {idx}: {exc}", file=sys.stderr)
            print(f"first offending file: {exc.path}", file=sys.stderr)
            return 1
        if c is None:
            continue
        counts += c
        images += c > 0
    present = [i for i in range(k) if counts[i] > 0]
    print(f"pairs checked: {n} of {len(ds)}")
    print(f"label values present (as loaded, {k} classes + 255 ignored): "
          f"{present + ([255] if counts[k] else [])}")
    if ds.reduce_zero_label:
        print(f"  (stored in the files as {([0] if counts[k] else []) + [v + 1 for v in present]}: "
              "0 = unlabelled, class i stored as i + 1)")
    absent = [ds.classes[i] for i in range(k) if counts[i] == 0]
    if absent and n:
        shown = ", ".join(absent[:10]) + (f" and {len(absent) - 10} more" if len(absent) > 10 else "")
        print(f"classes with no pixels: {shown}")
    print(histogram_table(ds.classes, counts[:k], images[:k], counts[k]))

    from jseg.visualize import compare, save_image
    out = Path(args.out or Path("work_dirs") / "check_dataset" / f"{args.type}_{args.split}")
    picks = sorted(set(np.linspace(0, n - 1, num=min(args.samples, n)).round().astype(int).tolist())) if n else []
    written = []
    for idx in picks:
        s = ds.load(idx)
        if "gt_seg" not in s:
            continue
        pic = compare(s["img"], s["gt_seg"], None, ds.palette, ds.classes, title=Path(s["meta"]["filename"]).name)
        written.append(save_image(out / f"sample_{idx:06d}.png", pic))
    if written:
        print(f"wrote {len(written)} overlay picture(s) to {out}/")
    print("dataset OK")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
