# VideoMAE ViT-B fine-tuning on Something-Something-v2
# (scripts/ssv2/videomae_vit_base_patch16_224_tubemasking_ratio_0.9_epoch_800/finetune.sh): as on
# Kinetics (layer decay 0.75, drop path 0.1, mixup/cutmix, smoothing 0.1) with 16 TSN segments, no flip,
# 174 classes, 30 epochs (40 in the 2400-epoch script): 440 iterations an epoch at batch 384, 13,200 in
# all; test 16x2x3.
#   mpirun -np 8 python tools/train.py configs/videomae/videomae_vit_b_ssv2_finetune.py \
#       --cfg-options model.backbone.pretrained=work_dirs/videomae_vit_b_ssv2_pretrain/latest.pkl
_base_ = ["../_base_/datasets/something_something_v2.py"]
custom_imports = ["jvision.video.action"]
model = dict(
    type="VideoClassifier",
    backbone=dict(type="videomae_vit_base_patch16_224", num_classes=174, drop_path_rate=0.1, pretrained=None),
    loss=dict(label_smoothing=0.1),
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5))
optimizer = dict(type="AdamW", lr=7.5e-4, betas=(0.9, 0.999), weight_decay=0.05,
                 paramwise=dict(layer_decay=0.75, norm_decay_mult=0.0, bias_decay_mult=0.0))
schedule = dict(type="cosine", warmup_iters=2200, warmup_ratio=1e-3, min_lr=1e-6)
train = dict(max_iters=13200, log_interval=50, val_interval=2200, ckpt_interval=2200, keep_ckpts=2, seed=0)
