# CMAE ViT-B/16 pre-training on ImageNet-1K, the official recipe
# (ZhichengHuang/CMAE configs/pre-training/cmae/cmae_vit-base-p16_32xb128-coslr-1600e_in1k.py):
# block-wise masking 0.65 (2x2-patch groups), norm-pix pixel decoder 512-d x 8, feature decoder
# 512-d x 2, projector 768-1536-256 and predictor 256-1536-256 with SyncBN, InfoNCE tau 0.07 with
# the negatives of every rank, loss weights 1 / 1, EMA momentum 0.996 (constant: base = end in the
# released config); views: RandomResizedCrop(256, 0.2-1, bicubic) + flip, the online 224 crop at
# (0, 0), the target crop shifted 0-31 px and colour-augmented. AdamW betas (0.9, 0.95), wd 0.05
# (none on norms, biases, pos/mask/cls tokens), lr 1.5e-4 x 4096 / 256 = 2.4e-3, global batch 4096,
# 40 warm-up epochs then cosine, 1600 epochs: 312 iterations an epoch, 499,200 in all, 12,480 warm-up.
#   mpirun -np 8 python tools/train.py configs/cmae/cmae_vit_b_in1k_pretrain.py
# The EMA update runs in the model's after_train_iter, which the trainer calls after every update.
_mean = (123.675, 116.28, 103.53)
_std = (58.395, 57.12, 57.375)
model = dict(type="cmae_vit_base_patch16", mask_ratio=0.65, target="norm_pix", temperature=0.07, ct_weight=1.0,
             rc_weight=1.0, base_momentum=0.996, end_momentum=0.996, momentum_schedule="cosine", norm="syncbn")
data = dict(
    batch_size=4096, num_workers=8,
    train=dict(type="ImageFolder", root="data/imagenet/train", pipeline=[
        dict(type="RandomResizedCrop", size=256, scale=(0.2, 1.0), interpolation="bicubic"),
        dict(type="RandomHorizontalFlip", prob=0.5),
        dict(type="PixelShiftViews", size=224, shift=31,
             transforms=[dict(type="ToTensor"), dict(type="Normalize", mean=_mean, std=_std)])]))
optimizer = dict(type="AdamW", lr=2.4e-3, betas=(0.9, 0.95), weight_decay=0.05,
                 paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                                no_decay_keys=("pos_embed", "mask_token", "cls_token")))
schedule = dict(type="cosine", warmup_iters=12480, warmup_ratio=1e-4, min_lr=0.0)
train = dict(max_iters=499200, log_interval=50, ckpt_interval=3120, keep_ckpts=2, seed=0)
