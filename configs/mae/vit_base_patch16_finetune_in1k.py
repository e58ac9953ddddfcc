# Fine-tuning an MAE-pre-trained ViT-B/16 on ImageNet-1K, the official recipe (FINETUNE.md; reference
# top-1 83.664): effective batch 1024, AdamW lr = blr 5e-4 x 1024 / 256, weight decay 0.05 (not on
# norms, biases, pos/cls tokens), layer-wise lr decay 0.65, drop path 0.1, 100 epochs with 5 warm-up
# epochs then half-cycle cosine to 1e-6 (per iteration), RandAugment m9-mstd0.5-inc1, random erasing
# 0.25, mixup 0.8 / cutmix 1.0, label smoothing 0.1, global average pooling + fc_norm, head init std 2e-5.
# The encoder comes from an MAE checkpoint: ours (work_dirs/.../latest.pkl) or the official
# mae_pretrain_vit_base.pth (read without torch):
#   mpirun -np 8 python tools/train.py configs/mae/vit_base_patch16_finetune_in1k.py \
#       --cfg-options model.backbone.pretrained=work_dirs/mae_vit_base_patch16_in1k/latest.pkl
#   python tools/test.py configs/mae/vit_base_patch16_finetune_in1k.py mae_finetuned_vit_base.pth
_iters_per_epoch = 1251            # 1,281,167 images / 1024
_mean, _std = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
model = dict(
    type="ImageClassifier",
    backbone=dict(type="vit_base_patch16", num_classes=1000, global_pool=True, drop_path_rate=0.1,
                  pretrained="checkpoints/mae_pretrain_vit_base.pth"),
    loss=dict(label_smoothing=0.1),
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5))
data = dict(
    batch_size=1024, val_batch_size=256, num_workers=10,
    train=dict(type="ImageFolder", root="data/imagenet/train", pipeline=[
        dict(type="RandomResizedCrop", size=224, scale=(0.08, 1.0), interpolation="bicubic"),
        dict(type="RandomHorizontalFlip"),
        dict(type="RandAugment", magnitude=9, num_layers=2, magnitude_std=0.5, increasing=True,
             fill=(124, 116, 104), interpolation="bicubic"),
        dict(type="ToTensor"),
        dict(type="Normalize", mean=_mean, std=_std),
        dict(type="RandomErasing", prob=0.25, mode="pixel", max_count=1)]),
    val=dict(type="ImageFolder", root="data/imagenet/val", pipeline=[
        dict(type="Resize", size=256, interpolation="bicubic"),
        dict(type="CenterCrop", size=224),
        dict(type="ToTensor"),
        dict(type="Normalize", mean=_mean, std=_std)]))
evaluation = dict(metric=dict(type="Accuracy", topk=(1, 5)))
optimizer = dict(type="AdamW", lr=5e-4 * 1024 / 256, betas=(0.9, 0.999), weight_decay=0.05,
                 paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                                no_decay_keys=("pos_embed", "cls_token"), layer_decay=0.65))
schedule = dict(type="cosine", warmup_iters=5 * _iters_per_epoch, warmup_ratio=0.0, min_lr=1e-6,
                anneal_after_warmup=True)
train = dict(max_iters=100 * _iters_per_epoch, val_interval=5 * _iters_per_epoch, ckpt_interval=_iters_per_epoch,
             keep_ckpts=3, log_interval=50, seed=0)
