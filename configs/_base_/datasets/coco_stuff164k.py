# COCO-Stuff 164k (171 classes), mmseg's coco-stuff164k.py recipe.
# Training: mmseg's pipeline (random rescale of img_scale by 0.5-2.0, random crop with
# cat_max_ratio 0.75, flip, photometric distortion, normalise, pad to the crop).
# Validation keeps images and labels at their stored size; the segmentor resizes for inference
# (model.test_cfg in the configs/segnext/*_coco_stuff164k.py files) and predicts at the label's resolution.
__img_norm = dict(type="Normalize", mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))
__crop = (512, 512)
__train_pipeline = [
    dict(type="SegResize", img_scale=(2048, 512), ratio_range=(0.5, 2.0)),
    dict(type="RandomCrop", crop_size=__crop, cat_max_ratio=0.75),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PhotoMetricDistortion"),
    __img_norm,
    dict(type="Pad", size=__crop, pad_val=0, seg_pad_val=255),
    dict(type="PackSegInputs"),
]
__val_pipeline = [__img_norm, dict(type="PackSegInputs")]
data = dict(
    batch_size=16,          # global (split across MPI ranks)
    val_batch_size=8,       # global: each MPI rank evaluates every world-th image of it (the model
                            # still predicts one image per forward: model.test_cfg.batched=False)
    num_workers=4,
    train=dict(type="COCOStuff", root="data/coco_stuff164k", split="train", pipeline=__train_pipeline),
    val=dict(type="COCOStuff", root="data/coco_stuff164k", split="val", pipeline=__val_pipeline),
    test=dict(type="COCOStuff", root="data/coco_stuff164k", split="val", pipeline=__val_pipeline))
evaluation = dict(metric=dict(type="IoUMetric", dataset="COCOStuff"))
