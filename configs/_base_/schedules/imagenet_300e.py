# timm 0.4.12 train.py recipe used by VAN and Conv2Former, global batch 1024 (8 x 128):
# AdamW lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.05 on weights only (timm exempts every
# 1-D parameter: norms, biases, layer scales), no gradient clipping, EMA off;
# cosine to min_lr 1e-6 after a 5-epoch linear warm-up from 1e-6 (warmup_ratio = 1e-6 / 1e-3).
# Epochs are written in iterations: ImageNet-1K train has 1,281,167 images -> 1251 iterations of 1024
# per epoch (drop_last). timm steps the LR once per epoch, we step it every iteration.
# timm also runs 10 cool-down epochs at min_lr after the 300 (310 in all; VAN-Classification#20);
# to include them set train.max_iters=387810 (the cosine then spans 310 epochs).
_iters_per_epoch = 1251
optimizer = dict(type="AdamW", lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05,
                 paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, no_decay_keys=("layer_scale",)))
schedule = dict(type="cosine", warmup_iters=5 * _iters_per_epoch, warmup_ratio=1e-3, min_lr=1e-6)
train = dict(max_iters=300 * _iters_per_epoch,          # 300 epochs = 375300 iterations
             val_interval=5 * _iters_per_epoch,         # evaluate every 5 epochs (timm: every epoch)
             ckpt_interval=_iters_per_epoch,            # checkpoint every epoch, keep the newest 3
             keep_ckpts=3, log_interval=50, grad_clip=None, accumulate=1, seed=0)
