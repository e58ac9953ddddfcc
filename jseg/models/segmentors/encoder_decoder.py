"""``EncoderDecoder``: backbone + decode head (+ auxiliary heads) with mmseg's training and inference.

Training (``train_step``): features -> head logits at 1/8 -> bilinear to the label size -> loss
(``decode.loss_ce``; auxiliary heads add ``aux.*``), plus ``decode.acc_seg``.

Inference (``inference`` / ``predict`` / ``val_step``) follows mmseg's ``whole_inference``,
``slide_inference`` and ``aug_test``, with the test-time resize done here instead of in the data
pipeline (validation pipelines keep images and labels at their stored size):

* the views of ``test_cfg``: each ratio of ``img_scale`` (keep-ratio resize, optionally rounded up
  to ``size_divisor``), each optionally flipped (``jseg.transforms.TestTimeAug``);
* per view, ``mode="whole"`` runs the network on the whole view, ``mode="slide"`` on
  ``crop_size`` windows every ``stride`` pixels, summing logits and dividing by the count of windows
  covering each pixel; logits are bilinearly resized to the view;
* each view's logits are un-flipped and bilinearly resized to the output size (the label's);
  with one view the argmax of those logits is the prediction, with several the softmax
  probabilities are averaged first (mmseg).

``test_cfg`` keys: ``mode`` (``"whole"``/``"slide"``), ``crop_size``/``stride`` (``(h, w)``, slide),
``img_scale`` (``(w, h)``; ``None`` = the image's own size), ``keep_ratio`` (True),
``size_divisor`` (None), ``ratios`` (``(1.0,)``), ``flip`` (False), ``flip_direction``
(``"horizontal"``), ``batched`` (False: ``val_step`` runs one image per forward, as mmseg tests, so
a prediction never depends on which images share its batch, and evaluation with N MPI ranks gives
exactly the single-process result; True: equal-sized images of a batch go through together,
faster on GPUs, equal only up to floating-point rounding).

NMF bases: in evaluation the head draws them from its seeded generator (``ham_kwargs.eval_seed``),
so scores are reproducible; ``nmf_bases=`` passes explicit bases through ``encode_decode``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

import jittor as jt
from jittor import nn

from jvision.convert import load_checkpoint
from jvision.registry import MODELS

from ..bricks import resize

__all__ = ["EncoderDecoder", "TEST_CFG_KEYS"]

TEST_CFG_KEYS = ("mode", "crop_size", "stride", "img_scale", "keep_ratio", "size_divisor", "ratios", "flip",
                 "flip_direction", "batched")


def _missing_pretrained_message(path: str) -> str:
    return (f"pretrained backbone weights {path!r} (model.pretrained) not found, so training would start from "
            "scratch. SegNeXt recipes start from ImageNet-pretrained MSCAN (the official mscan_{t,s,b,l}.pth of the "
            "SegNeXt README); put the file there, or train from scratch on purpose with "
            "--cfg-options model.pretrained=None")


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return int(v[0]), int(v[1])
    raise ValueError(f"test_cfg.{name} must be an int or (h, w), got {v!r}")


@MODELS.register()
class EncoderDecoder(nn.Module):
    """Backbone + decode head segmentor (mmseg's ``EncoderDecoder``; see the module docstring).

    Args:
        backbone: config of a registered backbone returning a list of feature maps (``mscan_t`` ...).
            An mmseg-style ``init_cfg=dict(type="Pretrained", checkpoint=PATH)`` inside it loads
            ImageNet weights (same as ``pretrained=PATH``).
        decode_head: config of the decode head (``LightHamHead`` ...).
        auxiliary_head: a head config or a list of them (their losses are added, prefixed ``aux``).
        neck: not supported (SegNeXt has none); must be ``None``.
        train_cfg: must be empty (no pixel sampler).
        test_cfg: inference settings (module docstring).
        pretrained: path of backbone weights, loaded at construction (strict; ``head.*`` of ImageNet
            files skipped). A missing file is not an error until training starts (``train_step``
            raises): evaluating or fine-tuning a whole checkpoint does not need it.
    """

    def __init__(self, backbone: dict, decode_head: dict, auxiliary_head: dict | Sequence[dict] | None = None,
                 neck: dict | None = None, train_cfg: dict | None = None, test_cfg: dict | None = None,
                 pretrained: str | None = None):
        super().__init__()
        if neck is not None:
            raise NotImplementedError("EncoderDecoder: necks are not implemented (SegNeXt uses none)")
        if train_cfg:
            raise ValueError(f"EncoderDecoder: train_cfg {dict(train_cfg)!r} is not supported (no pixel sampler); "
                             "leave it empty")
        backbone = dict(backbone)
        init_cfg = backbone.pop("init_cfg", None)
        if init_cfg is not None:
            if dict(init_cfg).get("type") != "Pretrained" or "checkpoint" not in init_cfg:
                raise ValueError(f"backbone.init_cfg must be dict(type='Pretrained', checkpoint=PATH), got {init_cfg!r}")
            if pretrained is not None and pretrained != init_cfg["checkpoint"]:
                raise ValueError(f"both pretrained={pretrained!r} and backbone.init_cfg.checkpoint="
                                 f"{init_cfg['checkpoint']!r} are given; keep one")
            pretrained = init_cfg["checkpoint"]
        self.backbone = MODELS.build(backbone)
        self.decode_head = MODELS.build(decode_head)
        self.num_classes = self.decode_head.num_classes
        self.align_corners = self.decode_head.align_corners
        self.ignore_index = self.decode_head.ignore_index
        if auxiliary_head is None:
            self.auxiliary_head = None
        else:
            cfgs = [auxiliary_head] if isinstance(auxiliary_head, dict) else list(auxiliary_head)
            self.auxiliary_head = nn.ModuleList([MODELS.build(c) for c in cfgs])
        self.test_cfg = self._check_test_cfg(test_cfg)
        self.pretrained = pretrained
        self._missing_pretrained = None
        if pretrained:
            if Path(pretrained).is_file():
                self.init_backbone(pretrained)
            else:
                # Evaluating or fine-tuning from a whole checkpoint needs no backbone file; training
                # without it would silently start from scratch, so train_step refuses (see there).
                self._missing_pretrained = str(pretrained)
        self.train()

    # -- configuration ----------------------------------------------------------------------------
    @staticmethod
    def _check_test_cfg(test_cfg: dict | None) -> dict:
        cfg = dict(mode="whole", crop_size=None, stride=None, img_scale=None, keep_ratio=True, size_divisor=None,
                   ratios=(1.0,), flip=False, flip_direction="horizontal", batched=False)
        given = dict(test_cfg or {})
        unknown = set(given) - set(TEST_CFG_KEYS)
        if unknown:
            raise KeyError(f"test_cfg has unknown key(s) {sorted(unknown)}; known: {list(TEST_CFG_KEYS)}")
        cfg.update(given)
        if cfg["mode"] not in ("whole", "slide"):
            raise ValueError(f"test_cfg.mode must be 'whole' or 'slide', got {cfg['mode']!r}")
        if cfg["mode"] == "slide":
            if cfg["crop_size"] is None or cfg["stride"] is None:
                raise ValueError("test_cfg.mode='slide' needs crop_size and stride")
            cfg["crop_size"] = _pair(cfg["crop_size"], "crop_size")
            cfg["stride"] = _pair(cfg["stride"], "stride")
            if min(cfg["stride"]) <= 0 or min(cfg["crop_size"]) <= 0:
                raise ValueError(f"test_cfg crop_size {cfg['crop_size']} and stride {cfg['stride']} must be positive")
            if cfg["stride"][0] > cfg["crop_size"][0] or cfg["stride"][1] > cfg["crop_size"][1]:
                raise ValueError(f"test_cfg stride {cfg['stride']} larger than crop_size {cfg['crop_size']} "
                                 "leaves pixels without a prediction")
        from jseg.transforms.tta import TestTimeAug
        cfg["_tta"] = TestTimeAug(img_scale=cfg["img_scale"], ratios=tuple(cfg["ratios"]), flip=bool(cfg["flip"]),
                                  flip_direction=cfg["flip_direction"], keep_ratio=bool(cfg["keep_ratio"]),
                                  size_divisor=cfg["size_divisor"])
        return cfg

    def set_test_cfg(self, **changes) -> None:
        """Change inference settings (e.g. ``mode="slide", crop_size=512, stride=341``)."""
        cfg = {k: v for k, v in self.test_cfg.items() if not k.startswith("_")}
        cfg.update(changes)
        self.test_cfg = self._check_test_cfg(cfg)

    def init_backbone(self, path: str) -> None:
        """Load backbone weights through ``jvision.convert.load_checkpoint`` (strict, restricted
        reader): an ImageNet MSCAN file (its classifier ``head.*`` skipped) or the ``backbone.`` part
        of a segmentor checkpoint; raises with a key table if they do not fit."""
        if not Path(path).is_file():
            raise FileNotFoundError(_missing_pretrained_message(path))
        load_checkpoint(self.backbone, path, ignore_unexpected=("head.*",))
        self._missing_pretrained = None

    # -- network ----------------------------------------------------------------------------------
    def extract_feat(self, img):
        return self.backbone(img)

    def encode_decode(self, img, nmf_bases=None):
        """Logits ``[N, K, H, W]`` at the size of ``img``."""
        feats = self.extract_feat(img)
        logits = self.decode_head(feats, nmf_bases) if nmf_bases is not None else self.decode_head(feats)
        return resize(logits, img.shape[2:], "bilinear", self.align_corners)

    def execute(self, img, nmf_bases=None):
        return self.encode_decode(img, nmf_bases)

    # -- training ---------------------------------------------------------------------------------
    def forward_train(self, img, gt_seg) -> dict:
        if gt_seg.ndim == 4:
            gt_seg = gt_seg.squeeze(1)
        feats = self.extract_feat(img)
        out = {}
        logits = self.decode_head(feats)
        for k, v in self.decode_head.losses(logits, gt_seg).items():
            out[f"decode.{k}"] = v
        if self.auxiliary_head is not None:
            for i, head in enumerate(self.auxiliary_head):
                tag = "aux" if len(self.auxiliary_head) == 1 else f"aux_{i}"
                for k, v in head.losses(head(feats), gt_seg).items():
                    out[f"{tag}.{k}"] = v
        losses = [v for k, v in out.items() if k.rsplit(".", 1)[-1].startswith("loss")]
        out["loss"] = losses[0] if len(losses) == 1 else sum(losses[1:], losses[0])
        return out

    def train_step(self, batch: dict) -> dict:
        if self._missing_pretrained is not None:
            raise FileNotFoundError(_missing_pretrained_message(self._missing_pretrained))
        img, gt = batch["img"], batch.get("gt_seg")
        if gt is None:
            raise KeyError("EncoderDecoder.train_step: the batch has no 'gt_seg' (does the training pipeline "
                           "end with PackSegInputs and load labels?)")
        if not isinstance(img, jt.Var) or not isinstance(gt, jt.Var):
            shapes = sorted({tuple(np.shape(a)) for a in (img if isinstance(img, list) else [img])})
            raise ValueError(f"EncoderDecoder.train_step: training images differ in size {shapes[:4]}; the training "
                             "pipeline must crop/pad every sample to one size (RandomCrop + Pad)")
        return self.forward_train(img, gt)

    # -- inference --------------------------------------------------------------------------------
    def slide_inference(self, img, nmf_bases=None):
        """mmseg's sliding window: logits of ``crop_size`` windows every ``stride``, averaged."""
        from jseg.transforms.tta import slide_windows
        n, _, h, w = img.shape
        count = np.zeros((h, w), dtype=np.float32)
        preds = None
        for y1, y2, x1, x2 in slide_windows(h, w, self.test_cfg["crop_size"], self.test_cfg["stride"]):
            crop_logits = self.encode_decode(img[:, :, y1:y2, x1:x2], nmf_bases)
            padded = nn.pad(crop_logits, (x1, w - x2, y1, h - y2))
            preds = padded if preds is None else preds + padded
            preds.sync()  # bound the graph (and memory) to one window
            count[y1:y2, x1:x2] += 1
        if (count == 0).any():
            raise RuntimeError("slide_inference: some pixels are covered by no window")  # cannot happen
        return preds / jt.array(count).reshape(1, 1, h, w)

    def whole_inference(self, img, nmf_bases=None):
        return self.encode_decode(img, nmf_bases)

    def _infer_view(self, img, nmf_bases=None):
        if self.test_cfg["mode"] == "slide":
            return self.slide_inference(img, nmf_bases)
        return self.whole_inference(img, nmf_bases)

    def inference(self, img, out_size: Sequence[int] | None = None, nmf_bases=None) -> tuple[jt.Var, bool]:
        """Scores ``[N, K, h, w]`` at ``out_size`` (default: the input's size) over the test-time views.

        Returns ``(scores, is_prob)``: logits for one view, averaged softmax probabilities for more.
        """
        if img.ndim != 4:
            raise ValueError(f"inference expects [N, 3, H, W], got {list(img.shape)}")
        h, w = img.shape[2], img.shape[3]
        out_size = (h, w) if out_size is None else (int(out_size[0]), int(out_size[1]))
        views = self.test_cfg["_tta"].views(h, w)
        total = None
        for view in views:
            x = resize(img, view.size, "bilinear", self.align_corners)
            if view.flip:
                x = x.flip(view.flip_axis % 4)
            logits = self._infer_view(x, nmf_bases)
            if view.flip:
                logits = logits.flip(view.flip_axis % 4)
            logits = resize(logits, out_size, "bilinear", self.align_corners)
            if len(views) == 1:
                return logits, False
            probs = nn.softmax(logits, dim=1)
            total = probs if total is None else total + probs
            total.sync()
        return total / len(views), True

    def predict(self, img, out_size: Sequence[int] | None = None, nmf_bases=None) -> np.ndarray:
        """Label maps ``[N, h, w]`` (int32) at ``out_size`` (default: the input's size)."""
        if not isinstance(img, jt.Var):
            img = jt.array(np.asarray(img, dtype=np.float32))
        if img.ndim == 3:
            img = img.unsqueeze(0)
        was_training = self.is_training()
        self.eval()
        try:
            with jt.no_grad():
                scores, _ = self.inference(img, out_size, nmf_bases)
                return np.argmax(scores.numpy(), axis=1).astype(np.int32)
        finally:
            if was_training:
                self.train()

    def val_step(self, batch: dict) -> list[np.ndarray]:
        """Predicted label maps, one ``HxW`` int32 array per image, at the resolution of its label
        (``gt_seg``), or of ``meta["ori_shape"]`` when the batch has no labels."""
        imgs = batch["img"]
        metas = batch.get("meta") or []
        gts = batch.get("gt_seg")
        if isinstance(imgs, jt.Var):
            n = imgs.shape[0]
            singles = None
        else:
            singles = [np.asarray(a, dtype=np.float32) for a in imgs]
            n = len(singles)
        sizes = []
        for i in range(n):
            if gts is not None:
                g = gts[i] if isinstance(gts, (list, tuple)) else gts[i]
                sizes.append(tuple(int(s) for s in g.shape[-2:]))
            elif i < len(metas) and isinstance(metas[i], dict) and "ori_shape" in metas[i]:
                sizes.append(tuple(int(s) for s in metas[i]["ori_shape"][:2]))
            else:
                img_i = imgs[i] if singles is None else singles[i]
                sizes.append(tuple(int(s) for s in img_i.shape[-2:]))
        if singles is None and len(set(sizes)) == 1 and (self.test_cfg["batched"] or n == 1):
            return list(self.predict(imgs, sizes[0]))
        out = []
        for i in range(n):
            one = imgs[i:i + 1] if singles is None else singles[i][None]
            out.append(self.predict(one, sizes[i])[0])
        return out
