# CMAE-V pre-training at laptop scale on the built-in synthetic actions: the tiny video ViT of
# configs/videomae/videomae_tiny_synthetic_pretrain.py with CMAE's branches (pixel decoder 32-d x 1,
# feature decoder 32-d x 1, projector 64-128-32, predictor 32-128-32, plain BatchNorm on one process),
# tube masking 0.75, the target clip shifted by 0-2 frames and colour-augmented as CMAE's target view,
# EMA momentum 0.99 -> 1 (cosine; the short run needs a faster target than 0.996), InfoNCE weight 0.01
# instead of CMAE's 1: at this size the contrastive gradient on the encoder is ~115x the reconstruction
# gradient at initialisation (norm 3.89 vs 0.034), so under AdamW's per-parameter normalisation it sets
# every update, the reconstruction loss stalls at 0.96 (0.78 without it) and a linear probe on the
# encoder learns nothing (README, "Video masked autoencoders", "Measured here").
#   python tools/train.py configs/cmae_v/cmae_v_tiny_synthetic_pretrain.py
#   python tools/train.py configs/videomae/videomae_tiny_synthetic_finetune.py \
#       --cfg-options model.backbone.pretrained=work_dirs/cmae_v_tiny_synthetic_pretrain/latest.pkl
_base_ = ["../_base_/datasets/synthetic_actions.py"]
_mean = (123.675, 116.28, 103.53)
_std = (58.395, 57.12, 57.375)
model = dict(type="CMAEV", backbone="vit", img_size=32, patch_size=8, num_frames=8, tubelet_size=2, embed_dim=64,
             depth=4, num_heads=4, decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2, feature_decoder_depth=1,
             proj_hidden=128, proj_dim=32, pred_hidden=128, mask_ratio=0.75, norm="syncbn", ct_weight=0.01,
             base_momentum=0.99, end_momentum=1.0, momentum_schedule="cosine")
data = dict(
    val=None,
    train=dict(samples_per_class=500, target_view=dict(shift=(0, 2)), pipeline=[
        dict(type="ClipApply", keys=("img_t",), transforms=[
            dict(type="RandomApply", prob=0.8,
                 transforms=[dict(type="ColorJitter", brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)]),
            dict(type="RandomGrayscale", prob=0.2),
            dict(type="GaussianBlur", sigma_range=(0.1, 2.0), prob=0.5)]),
        dict(type="ClipApply", keys=("img", "img_t"),
             transforms=[dict(type="ToTensor"), dict(type="Normalize", mean=_mean, std=_std)])]))
evaluation = None
optimizer = dict(type="AdamW", lr=3e-3, betas=(0.9, 0.95), weight_decay=0.05,
                 paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, no_decay_keys=("mask_token",)))
schedule = dict(type="cosine", warmup_iters=100, warmup_ratio=1e-3, min_lr=1e-5)
train = dict(max_iters=1000, log_interval=50, ckpt_interval=500, keep_ckpts=1, seed=0)
