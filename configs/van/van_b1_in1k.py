# VAN-B1 on ImageNet-1K from scratch, the official recipe (VAN-Classification train.sh, timm 0.4.12):
# 8 GPUs x 128 = global batch 1024, AdamW lr 1e-3, wd 0.05, cosine, 5 warm-up epochs, 300 epochs,
# RandAugment m9-mstd0.5-inc1, random erasing 0.25, mixup 0.8 / cutmix 1.0, label smoothing 0.1,
# drop path 0.1 (B0-B3: 0.1 / 0.1 / 0.1 / 0.2).
#   mpirun -np 8 python tools/train.py configs/van/van_b1_in1k.py
#   python tools/test.py configs/van/van_b1_in1k.py CHECKPOINT --data-root data/imagenet/val
_base_ = ["../_base_/datasets/imagenet_van.py", "../_base_/schedules/imagenet_300e.py"]
model = dict(
    type="ImageClassifier",
    backbone=dict(type="van_b1", num_classes=1000, drop_path_rate=0.1),
    loss=dict(label_smoothing=0.1),
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5))
