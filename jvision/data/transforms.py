"""Classification transforms: the timm ImageNet training pipeline and the resize/centre-crop eval.

Every transform follows the protocol of ``jvision.data.base``: ``t(sample, rng) -> sample``, all
random choices drawn from the ``numpy.random.Generator`` it is given (the loader derives it from
seed, epoch and index), so augmentation is reproducible and independent of the worker count.

Value and layout conventions:

* Until ``ToTensor``, ``sample["img"]`` is the raw ``HxWx3`` ``uint8`` RGB image. The geometric and
  photometric ops (``RandomResizedCrop``, ``Resize``, ``RandAugment``, ``ColorJitter``) go through
  Pillow, like timm/torchvision, so that the pixels match the reference pipelines that produced the
  official checkpoints (``backend="cv2"`` is offered where it matters for speed).
* ``ToTensor`` turns ``HxWxC`` into ``CxHxW`` ``float32`` and **keeps the 0-255 range** (no division
  by 255); it also turns ``gt_label`` into an ``int64`` scalar array.
* ``Normalize`` therefore takes mean/std in **0-255 units** (ImageNet: ``IMAGENET_MEAN`` =
  (123.675, 116.28, 103.53), ``IMAGENET_STD`` = (58.395, 57.12, 57.375), i.e. timm's
  (0.485, 0.456, 0.406)/(0.229, 0.224, 0.225) times 255; the result is identical to timm's
  ``ToTensor`` + ``Normalize``). It normalises a CHW float image (after ``ToTensor``) or, given a
  raw HWC uint8 image, returns HWC float32.
* ``RandomErasing`` works on the normalised CHW image, as in timm (``pixel`` mode fills with N(0,1)).

timm's training pipeline, ``rand-m9-mstd0.5-inc1``, ``reprob 0.25``, random interpolation::

    [RandomResizedCrop(224, interpolation="random"), RandomHorizontalFlip(),
     RandAugment(magnitude=9, magnitude_std=0.5, increasing=True, fill=<mean in 0-255>),
     ToTensor(), Normalize(), RandomErasing(prob=0.25, mode="pixel")]

Note that timm applies ``ColorJitter`` only when no auto-augment policy is given (``--color-jitter
0.4`` is a no-op together with ``--aa rand-...``).
"""
from __future__ import annotations

import math
import re
from typing import Sequence

import cv2
import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from ..registry import TRANSFORMS

__all__ = [
    "IMAGENET_MEAN", "IMAGENET_STD", "INCEPTION_MEAN", "INCEPTION_STD",
    "RandomResizedCrop", "RandomHorizontalFlip", "RandAugment", "ColorJitter", "RandomErasing",
    "Resize", "CenterCrop", "Normalize", "ToTensor", "RAND_AUGMENT_OPS", "parse_rand_augment",
]

IMAGENET_MEAN = (123.675, 116.28, 103.53)       # 255 * (0.485, 0.456, 0.406)
IMAGENET_STD = (58.395, 57.12, 57.375)          # 255 * (0.229, 0.224, 0.225)
INCEPTION_MEAN = (127.5, 127.5, 127.5)          # 255 * 0.5 (timm IMAGENET_INCEPTION_*)
INCEPTION_STD = (127.5, 127.5, 127.5)

_R = Image.Resampling
_PIL_INTERP = {"nearest": _R.NEAREST, "bilinear": _R.BILINEAR, "bicubic": _R.BICUBIC,
               "lanczos": _R.LANCZOS, "box": _R.BOX, "hamming": _R.HAMMING}
_CV2_INTERP = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC,
               "lanczos": cv2.INTER_LANCZOS4, "area": cv2.INTER_AREA}
_RANDOM_INTERP = ("bilinear", "bicubic")        # timm's choices for interpolation="random"


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def _pair(size) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"size must be an int or (height, width), got {size!r}")


def _check_interp(interpolation: str, backend: str, allow_random: bool = True) -> None:
    if backend not in ("pil", "cv2"):
        raise ValueError(f"backend must be 'pil' or 'cv2', got {backend!r}")
    table = _PIL_INTERP if backend == "pil" else _CV2_INTERP
    valid = list(table) + (["random"] if allow_random else [])
    if interpolation not in valid:
        raise ValueError(f"interpolation {interpolation!r} is not one of {valid} (backend {backend!r})")


