# Fine-tuning the tiny video ViT on the built-in synthetic actions (4 classes: right, left, down, up),
# VideoMAE's fine-tuning recipe at laptop scale: mean pooling + fc_norm, layer decay 0.75, drop path
# 0.1, label smoothing 0.1, AdamW, warm-up then cosine; no mixup/cutmix (short run) and no flip (it would
# swap left and right). Validation: one clip per video. From the tiny synthetic pre-training this
# recipe fits the synthetic actions in tens of iterations, from random init several times later;
# tests/test_video_pretrain_gain.py compares the two after 60 iterations (README, "Video masked
# autoencoders", "Measured here").
#   python tools/train.py configs/videomae/videomae_tiny_synthetic_finetune.py \
#       --cfg-options model.backbone.pretrained=work_dirs/videomae_tiny_synthetic_pretrain/latest.pkl
_base_ = ["../_base_/datasets/synthetic_actions.py"]
custom_imports = ["jvision.video.action"]
model = dict(
    type="VideoClassifier",
    backbone=dict(type="VideoVisionTransformer", img_size=32, patch_size=8, all_frames=8, tubelet_size=2,
                  embed_dim=64, depth=4, num_heads=4, num_classes=4, drop_path_rate=0.1, pretrained=None),
    loss=dict(label_smoothing=0.1))
data = dict(train=dict(samples_per_class=500))
optimizer = dict(type="AdamW", lr=3e-3, betas=(0.9, 0.999), weight_decay=0.05,
                 paramwise=dict(layer_decay=0.75, norm_decay_mult=0.0, bias_decay_mult=0.0))
schedule = dict(type="cosine", warmup_iters=30, warmup_ratio=1e-3, min_lr=1e-5)
train = dict(max_iters=300, log_interval=25, val_interval=100, ckpt_interval=300, keep_ckpts=1, seed=0)
