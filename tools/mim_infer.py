#!/usr/bin/env python
"""Reconstruction pictures of a masked autoencoder on your images: image | masked | reconstruction | pasted.

    python tools/mim_infer.py CONFIG_OR_MODEL CHECKPOINT IMAGE [IMAGE ...] [--out DIR] [--mask-ratio 0.75]
    python tools/mim_infer.py work_dirs/mae_vit_tiny_patch16_builtin/config.py \
        work_dirs/mae_vit_tiny_patch16_builtin/latest.pkl photos/ --out work_dirs/mim_infer
    python tools/mim_infer.py mae_vit_large_patch16 mae_visualize_vit_large.pth cat.jpg     # official weights

CONFIG_OR_MODEL: the config the model was trained with (its ``model`` dict and its validation
normalisation are used) or a registered model name (ImageNet normalisation, the model's img_size).
CHECKPOINT: one of ours (``latest.pkl``) or an official MAE file with the decoder
(``mae_visualize_vit_*.pth`` or ``mae_pretrain_vit_*_full.pth``), read without torch; loading is strict.
An IMAGE may be a folder. Each image is resized (shorter side) and centre-cropped to the model's input,
masked with a fixed random mask (--seed) and written to ``DIR/<stem>_recon.png``; the per-image loss is
printed. With a non-pixel target (HOG, teacher features) the pictures show image | masked only.

This is the MAE entry of the inference tools; ``tools/infer.py`` is segmentation's.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

IMAGENET_MEAN, IMAGENET_STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="config file (.py) or registered model name (e.g. mae_vit_large_patch16)")
    p.add_argument("checkpoint", help="our .pkl or an official MAE .pth with the decoder")
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("--out", default="work_dirs/mim_infer", help="output folder (work_dirs/mim_infer)")
    p.add_argument("--mask-ratio", type=float, help="default: the model's (0.75)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random mask (0)")
    p.add_argument("--norm-pix", choices=("yes", "no"),
                   help="registered names only: the checkpoint predicts normalised patches (mae_pretrain_*_full) "
                        "or pixels (mae_visualize_*, the default)")
    return p.parse_args(argv)


def _normalisation(cfg) -> tuple[tuple, tuple]:
    """The Normalize step of the config's validation (else training) pipeline."""
    for split in ("val", "train"):
        for step in ((cfg.get("data") or {}).get(split) or {}).get("pipeline", []) or []:
            if isinstance(step, dict) and step.get("type") == "Normalize":
                return tuple(step.get("mean", IMAGENET_MEAN)), tuple(step.get("std", IMAGENET_STD))
    return IMAGENET_MEAN, IMAGENET_STD


def build(model_arg: str, norm_pix: str | None):
    from jvision.registry import MODELS
    if model_arg.endswith(".py"):
        from jvision.config import Config
        cfg = Config.fromfile(model_arg)
        for module in cfg.get("custom_imports", []) or []:
            __import__(module)
        from jvision.engine.trainer import model_config_for_checkpoint
        model_cfg = model_config_for_checkpoint(cfg.to_dict()["model"])  # the checkpoint holds every weight
        mean, std = _normalisation(cfg)
    else:
        model_cfg = {"type": model_arg}
        if norm_pix is not None:
            model_cfg["norm_pix_loss"] = norm_pix == "yes"
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    model = MODELS.build(model_cfg)
    if not hasattr(model, "forward_encoder") or not hasattr(model, "target"):
        raise TypeError(f"{model_arg}: {type(model).__name__} is not a masked autoencoder")
    return model, mean, std


def load(model, path: Path) -> str:
    from jvision.convert import load_checkpoint
    report = load_checkpoint(model, path, strict=True, log=None)
    return report.summary()


def prepare(path: Path, size: int, mean, std):
    import numpy as np
    from jvision.data.image_io import read_image
    from jvision.data.transforms import CenterCrop, Normalize, Resize, ToTensor
    sample = {"img": read_image(path)}
    rng = np.random.default_rng(0)
    for t in (Resize(size=size, interpolation="bicubic"), CenterCrop(size=size), ToTensor(), Normalize(mean, std)):
        sample = t(sample, rng)
    return sample["img"]


def main(argv=None) -> int:
    args = parse_args(argv)
    import numpy as np
    import jvision  # noqa: F401  (configures Jittor)
    from jvision.data.image_io import collect_image_files
    from jvision.mim.visualize import reconstruction_grid, save_png

    model, mean, std = build(args.model, args.norm_pix)
    print(f"loaded {load(model, Path(args.checkpoint))}")
    size = model.patch_embed.img_size[0]
    out_dir = Path(args.out)
    for path in collect_image_files(args.images):
        img = prepare(path, size, mean, std)[None].astype(np.float32)
        grid, result = reconstruction_grid(model, img, mean, std, mask_ratio=args.mask_ratio, seed=args.seed)
        target = save_png(out_dir / f"{path.stem}_recon.png", grid)
        print(f"{path}: loss {result['loss']:.4f} -> {target}")
    print(f"reconstructions written to {out_dir.resolve()}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (FileNotFoundError, KeyError, TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