def _pick_interp(interpolation: str, rng: np.random.Generator) -> str:
    if interpolation == "random":
        return _RANDOM_INTERP[int(rng.integers(len(_RANDOM_INTERP)))]
    return interpolation


def _resize(img: np.ndarray, hw: tuple[int, int], interpolation: str, backend: str) -> np.ndarray:
    h, w = hw
    if img.shape[0] == h and img.shape[1] == w:
        return img
    if backend == "pil":
        return np.asarray(Image.fromarray(img).resize((w, h), _PIL_INTERP[interpolation]))
    return cv2.resize(img, (w, h), interpolation=_CV2_INTERP[interpolation])


def _raw_image(sample: dict, who: str) -> np.ndarray:
    img = sample.get("img")
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
        desc = (f"{type(img).__name__} {getattr(img, 'dtype', '')} {getattr(img, 'shape', '')}"
                if img is not None else "nothing")
        raise TypeError(f"{who} expects sample['img'] to be a raw HxWx3 uint8 image (put it before "
                        f"ToTensor), got {desc}")
    return img


def _chw_image(sample: dict, who: str) -> np.ndarray:
    img = sample.get("img")
    if not isinstance(img, np.ndarray) or img.ndim != 3 or not np.issubdtype(img.dtype, np.floating):
        desc = (f"{type(img).__name__} {getattr(img, 'dtype', '')} {getattr(img, 'shape', '')}"
                if img is not None else "nothing")
        raise TypeError(f"{who} expects sample['img'] to be the CHW float32 output of ToTensor "
                        f"(put it after ToTensor), got {desc}")
    return img


def _fill3(fill) -> tuple[int, int, int]:
    if isinstance(fill, (int, float)):
        fill = (fill,) * 3
    if len(fill) != 3:
        raise ValueError(f"fill must be a number or 3 values (RGB, 0-255), got {fill!r}")
    return tuple(int(round(min(255.0, max(0.0, float(v))))) for v in fill)


