# Base of the laptop study's pre-training cells (jvision.mim.study fills model, data.train.shards and
# train.max_iters): MAE on a subset of the built-in shard collection at 32x32 pixels, MAE's augmentation
# (RandomResizedCrop scale 0.2-1, bicubic, flip) and optimizer (AdamW betas 0.9/0.95, wd 0.05 except
# norms/biases/tokens, per-iteration warm-up then half-cycle cosine); the pre-training validation loss
# (fixed masks) on the built-in val split; one reconstruction grid at the end.
_mean, _std = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
_pipeline = [dict(type="RandomResizedCrop", size=32, scale=(0.2, 1.0), interpolation="bicubic"),
             dict(type="RandomHorizontalFlip"), dict(type="ToTensor"), dict(type="Normalize", mean=_mean, std=_std)]
model = dict(type="MaskedAutoencoderViT", img_size=32, patch_size=4, embed_dim=64, depth=4, num_heads=4,
             decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2, target="norm_pix")
data = dict(
    batch_size=64, val_batch_size=100, num_workers=2,
    train=dict(type="WebShards", shards="set by the study", shuffle_buffer=500, pipeline=_pipeline),
    val=dict(type="BuiltinShards", split="val", num_samples=300, image_size=40, shuffle_buffer=0, pipeline=[
        dict(type="Resize", size=32, interpolation="bicubic"), dict(type="CenterCrop", size=32),
        dict(type="ToTensor"), dict(type="Normalize", mean=_mean, std=_std)]))
evaluation = dict(metric=dict(type="MIMValLoss"))
optimizer = dict(type="AdamW", lr=1.5e-4 * 64 / 256 * 8, betas=(0.9, 0.95), weight_decay=0.05,
                 paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                                no_decay_keys=("pos_embed", "cls_token", "mask_token")))
schedule = dict(type="cosine", warmup_iters=30, warmup_ratio=0.0, min_lr=0.0, anneal_after_warmup=True)
train = dict(max_iters=300, val_interval=0, ckpt_interval=0, keep_ckpts=1, log_interval=25, seed=0)
custom_imports = ["jvision.mim.training"]
custom_hooks = [dict(type="ReconstructionHook", interval=0, num_images=6, mean=_mean, std=_std),
                dict(type="ShardStatsHook")]
