# The built-in synthetic street scenes (jseg.scenes: 9 classes, ADE20K layout, reduce_zero_label),
# generated once into ~/.cache/jvision/scenes/ (400 training + 60 validation images of 192x144).
# Training: random rescale 0.75-1.5, 128x128 crops, flip, photometric distortion. Validation keeps
# the stored 192x144 images; the metric is computed at that resolution.
__img_norm = dict(type="Normalize", mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))
__scenes = dict(type="Scenes", num_train=400, num_val=60, size=(192, 144), seed=0)
__crop = (128, 128)
data = dict(
    batch_size=8,             # global (split across MPI ranks)
    val_batch_size=4,
    num_workers=2,
    train=dict(**__scenes, split="train", pipeline=[
        dict(type="SegResize", img_scale=(192, 144), ratio_range=(0.75, 1.5)),
        dict(type="RandomCrop", crop_size=__crop, cat_max_ratio=0.75),
        dict(type="RandomFlip", prob=0.5),
        dict(type="PhotoMetricDistortion"),
        __img_norm,
        dict(type="Pad", size=__crop, pad_val=0, seg_pad_val=255),
        dict(type="PackSegInputs")]),
    val=dict(**__scenes, split="val", pipeline=[__img_norm, dict(type="PackSegInputs")]),
    test=dict(**__scenes, split="val", pipeline=[__img_norm, dict(type="PackSegInputs")]))
evaluation = dict(metric=dict(type="IoUMetric", dataset="Scenes"))
