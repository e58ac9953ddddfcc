# VideoMAE ViT-B pre-training on Kinetics-400, the official recipe
# (scripts/kinetics/videomae_vit_base_patch16_224_tubemasking_ratio_0.9_epoch_800/pretrain.sh):
# 16 frames every 4, tube masking 0.9, decoder depth 4, normalised-tubelet target; AdamW betas
# (0.9, 0.95), wd 0.05 (none on norms, biases, mask token), lr 1.5e-4 x 2048 / 256 = 1.2e-3, global
# batch 2048 (64 GPUs x 32), 40 warm-up epochs then cosine to 1e-5, 800 epochs; crops: TSN's
# multi-scale crop (scales 1, .875, .75, .66), no flip. With VideoMAE's 240,436 training videos an
# epoch is 117 iterations: 93,900 in all, 4,700 of warm-up.
#   mpirun -np 8 python tools/train.py configs/videomae/videomae_vit_b_k400_pretrain.py
# Then fine-tune: configs/videomae/videomae_vit_b_k400_finetune.py (model.backbone.pretrained=...).
_base_ = ["../_base_/datasets/kinetics400.py"]
_mean = (123.675, 116.28, 103.53)
_std = (58.395, 57.12, 57.375)
model = dict(type="pretrain_videomae_base_patch16_224", decoder_depth=4, mask_ratio=0.9, normalize_target=True)
data = dict(
    _delete_=True, batch_size=2048, num_workers=8,
    train=dict(type="Kinetics400", root="data/kinetics400", ann_file="data/kinetics400/train.csv",
               sampling=dict(type="dense", clip_len=16, frame_interval=4),
               pipeline=[dict(type="ClipApply", transforms=[
                   dict(type="MultiScaleCrop", size=224, scales=(1, 0.875, 0.75, 0.66)),
                   dict(type="ToTensor"),
                   dict(type="Normalize", mean=_mean, std=_std)])]))
evaluation = None
optimizer = dict(type="AdamW", lr=1.2e-3, betas=(0.9, 0.95), weight_decay=0.05,
                 paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, no_decay_keys=("mask_token",)))
schedule = dict(type="cosine", warmup_iters=4700, warmup_ratio=1e-3, min_lr=1e-5)
train = dict(max_iters=93900, log_interval=50, ckpt_interval=2350, keep_ckpts=2, seed=0)