# ------------------------------------------------------------------------------------------------
# geometric
# ------------------------------------------------------------------------------------------------
@TRANSFORMS.register()
class RandomResizedCrop:
    """Crop a random area/aspect-ratio window and resize it to ``size`` (timm/torchvision sampling).

    10 attempts at ``area ~ U(scale) * H * W`` and ``log(aspect) ~ U(log ratio)``; if none fits,
    the central crop clamped to ``ratio``. ``interpolation="random"`` picks bilinear or bicubic per
    image (timm's ``--train-interpolation random``).
    """

    def __init__(self, size=224, scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3), interpolation: str = "bilinear",
                 backend: str = "pil"):
        self.size = _pair(size)
        if not (0 < scale[0] <= scale[1]):
            raise ValueError(f"RandomResizedCrop scale must satisfy 0 < min <= max, got {scale!r}")
        if not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f"RandomResizedCrop ratio must satisfy 0 < min <= max, got {ratio!r}")
        _check_interp(interpolation, backend)
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.interpolation, self.backend = interpolation, backend

    def get_params(self, height: int, width: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """(top, left, h, w) of the crop window."""
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target_area = rng.uniform(*self.scale) * area
            aspect = math.exp(rng.uniform(*log_ratio))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top = int(rng.integers(0, height - h + 1))
                left = int(rng.integers(0, width - w + 1))
                return top, left, h, w
        in_ratio = width / height
        if in_ratio < min(self.ratio):
            w, h = width, int(round(width / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            h, w = height, int(round(height * max(self.ratio)))
        else:
            h, w = height, width
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        img = _raw_image(sample, "RandomResizedCrop")
        top, left, h, w = self.get_params(img.shape[0], img.shape[1], rng)
        interp = _pick_interp(self.interpolation, rng)
        crop = np.ascontiguousarray(img[top:top + h, left:left + w])
        sample["img"] = _resize(crop, self.size, interp, self.backend)
        return sample

    def __repr__(self) -> str:
        return (f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={self.ratio}, "
                f"interpolation={self.interpolation!r})")


@TRANSFORMS.register()
class RandomHorizontalFlip:
    """Mirror ``keys`` (default the image) left-right with probability ``prob``."""

    def __init__(self, prob: float = 0.5, keys: Sequence[str] = ("img",)):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"RandomHorizontalFlip prob must be in [0, 1], got {prob}")
        self.prob, self.keys = prob, tuple(keys)

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        if rng.random() < self.prob:
            for k in self.keys:
                sample[k] = np.ascontiguousarray(sample[k][:, ::-1])
        return sample


@TRANSFORMS.register()
class Resize:
    """Resize the image: an int ``size`` sets the **shorter side** (the other side is
    ``int(size * long / short)``, as torchvision does), a pair sets ``(height, width)``."""

    def __init__(self, size, interpolation: str = "bilinear", backend: str = "pil"):
        if isinstance(size, (int, np.integer)):
            if size <= 0:
                raise ValueError(f"Resize size must be positive, got {size}")
            self.size = int(size)
        else:
            self.size = _pair(size)
        _check_interp(interpolation, backend, allow_random=False)
        self.interpolation, self.backend = interpolation, backend

    def target_shape(self, height: int, width: int) -> tuple[int, int]:
        if not isinstance(self.size, int):
            return self.size
        if width <= height:
            return int(self.size * height / width), self.size
        return self.size, int(self.size * width / height)

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        img = _raw_image(sample, "Resize")
        sample["img"] = _resize(img, self.target_shape(*img.shape[:2]), self.interpolation, self.backend)
        return sample

    def __repr__(self) -> str:
        return f"Resize(size={self.size}, interpolation={self.interpolation!r})"


@TRANSFORMS.register()
class CenterCrop:
    """Crop the centre ``size`` window (torchvision rounding); a smaller image is zero-padded first."""

    def __init__(self, size=224):
        self.size = _pair(size)

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        img = _raw_image(sample, "CenterCrop")
        ch, cw = self.size
        h, w = img.shape[:2]
        if h < ch or w < cw:
            pt, pl = max(ch - h, 0) // 2, max(cw - w, 0) // 2
            pb, pr = max(ch - h, 0) - pt, max(cw - w, 0) - pl
            pad = ((pt, pb), (pl, pr)) + (((0, 0),) if img.ndim == 3 else ())
            img = np.pad(img, pad)
            h, w = img.shape[:2]
        top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
        sample["img"] = np.ascontiguousarray(img[top:top + ch, left:left + cw])
        return sample

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"


# ------------------------------------------------------------------------------------------------
# RandAugment (timm semantics)
# ------------------------------------------------------------------------------------------------
_MAX_LEVEL = 10.0


def _negate(v: float, rng: np.random.Generator) -> float:
    return -v if rng.random() > 0.5 else v


def _affine(img: Image.Image, matrix, ctx) -> Image.Image:
    return img.transform(img.size, Image.Transform.AFFINE, matrix, resample=ctx["resample"],
                         fillcolor=ctx["fill"])


def _solarize_add(img: Image.Image, add: int, thresh: int = 128) -> Image.Image:
    lut = [min(255, i + add) if i < thresh else i for i in range(256)]
    return img.point(lut * len(img.getbands()))


def _posterize(img: Image.Image, bits: int) -> Image.Image:
    """Keep the ``bits`` most significant bits; 0 bits gives black (old Pillow's result, which timm's
    ``PosterizeIncreasing`` at magnitude 10 relies on; Pillow >= 10 refuses ``bits=0``)."""
    if bits >= 8:
        return img
    mask = ~(2 ** (8 - max(bits, 0)) - 1) & 0xFF
    return img.point([i & mask for i in range(256)] * len(img.getbands()))


# name -> (op(img, arg, ctx), level(magnitude, rng, hparams) -> arg or None)
def _enh(cls):
    return lambda img, f, ctx: cls(img).enhance(f)


_ENHANCE_LEVEL = lambda m, rng, hp: m / _MAX_LEVEL * 1.8 + 0.1              # noqa: E731  [0.1, 1.9]
_ENHANCE_INC_LEVEL = lambda m, rng, hp: 1.0 + _negate(m / _MAX_LEVEL * 0.9, rng)  # noqa: E731

RAND_AUGMENT_OPS = {
    "AutoContrast": (lambda img, a, ctx: ImageOps.autocontrast(img), None),
    "Equalize": (lambda img, a, ctx: ImageOps.equalize(img), None),
    "Invert": (lambda img, a, ctx: ImageOps.invert(img), None),
    "Rotate": (lambda img, deg, ctx: img.rotate(deg, resample=ctx["resample"], fillcolor=ctx["fill"]),
               lambda m, rng, hp: _negate(m / _MAX_LEVEL * 30.0, rng)),
    "Posterize": (lambda img, b, ctx: _posterize(img, b), lambda m, rng, hp: int(m / _MAX_LEVEL * 4)),
    "PosterizeIncreasing": (lambda img, b, ctx: _posterize(img, b),
                            lambda m, rng, hp: 4 - int(m / _MAX_LEVEL * 4)),
    "Solarize": (lambda img, t, ctx: ImageOps.solarize(img, t), lambda m, rng, hp: int(m / _MAX_LEVEL * 256)),
    "SolarizeIncreasing": (lambda img, t, ctx: ImageOps.solarize(img, t),
                           lambda m, rng, hp: 256 - int(m / _MAX_LEVEL * 256)),
    "SolarizeAdd": (lambda img, a, ctx: _solarize_add(img, a), lambda m, rng, hp: int(m / _MAX_LEVEL * 110)),
    "Color": (_enh(ImageEnhance.Color), _ENHANCE_LEVEL),
    "ColorIncreasing": (_enh(ImageEnhance.Color), _ENHANCE_INC_LEVEL),
    "Contrast": (_enh(ImageEnhance.Contrast), _ENHANCE_LEVEL),
    "ContrastIncreasing": (_enh(ImageEnhance.Contrast), _ENHANCE_INC_LEVEL),
    "Brightness": (_enh(ImageEnhance.Brightness), _ENHANCE_LEVEL),
    "BrightnessIncreasing": (_enh(ImageEnhance.Brightness), _ENHANCE_INC_LEVEL),
    "Sharpness": (_enh(ImageEnhance.Sharpness), _ENHANCE_LEVEL),
    "SharpnessIncreasing": (_enh(ImageEnhance.Sharpness), _ENHANCE_INC_LEVEL),
    "ShearX": (lambda img, f, ctx: _affine(img, (1, f, 0, 0, 1, 0), ctx),
               lambda m, rng, hp: _negate(m / _MAX_LEVEL * 0.3, rng)),
    "ShearY": (lambda img, f, ctx: _affine(img, (1, 0, 0, f, 1, 0), ctx),
               lambda m, rng, hp: _negate(m / _MAX_LEVEL * 0.3, rng)),
    "TranslateXRel": (lambda img, p, ctx: _affine(img, (1, 0, p * img.size[0], 0, 1, 0), ctx),
                      lambda m, rng, hp: _negate(m / _MAX_LEVEL * hp["translate_pct"], rng)),
    "TranslateYRel": (lambda img, p, ctx: _affine(img, (1, 0, 0, 0, 1, p * img.size[1]), ctx),
                      lambda m, rng, hp: _negate(m / _MAX_LEVEL * hp["translate_pct"], rng)),
}

# timm's _RAND_TRANSFORMS / _RAND_INCREASING_TRANSFORMS (Cutout is RandomErasing, separately).
_RAND_DEFAULT = ("AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "SolarizeAdd",
                 "Color", "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY",
                 "TranslateXRel", "TranslateYRel")
_RAND_INCREASING = ("AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing",
                    "SolarizeIncreasing", "SolarizeAdd", "ColorIncreasing", "ContrastIncreasing",
                    "BrightnessIncreasing", "SharpnessIncreasing", "ShearX", "ShearY",
                    "TranslateXRel", "TranslateYRel")


def parse_rand_augment(config_str: str) -> dict:
    """timm's ``rand-m9-n2-mstd0.5-inc1`` string -> RandAugment keyword arguments."""
    parts = config_str.split("-")
    if parts[0] != "rand":
        raise ValueError(f"RandAugment config string must start with 'rand', got {config_str!r}")
    out: dict = {}
    for part in parts[1:]:
        m = re.fullmatch(r"([a-z]+)(\d.*)", part)
        if not m:
            raise ValueError(f"RandAugment config string {config_str!r}: cannot parse section {part!r}")
        key, val = m.groups()
        if key == "m":
            out["magnitude"] = float(val)
        elif key == "n":
            out["num_layers"] = int(val)
        elif key == "mstd":
            out["magnitude_std"] = float(val)
        elif key == "inc":
            out["increasing"] = bool(int(val))
        elif key == "p":
            out["prob"] = float(val)
        else:
            raise ValueError(f"RandAugment config string {config_str!r}: unknown section {part!r} "
                             "(known: m, n, mstd, inc, p)")
    return out


@TRANSFORMS.register()
class RandAugment:
    """RandAugment with timm's semantics (``rand-m{magnitude}-n{num_layers}-mstd{std}-inc{0|1}``).

    Per image: ``num_layers`` ops drawn uniformly *with replacement* from the 15 ops; each is applied
    with probability ``prob`` (0.5) at a magnitude drawn from ``N(magnitude, magnitude_std)`` and
    clipped to [0, 10] (``magnitude_std=inf`` draws ``U(0, magnitude)``); signed ops flip their sign
    with probability 0.5. ``increasing=True`` selects the variants whose strength grows with the
    magnitude (Posterize/Solarize/Color/Contrast/Brightness/Sharpness*Increasing). Geometric ops fill
    with ``fill`` (timm: the dataset mean in 0-255, rounded; default the ImageNet mean) and resample
    with ``interpolation`` (``"random"``: bilinear or bicubic per op, timm's default when training
    with random interpolation). ``TranslateX/YRel`` move up to ``translate_pct`` (0.45) of the size.

    ``config_str`` accepts the timm string directly, e.g. ``RandAugment(config_str="rand-m9-mstd0.5-inc1")``.
    """

    def __init__(self, magnitude: float = 9, num_layers: int = 2, magnitude_std: float = 0.5,
                 increasing: bool = True, prob: float = 0.5, fill=(124, 116, 104),
                 interpolation: str = "random", translate_pct: float = 0.45,
                 ops: Sequence[str] | None = None, config_str: str | None = None):
        if config_str is not None:
            parsed = parse_rand_augment(config_str)
            magnitude = parsed.get("magnitude", _MAX_LEVEL)
            num_layers = parsed.get("num_layers", 2)
            magnitude_std = parsed.get("magnitude_std", 0.0)
            increasing = parsed.get("increasing", False)
            prob = parsed.get("prob", prob)
        if ops is None:
            ops = _RAND_INCREASING if increasing else _RAND_DEFAULT
        unknown = [o for o in ops if o not in RAND_AUGMENT_OPS]
        if unknown:
            raise ValueError(f"RandAugment: unknown op(s) {unknown}; known: {sorted(RAND_AUGMENT_OPS)}")
        if interpolation != "random" and interpolation not in ("nearest", "bilinear", "bicubic"):
            raise ValueError(f"RandAugment interpolation must be 'random', 'nearest', 'bilinear' or "
                             f"'bicubic', got {interpolation!r}")
        if num_layers < 0 or not 0.0 <= prob <= 1.0:
            raise ValueError(f"RandAugment: num_layers must be >= 0 and prob in [0, 1], got "
                             f"{num_layers}, {prob}")
        self.ops = tuple(ops)
        self.magnitude, self.num_layers = float(magnitude), int(num_layers)
        self.magnitude_std, self.prob = float(magnitude_std), float(prob)
        self.fill = _fill3(fill)
        self.interpolation = interpolation
        self.hparams = {"translate_pct": float(translate_pct)}

    def _magnitude(self, rng: np.random.Generator) -> float:
        m = self.magnitude
        if self.magnitude_std == float("inf"):
            m = rng.uniform(0.0, m)
        elif self.magnitude_std > 0:
            m = rng.normal(m, self.magnitude_std)
        return float(min(_MAX_LEVEL, max(0.0, m)))

    def apply_op(self, img: Image.Image, name: str, magnitude: float, rng: np.random.Generator) -> Image.Image:
        """Apply one op at a given magnitude (signs / resampling still drawn from ``rng``)."""
        fn, level = RAND_AUGMENT_OPS[name]
        arg = level(magnitude, rng, self.hparams) if level is not None else None
        interp = _pick_interp(self.interpolation, rng)
        return fn(img, arg, {"resample": _PIL_INTERP[interp], "fill": self.fill})

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        img = _raw_image(sample, "RandAugment")
        if self.num_layers == 0 or not self.ops:
            return sample
        pil = Image.fromarray(img)
        for idx in rng.integers(0, len(self.ops), size=self.num_layers):
            if self.prob < 1.0 and rng.random() > self.prob:
                continue
            pil = self.apply_op(pil, self.ops[int(idx)], self._magnitude(rng), rng)
        sample["img"] = np.asarray(pil)
        return sample

    def __repr__(self) -> str:
        return (f"RandAugment(m={self.magnitude}, n={self.num_layers}, mstd={self.magnitude_std}, "
                f"p={self.prob}, ops={len(self.ops)})")


# ------------------------------------------------------------------------------------------------
# photometric
# ------------------------------------------------------------------------------------------------
def _adjust_hue(img: Image.Image, hue: float) -> Image.Image:
    h, s, v = img.convert("HSV").split()
    arr = np.asarray(h, dtype=np.uint8)
    arr = (arr.astype(np.int16) + int(np.round(hue * 255))) % 256
    return Image.merge("HSV", (Image.fromarray(arr.astype(np.uint8)), s, v)).convert("RGB")


@TRANSFORMS.register()
class ColorJitter:
    """torchvision ``ColorJitter``: brightness/contrast/saturation factors ~ U[max(0, 1-x), 1+x],
    hue shift ~ U[-hue, hue] (hue <= 0.5), applied in a random order; a 0 disables that part."""

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.4,
                 hue: float = 0.0):
        for name, v in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
            if v < 0:
                raise ValueError(f"ColorJitter {name} must be >= 0, got {v}")
        if not 0.0 <= hue <= 0.5:
            raise ValueError(f"ColorJitter hue must be in [0, 0.5], got {hue}")
        self.brightness, self.contrast, self.saturation, self.hue = brightness, contrast, saturation, hue

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        img = _raw_image(sample, "ColorJitter")
        order = rng.permutation(4)
        factors = [rng.uniform(max(0.0, 1 - v), 1 + v) if v > 0 else None
                   for v in (self.brightness, self.contrast, self.saturation)]
        factors.append(rng.uniform(-self.hue, self.hue) if self.hue > 0 else None)
        pil = Image.fromarray(img)
        for i in order:
            f = factors[i]
            if f is None:
                continue
            if i == 0:
                pil = ImageEnhance.Brightness(pil).enhance(f)
            elif i == 1:
                pil = ImageEnhance.Contrast(pil).enhance(f)
            elif i == 2:
                pil = ImageEnhance.Color(pil).enhance(f)
            else:
                pil = _adjust_hue(pil, f)
        sample["img"] = np.asarray(pil)
        return sample


# ------------------------------------------------------------------------------------------------
# tensor conversion, normalisation, erasing
# ------------------------------------------------------------------------------------------------
@TRANSFORMS.register()
class ToTensor:
    """``HxWxC`` (or ``HxW``) image -> ``CxHxW`` float32, **values unchanged** (0-255 stays 0-255);
    ``gt_label`` (if present) -> int64 scalar array."""

    def __init__(self, keys: Sequence[str] = ("img",)):
        self.keys = tuple(keys)

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        for k in self.keys:
            img = sample[k]
            if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
                raise TypeError(f"ToTensor expects sample[{k!r}] to be an HxWxC or HxW array, "
                                f"got {type(img).__name__} {getattr(img, 'shape', '')}")
            if img.ndim == 2:
                img = img[:, :, None]
            sample[k] = np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)
        if "gt_label" in sample:
            sample["gt_label"] = np.asarray(sample["gt_label"], dtype=np.int64)
        return sample


