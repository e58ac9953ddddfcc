# Base of the laptop study's linear-probe runs: MAE's probe head (BatchNorm1d without affine, a linear
# layer; frozen encoder, no weight decay, warm-up then cosine) on the labelled built-in task (9 classes:
# 8 shapes/textures + photo crops), 1000 training and 300 validation images at 32x32.
# Two departures from the ImageNet recipe, for 150 iterations instead of ~7000: SGD with momentum 0.9
# (LARS's trust ratio moves weights by ~lr x 0.001 of their norm per step: too slow for so few steps)
# and MAE's optional global-average pooling (main_linprobe --global_pool) instead of the cls token,
# which a few hundred pre-training iterations barely train.
# jvision.mim.study fills model.backbone (size, pretrained) and train.max_iters.
_mean, _std = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
_eval = [dict(type="Resize", size=32, interpolation="bicubic"), dict(type="CenterCrop", size=32),
         dict(type="ToTensor"), dict(type="Normalize", mean=_mean, std=_std)]
model = dict(type="ImageClassifier",
             backbone=dict(type="VisionTransformer", img_size=32, patch_size=4, num_classes=9, global_pool=True,
                           linear_probe=True))
data = dict(
    batch_size=128, val_batch_size=100, num_workers=2,
    train=dict(type="BuiltinShards", split="train", num_samples=1000, image_size=40, seed=1, label_key="label",
               shuffle_buffer=500, pipeline=[
                   dict(type="RandomResizedCrop", size=32, scale=(0.5, 1.0), interpolation="bicubic"),
                   dict(type="RandomHorizontalFlip"), dict(type="ToTensor"),
                   dict(type="Normalize", mean=_mean, std=_std)]),
    val=dict(type="BuiltinShards", split="val", num_samples=300, image_size=40, label_key="label",
             shuffle_buffer=0, pipeline=_eval))
evaluation = dict(metric=dict(type="Accuracy", topk=(1, 5)))
optimizer = dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.0)
schedule = dict(type="cosine", warmup_iters=10, warmup_ratio=0.0, min_lr=0.0, anneal_after_warmup=True)
train = dict(max_iters=150, val_interval=0, ckpt_interval=0, keep_ckpts=1, log_interval=25, seed=0)
