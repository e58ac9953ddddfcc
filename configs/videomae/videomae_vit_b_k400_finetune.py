# VideoMAE ViT-B fine-tuning on Kinetics-400, the official recipe
# (scripts/kinetics/videomae_vit_base_patch16_224_tubemasking_ratio_0.9_epoch_800/finetune.sh and
# run_class_finetuning.py defaults): mean pooling + fc_norm, drop path 0.1, layer decay 0.75, AdamW
# betas (0.9, 0.999), wd 0.05, lr 5e-4 x batch / 256, 5 warm-up epochs then cosine to 1e-6, mixup 0.8 /
# cutmix 1.0, label smoothing 0.1, RandAugment m7-n4, random erasing 0.25; test 16x5x3.
# Differences: no repeated augmentation (the script's --num_sample 2), so batch 384 clips and
# lr 5e-4 x 384 / 256 = 7.5e-4; 75 epochs of 626 iterations = 46,950 (warm-up 3,130).
#   mpirun -np 8 python tools/train.py configs/videomae/videomae_vit_b_k400_finetune.py \
#       --cfg-options model.backbone.pretrained=work_dirs/videomae_vit_b_k400_pretrain/latest.pkl
#   python tools/test.py configs/videomae/videomae_vit_b_k400_finetune.py CKPT --split test
# An official checkpoint (checkpoint['model'] or ['module']) is read the same way.
_base_ = ["../_base_/datasets/kinetics400.py"]
custom_imports = ["jvision.video.action"]
model = dict(
    type="VideoClassifier",
    backbone=dict(type="videomae_vit_base_patch16_224", num_classes=400, drop_path_rate=0.1, pretrained=None),
    loss=dict(label_smoothing=0.1),
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5))
optimizer = dict(type="AdamW", lr=7.5e-4, betas=(0.9, 0.999), weight_decay=0.05,
                 paramwise=dict(layer_decay=0.75, norm_decay_mult=0.0, bias_decay_mult=0.0))
schedule = dict(type="cosine", warmup_iters=3130, warmup_ratio=1e-3, min_lr=1e-6)
train = dict(max_iters=46950, log_interval=50, val_interval=6260, ckpt_interval=3130, keep_ckpts=2, seed=0)
