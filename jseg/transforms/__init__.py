"""Segmentation transforms (registered in ``TRANSFORMS``) and test-time augmentation helpers.

Every transform is ``t(sample, rng) -> sample`` (see ``jvision.data.base``); geometric ones move the
image and every label map together. The SegNeXt ADE20K training pipeline::

    [dict(type="SegResize", img_scale=(2048, 512), ratio_range=(0.5, 2.0)),
     dict(type="RandomCrop", crop_size=(512, 512), cat_max_ratio=0.75),
     dict(type="RandomFlip", prob=0.5),
     dict(type="PhotoMetricDistortion"),
     dict(type="Normalize", mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375)),
     dict(type="Pad", size=(512, 512), pad_val=0, seg_pad_val=255),
     dict(type="PackSegInputs")]

``Normalize`` is the shared one of ``jvision.data.transforms`` (0-255 units, RGB). The names
``Resize`` and ``ToTensor`` belong to the classification transforms there; the segmentation
versions, which move/convert label maps too, are ``SegResize`` and ``PackSegInputs``.

Validation pipelines keep the image and label at their original size (``Normalize``,
``PackSegInputs``); the segmentor resizes for inference (``TestTimeAug``) and predicts at the label's
resolution.
"""
from .geometric import (Pad, RandomCrop, RandomFlip, ResizeToMultiple, SegResize, rescale_size,  # noqa: F401
                        resize_image, resize_label, seg_keys)
from .photometric import PhotoMetricDistortion  # noqa: F401
from .formatting import PackSegInputs  # noqa: F401
from .tta import TestTimeAug, View, aug_predict, slide_predict, slide_windows, softmax  # noqa: F401
