# CMAE pre-training at laptop scale on the generated shapes of jvision.data.synthetic (32x32 images,
# 8 classes, labels unused): a 4-block, 64-wide ViT with 4x4 patches (8x8 grid), block-wise masking 0.65
# over 2x2-patch groups, pixel decoder 32-d x 1, feature decoder 32-d x 1, projector 64-128-32,
# predictor 32-128-32, InfoNCE tau 0.07, EMA 0.99 -> 1 (cosine); views: RandomResizedCrop to 40, flip,
# the 32 online crop at (0, 0) and the target crop shifted 0-7 px (CMAE's 31 of 256, scaled) with CMAE's
# colour augmentation.
#   python tools/train.py configs/cmae/cmae_tiny_synthetic_pretrain.py
_mean = (127.5, 127.5, 127.5)
_std = (127.5, 127.5, 127.5)
model = dict(type="CMAE", img_size=32, patch_size=4, embed_dim=64, depth=4, num_heads=4, decoder_embed_dim=32,
             decoder_depth=1, decoder_num_heads=2, feature_decoder_depth=1, proj_hidden=128, proj_dim=32,
             pred_hidden=128, mask_ratio=0.65, norm="syncbn", base_momentum=0.99, end_momentum=1.0)
data = dict(
    batch_size=32, num_workers=2,
    train=dict(type="SyntheticShapes", num_classes=8, train_per_class=128, val_per_class=32, image_size=32, seed=0,
               split="train", pipeline=[
                   dict(type="RandomResizedCrop", size=40, scale=(0.2, 1.0), interpolation="bicubic"),
                   dict(type="RandomHorizontalFlip", prob=0.5),
                   dict(type="PixelShiftViews", size=32, shift=7,
                        transforms=[dict(type="ToTensor"), dict(type="Normalize", mean=_mean, std=_std)])]))
optimizer = dict(type="AdamW", lr=3e-3, betas=(0.9, 0.95), weight_decay=0.05,
                 paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                                no_decay_keys=("pos_embed", "mask_token", "cls_token")))
schedule = dict(type="cosine", warmup_iters=50, warmup_ratio=1e-3, min_lr=1e-5)
train = dict(max_iters=500, log_interval=25, ckpt_interval=500, keep_ckpts=1, seed=0)
