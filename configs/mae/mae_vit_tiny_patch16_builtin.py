# A CPU-sized MAE run on the built-in shard collection (generated on first use: shapes, textures and,
# when scikit-image / scikit-learn / matplotlib are installed, crops of their sample photographs):
# ViT-Ti encoder (192 wide, 12 blocks) with 8-pixel patches on 64x64 images (64 patches, 16 kept),
# norm-pix target, MAE's augmentation and optimizer, 400 iterations of 64; reconstruction grids every
# 100 iterations in work_dirs/mae_vit_tiny_patch16_builtin/vis/, the validation loss at the end.
#   python tools/train.py configs/mae/mae_vit_tiny_patch16_builtin.py
#   python tools/mim_infer.py configs/mae/mae_vit_tiny_patch16_builtin.py \
#       work_dirs/mae_vit_tiny_patch16_builtin/latest.pkl my_photos/
_mean, _std = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
model = dict(type="mae_vit_tiny_patch16", img_size=64, patch_size=8, norm_pix_loss=True, mask_ratio=0.75)
data = dict(
    batch_size=64, val_batch_size=64, num_workers=2,
    train=dict(type="BuiltinShards", split="train", num_samples=4000, image_size=80, shuffle_buffer=1000, pipeline=[
        dict(type="RandomResizedCrop", size=64, scale=(0.2, 1.0), interpolation="bicubic"),
        dict(type="RandomHorizontalFlip"), dict(type="ToTensor"), dict(type="Normalize", mean=_mean, std=_std)]),
    val=dict(type="BuiltinShards", split="val", num_samples=256, image_size=80, shuffle_buffer=0, pipeline=[
        dict(type="Resize", size=64, interpolation="bicubic"), dict(type="CenterCrop", size=64),
        dict(type="ToTensor"), dict(type="Normalize", mean=_mean, std=_std)]))
evaluation = dict(metric=dict(type="MIMValLoss"))
optimizer = dict(type="AdamW", lr=1.5e-4 * 64 / 256 * 8, betas=(0.9, 0.95), weight_decay=0.05,
                 paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                                no_decay_keys=("pos_embed", "cls_token", "mask_token")))
schedule = dict(type="cosine", warmup_iters=40, warmup_ratio=0.0, min_lr=0.0, anneal_after_warmup=True)
train = dict(max_iters=400, val_interval=0, ckpt_interval=200, keep_ckpts=2, log_interval=20, seed=0)
custom_imports = ["jvision.mim.training"]
custom_hooks = [dict(type="ReconstructionHook", interval=100, num_images=6, mean=_mean, std=_std),
                dict(type="ShardStatsHook")]