@TRANSFORMS.register()
class Normalize:
    """``(img - mean) / std`` with mean/std in **0-255 units** (default ImageNet).

    A CHW float image (after ``ToTensor``) is normalised per channel on axis 0; a raw HWC uint8
    image is normalised on its last axis and returned as HWC float32.
    """

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1)
        if self.mean.shape != self.std.shape or self.mean.size == 0:
            raise ValueError(f"Normalize mean and std must have the same length, got {mean!r}, {std!r}")
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize std must be positive, got {std!r}")
        if float(self.mean.max()) <= 1.0 and float(self.std.max()) < 1.0:
            raise ValueError(f"Normalize mean/std look like 0-1 units ({mean!r}, {std!r}); this project "
                             "keeps pixels in 0-255 (ToTensor does not divide by 255), so multiply "
                             "them by 255, e.g. jvision.data.transforms.IMAGENET_MEAN / IMAGENET_STD")

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        img = sample.get("img")
        if isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3:
            c = img.shape[2]
            self._check_channels(c)
            sample["img"] = (img.astype(np.float32) - self.mean) / self.std
            return sample
        img = _chw_image(sample, "Normalize")
        c = img.shape[0]
        self._check_channels(c)
        mean = self.mean.reshape(-1, 1, 1)
        std = self.std.reshape(-1, 1, 1)
        sample["img"] = ((img - mean) / std).astype(np.float32, copy=False)
        return sample

    def _check_channels(self, c: int) -> None:
        if self.mean.size not in (1, c):
            raise ValueError(f"Normalize has {self.mean.size} mean/std values but the image has {c} channels")


