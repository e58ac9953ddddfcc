# Fine-tuning a CMAE ViT-B/16 on ImageNet-1K, the official recipe
# (configs/fine-tuning/cmae/cmae_base_pre1600_8x128_100e_in1k.py): global average pooling + fc_norm
# (final_norm=False), drop path 0.1, layer decay 0.65, AdamW betas (0.9, 0.999), wd 0.05,
# lr 2.5e-4 x 1024 / 256 = 1e-3, batch 1024, 5 warm-up epochs then cosine, 100 epochs (125,100
# iterations), RandAugment m9, random erasing 0.25, mixup 0.8 / cutmix 1.0, label smoothing 0.1.
# Start from a CMAE checkpoint (ours or official; cmae_encoder_state keeps the online encoder):
#   mpirun -np 8 python tools/train.py configs/cmae/cmae_vit_b_in1k_finetune.py \
#       --cfg-options model.backbone.pretrained=work_dirs/cmae_vit_b_in1k_pretrain/latest.pkl
_base_ = ["../_base_/datasets/imagenet.py"]
model = dict(
    type="ImageClassifier",
    backbone=dict(type="cmae_vit_base_patch16_finetune", num_classes=1000, drop_path_rate=0.1, pretrained=None),
    loss=dict(label_smoothing=0.1),
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5))
optimizer = dict(type="AdamW", lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05,
                 paramwise=dict(layer_decay=0.65, norm_decay_mult=0.0, bias_decay_mult=0.0,
                                no_decay_keys=("pos_embed", "cls_token")))
schedule = dict(type="cosine", warmup_iters=6255, warmup_ratio=1e-3, min_lr=1e-6)
train = dict(max_iters=125100, log_interval=50, val_interval=6255, ckpt_interval=6255, keep_ckpts=2, seed=0)
