# CMAE-V pre-training on Kinetics-400 with the video ViT-B (VideoMAE's encoder). CMAE-V's code is not
# public; what the paper leaves open is taken from CMAE and VideoMAE and set here (README, "Video
# masked autoencoders"): tube masking 0.9, VideoMAE's normalised-tubelet target, CMAE's decoders
# (512-d; pixel 8 blocks, feature 2), projector 768-1536-256 / predictor 256-1536-256 with SyncBN,
# InfoNCE tau 0.07 over all ranks, loss weights 1 / 1, EMA 0.996; the target view is the same clip
# shifted by 0-8 frames (about the share of the clip that CMAE's 0-31 px is of a 224 crop), both clips
# cropped alike (TSN multi-scale crop, VideoMAE's) and the target colour-augmented as CMAE's target.
# Optimisation as VideoMAE's K400 pre-training (AdamW 0.9/0.95, wd 0.05, lr 1.2e-3 at batch 2048,
# 40 warm-up epochs, 800 epochs = 93,900 iterations).
#   mpirun -np 8 python tools/train.py configs/cmae_v/cmae_v_vit_b_k400_pretrain.py
# Fine-tune with configs/videomae/videomae_vit_b_k400_finetune.py: model.backbone.pretrained=<this
# run's checkpoint> (videomae_encoder_state reads the online encoder, backbone.*).
_mean = (123.675, 116.28, 103.53)
_std = (58.395, 57.12, 57.375)
_target_augment = [
    dict(type="RandomApply", prob=0.8,
         transforms=[dict(type="ColorJitter", brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)]),
    dict(type="RandomGrayscale", prob=0.2),
    dict(type="GaussianBlur", sigma_range=(0.1, 2.0), prob=0.5)]
model = dict(type="cmae_v_vit_base_patch16_224", mask_ratio=0.9, norm="syncbn")
data = dict(
    batch_size=2048, num_workers=8,
    train=dict(type="Kinetics400", root="data/kinetics400", ann_file="data/kinetics400/train.csv",
               sampling=dict(type="dense", clip_len=16, frame_interval=4), target_view=dict(shift=(0, 8)),
               pipeline=[
                   dict(type="ClipApply", keys=("img", "img_t"),
                        transforms=[dict(type="MultiScaleCrop", size=224, scales=(1, 0.875, 0.75, 0.66))]),
                   dict(type="ClipApply", keys=("img_t",), transforms=_target_augment),
                   dict(type="ClipApply", keys=("img", "img_t"),
                        transforms=[dict(type="ToTensor"), dict(type="Normalize", mean=_mean, std=_std)])]))
optimizer = dict(type="AdamW", lr=1.2e-3, betas=(0.9, 0.95), weight_decay=0.05,
                 paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, no_decay_keys=("mask_token",)))
schedule = dict(type="cosine", warmup_iters=4700, warmup_ratio=1e-3, min_lr=1e-5)
train = dict(max_iters=93900, log_interval=50, ckpt_interval=2350, keep_ckpts=2, seed=0)
