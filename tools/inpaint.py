#!/usr/bin/env python3
"""Remove the masked objects from a video with E2FGVI.

    python tools/inpaint.py VIDEO_OR_FRAME_DIR MASK_VIDEO_OR_DIR_OR_IMAGE --out DIR \\
        [--model e2fgvi_hq] [--ckpt E2FGVI-HQ-CVPR22.pth] [--size 432x240]
    python tools/inpaint.py VIDEO MASKS --out DIR --config configs/e2fgvi/e2fgvi_demo_synthetic.py \\
        --ckpt work_dirs/e2fgvi_demo_synthetic/latest.pkl         # a model trained by tools/train.py

Frames: an mp4/avi (anything OpenCV decodes) or a folder of images; masks: a video, a folder (one
per frame) or one image for every frame (white = remove). Masks are dilated as the official test
(3x3 cross, --dilate 4 times). Inference walks the video in windows (local frames f +- 5 plus
references every 10th frame), holding only one window, so memory does not grow with the length
(--num-ref -1 uses every reference of the whole video as the official test, at a memory cost that
does). Writes DIR/frames/00000.png ..., DIR/inpainted.mp4 and DIR/side_by_side.mp4 (input with
the mask in red | result), and prints seconds per frame.

Without --ckpt the weights are random (for trying the pipeline only): a warning says so.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import jvision  # noqa: E402,F401
from jvision.registry import MODELS  # noqa: E402


def _size(text):
    if text is None:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size must be WIDTHxHEIGHT, got {text!r}")
    return (h, w)


def build_model(name: str, ckpt: str | None, config: str | None = None):
    """The generator: ``--model`` with the official sizes, or the one a training config describes
    (``--config``: its ``VideoInpainter``, so our checkpoints of any size and official files load)."""
    import jvision.models  # noqa: F401
    from jvision.convert import load_checkpoint
    if config:
        from jvision.config import Config
        from jvision.engine.trainer import import_custom, model_config_for_checkpoint
        cfg = Config.fromfile(config)
        import_custom(cfg)
        # with --ckpt every weight comes from it (the demo's warm-up file need not exist)
        wrapper = MODELS.build(model_config_for_checkpoint(cfg.model) if ckpt else cfg.model)
        if not hasattr(wrapper, "generator"):
            raise ValueError(f"{config}: model {cfg.model.get('type')!r} has no generator (expected VideoInpainter)")
        if ckpt:
            load_checkpoint(wrapper, ckpt, strict=True)
        model = wrapper.generator
    else:
        model = MODELS.build(dict(type=name, warn_spynet=ckpt is None))
        if ckpt:
            load_checkpoint(model, ckpt, strict=True)
    if not ckpt:
        print(f"warning: no --ckpt given: {name} has random weights (the output shows the pipeline only)",
              file=sys.stderr)
    model.eval()
    return model


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("video", help="video file or folder of frames")
    p.add_argument("mask", help="mask video, folder of masks, or one mask image")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--model", default="e2fgvi_hq", choices=("e2fgvi", "e2fgvi_hq"))
    p.add_argument("--ckpt", help="E2FGVI-CVPR22.pth / E2FGVI-HQ-CVPR22.pth (or a jvision checkpoint)")
    p.add_argument("--config", help="a training config (configs/e2fgvi/...): build its generator, e.g. to run a "
                                    "checkpoint of tools/train.py; --model is then taken from it")
    p.add_argument("--size", type=_size, help="process at WIDTHxHEIGHT (default: 432x240 for e2fgvi, "
                                              "the video's size for e2fgvi_hq)")
    p.add_argument("--neighbor-stride", type=int, default=5)
    p.add_argument("--ref-step", type=int, default=10)
    p.add_argument("--num-ref", type=int, default=8, help="references per window (-1: all, as the official test)")
    p.add_argument("--dilate", type=int, default=4, help="mask dilation iterations (official: 4)")
    p.add_argument("--fps", type=float, default=None, help="output fps (default: the input's, else 24)")
    args = p.parse_args(argv)

    from tqdm import tqdm

    from jvision.video.inpaint import dilate_mask, inpaint_stream
    from jvision.video.io import VideoWriter, open_frames, open_masks

    if args.config:
        from jvision.config import Config
        gen_type = Config.fromfile(args.config).model.get("generator", {}).get("type", args.model)
        args.model = "e2fgvi" if gen_type == "e2fgvi" else "e2fgvi_hq"
    size = args.size or ((240, 432) if args.model == "e2fgvi" else None)
    try:
        frames = open_frames(args.video, size)
        masks = open_masks(args.mask, len(frames), frames.source_size, frames.size)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    h, w = frames.size
    if args.model == "e2fgvi" and (h, w) != (240, 432):
        print("error: e2fgvi runs at 432x240 only; use --model e2fgvi_hq for other sizes", file=sys.stderr)
        return 2
    if h % 4 or w % 4:
        print(f"error: the processing size {w}x{h} must be a multiple of 4 (use --size)", file=sys.stderr)
        return 2
    model = build_model(args.model, args.ckpt, args.config)
    out = Path(args.out)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    fps = args.fps or getattr(frames, "fps", None) or 24.0
    video = VideoWriter(out / "inpainted.mp4", fps, (h, w))
    side = VideoWriter(out / "side_by_side.mp4", fps, (h, 2 * w))
    import cv2

    n = len(frames)

    def read_mask(i):
        return dilate_mask(masks[i], args.dilate)

    bar = tqdm(total=n, desc="inpainting", unit="frame")
    t0 = time.time()
    for i, comp in inpaint_stream(model, lambda i: frames[i], read_mask, n, args.neighbor_stride, args.ref_step,
                                  args.num_ref, pad_to=(60, 108) if args.model == "e2fgvi_hq" else None):
        img = comp.astype(np.uint8)
        cv2.imwrite(str(out / "frames" / f"{i:05d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        video.write(img)
        shown = frames[i].copy()
        m = read_mask(i).astype(bool)
        shown[m] = (0.5 * shown[m] + 0.5 * np.array([255, 0, 0])).astype(np.uint8)
        side.write(np.concatenate([shown, img], axis=1))
        bar.update(1)
    bar.close()
    video.close()
    side.close()
    secs = time.time() - t0
    frames.close()
    print(f"{n} frames at {w}x{h} in {secs:.1f} s: {secs / max(n, 1):.3f} s per frame")
    print(f"wrote {out / 'frames'}/, {out / 'inpainted.mp4'}, {out / 'side_by_side.mp4'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
