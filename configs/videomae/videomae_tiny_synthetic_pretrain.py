# VideoMAE pre-training at laptop scale on the built-in synthetic actions (jvision.data.video
# .SyntheticActions, generated in memory): a 4-block, 64-wide video ViT on 8x32x32 clips (8 frames
# every 2), 2x8x8 tubelets, tube masking 0.75 (4x4 spatial grid), decoder 32-d x 1, normalised-tubelet
# target. Small-data choices (not the Kinetics recipe): mask 0.75 instead of 0.9 on a 4x4 grid,
# lr 3e-3, 100 warm-up iterations. Minutes on 2 CPU cores.
#   python tools/train.py configs/videomae/videomae_tiny_synthetic_pretrain.py
#   python tools/train.py configs/videomae/videomae_tiny_synthetic_finetune.py \
#       --cfg-options model.backbone.pretrained=work_dirs/videomae_tiny_synthetic_pretrain/latest.pkl
_base_ = ["../_base_/datasets/synthetic_actions.py"]
model = dict(type="PretrainVisionTransformer", img_size=32, patch_size=8, num_frames=8, tubelet_size=2,
             encoder_embed_dim=64, encoder_depth=4, encoder_num_heads=4, decoder_embed_dim=32, decoder_depth=1,
             decoder_num_heads=2, decoder_num_classes=None, mask_ratio=0.75)
data = dict(val=None, train=dict(samples_per_class=500))
evaluation = None
optimizer = dict(type="AdamW", lr=3e-3, betas=(0.9, 0.95), weight_decay=0.05,
                 paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, no_decay_keys=("mask_token",)))
schedule = dict(type="cosine", warmup_iters=100, warmup_ratio=1e-3, min_lr=1e-5)
train = dict(max_iters=1000, log_interval=50, ckpt_interval=500, keep_ckpts=1, seed=0)
