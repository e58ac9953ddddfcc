# Base of the laptop study's linear-probe runs: MAE's probe head (BatchNorm1d without affine, a linear
# layer; frozen encoder, no weight decay, warm-up then cosine) on the labelled built-in task: the size
# class of the object (small / medium / large, `size_label`), whose shape, colours and shading are drawn
# per sample, so the label lives in geometry only; 1000 training and 300 validation images at 32x32.
# No rescaling augmentation (it would change the label): resize + centre crop + flip.
# Two departures from the ImageNet recipe, for a few hundred iterations instead of ~7000: SGD with
# momentum 0.9 (LARS's trust ratio moves weights by ~lr x 0.001 of their norm per step: too slow for so
# few steps) and MAE's optional global-average pooling (main_linprobe --global_pool) instead of the cls
# token, which a few hundred pre-training iterations barely train.
# The probe must be trained to near convergence to show what pre-training bought: on the test's task a
# 60-step probe (batch 64, 600 images) hid a gain that 300 steps and a converged logistic fit showed
# (README, "Masked image modelling"). jvision.mim.study fills model.backbone (size, pretrained) and
# train.max_iters.
_mean, _std = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
_eval = [dict(type="Resize", size=32, interpolation="bicubic"), dict(type="CenterCrop", size=32),
         dict(type="ToTensor"), dict(type="Normalize", mean=_mean, std=_std)]
model = dict(type="ImageClassifier",
             backbone=dict(type="VisionTransformer", img_size=32, patch_size=4, num_classes=3, global_pool=True,
                           linear_probe=True))
data = dict(
    batch_size=128, val_batch_size=100, num_workers=2,
    train=dict(type="BuiltinShards", split="train", num_samples=1000, image_size=40, seed=1, photos=False,
               label_key="size_label", shuffle_buffer=500,
               pipeline=_eval[:2] + [dict(type="RandomHorizontalFlip")] + _eval[2:]),
    val=dict(type="BuiltinShards", split="val", num_samples=300, image_size=40, photos=False, label_key="size_label",
             shuffle_buffer=0, pipeline=_eval))
evaluation = dict(metric=dict(type="Accuracy", topk=(1,)))
optimizer = dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.0)
schedule = dict(type="cosine", warmup_iters=10, warmup_ratio=0.0, min_lr=0.0, anneal_after_warmup=True)
train = dict(max_iters=300, val_interval=0, ckpt_interval=0, keep_ckpts=1, log_interval=25, seed=0)
