"""Segmentation datasets: one folder reader (``SegDataset``) and the standard sets on top of it.

========================  ==============  =======  ===================  =========================
registered name           class           classes  reduce_zero_label    layout (see each file)
========================  ==============  =======  ===================  =========================
``ADE20K``                ADE20K          150      yes                  images/, annotations/
``Cityscapes``            Cityscapes      19       no                   leftImg8bit/, gtFine/
``PascalVOC`` (``VOC``)   PascalVOC       21       no                   JPEGImages/, SegmentationClass(Aug)/
``COCOStuff``             COCOStuff       171      no                   images/, annotations/
``PascalContext59``       PascalContext59 59       yes                  JPEGImages/, SegmentationClassContext/
``iSAID``                 iSAID           16       no                   img_dir/, ann_dir/
``Scenes``                jseg.scenes     9        yes (ADE-style)      generated, ADE20K layout
``CustomDataset``         CustomDataset   any      either               your own img_dir/ann_dir
``SegDataset``            SegDataset      any      either               any img/ann folder pair(s)
========================  ==============  =======  ===================  =========================

``CustomDataset`` takes mmsegmentation's arguments (``data_root``, ``img_dir``, ``ann_dir``,
``img_suffix``, ``seg_map_suffix``, ``split``, ``classes``, ``palette``, ``reduce_zero_label``):
see ``custom.py``. The mmsegmentation class names (``ADE20KDataset``, ``CityscapesDataset``, ...)
are registered too.
"""
from .base import SegDataset, SegDatasetError, read_label, random_palette  # noqa: F401
from .ade import ADE20K, ADE20K_CLASSES, ADE20K_PALETTE  # noqa: F401
from .cityscapes import Cityscapes, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE  # noqa: F401
from .voc import PascalVOC, VOC_CLASSES, VOC_PALETTE  # noqa: F401
from .coco_stuff import COCOStuff, COCO_STUFF_CLASSES, COCO_STUFF_PALETTE  # noqa: F401
from .pascal_context import PascalContext59, PASCAL_CONTEXT59_CLASSES, PASCAL_CONTEXT59_PALETTE  # noqa: F401
from .isaid import iSAID, ISAID_CLASSES, ISAID_PALETTE  # noqa: F401
from .custom import CustomDataset, read_class_names  # noqa: F401

#: TYPE names of ``tools/check_dataset.py`` -> registered dataset names.
DATASET_TYPES = {"ade20k": "ADE20K", "cityscapes": "Cityscapes", "voc": "PascalVOC", "coco_stuff": "COCOStuff",
                 "pascal_context": "PascalContext59", "isaid": "iSAID", "scenes": "Scenes", "custom": "CustomDataset"}