@TRANSFORMS.register()
class RandomErasing:
    """timm ``RandomErasing`` on the normalised CHW image (after ``Normalize``).

    With probability ``prob``, erase ``count`` rectangles (``min_count..max_count``): area ~
    U(min_area, max_area) x image area / count, log-aspect ~ U(log min_aspect, log max_aspect)
    (``max_aspect`` defaults to ``1 / min_aspect``), 10 attempts each. Fill: ``"pixel"`` N(0, 1)
    per pixel and channel, ``"rand"`` N(0, 1) per channel, ``"const"`` zeros.
    """

    def __init__(self, prob: float = 0.25, mode: str = "pixel", min_area: float = 0.02,
                 max_area: float = 1 / 3, min_aspect: float = 0.3, max_aspect: float | None = None,
                 min_count: int = 1, max_count: int | None = None):
        if mode not in ("pixel", "rand", "const"):
            raise ValueError(f"RandomErasing mode must be 'pixel', 'rand' or 'const', got {mode!r}")
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"RandomErasing prob must be in [0, 1], got {prob}")
        if not 0 < min_area <= max_area:
            raise ValueError(f"RandomErasing needs 0 < min_area <= max_area, got {min_area}, {max_area}")
        max_aspect = max_aspect or 1.0 / min_aspect
        self.prob, self.mode = prob, mode
        self.min_area, self.max_area = min_area, max_area
        self.log_aspect = (math.log(min_aspect), math.log(max_aspect))
        self.min_count, self.max_count = min_count, max_count or min_count

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        img = _chw_image(sample, "RandomErasing")
        if rng.random() > self.prob:
            return sample
        img = img.copy()
        chan, height, width = img.shape
        area = height * width
        count = self.min_count if self.min_count == self.max_count else \
            int(rng.integers(self.min_count, self.max_count + 1))
        for _ in range(count):
            for _attempt in range(10):
                target = rng.uniform(self.min_area, self.max_area) * area / count
                aspect = math.exp(rng.uniform(*self.log_aspect))
                h = int(round(math.sqrt(target * aspect)))
                w = int(round(math.sqrt(target / aspect)))
                if w < width and h < height:
                    top = int(rng.integers(0, height - h + 1))
                    left = int(rng.integers(0, width - w + 1))
                    if self.mode == "pixel":
                        patch = rng.standard_normal((chan, h, w), dtype=np.float32)
                    elif self.mode == "rand":
                        patch = rng.standard_normal((chan, 1, 1), dtype=np.float32)
                    else:
                        patch = np.zeros((chan, 1, 1), np.float32)
                    img[:, top:top + h, left:left + w] = patch
                    break
        sample["img"] = img
        return sample
