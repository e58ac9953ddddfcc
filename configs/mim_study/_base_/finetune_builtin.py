# Base of the study's fine-tuning runs on the labelled built-in task: MAE's fine-tuning recipe at toy
# scale (global pooling + fc_norm, layer-wise lr decay 0.75, drop path 0.1, mixup 0.8 / cutmix 1.0,
# label smoothing 0.1, AdamW wd 0.05, warm-up then cosine). jvision.mim.study fills model.backbone
# (size, pretrained) and train.max_iters.
_base_ = ["./probe_builtin.py"]
model = dict(backbone=dict(global_pool=True, linear_probe=False, drop_path_rate=0.1),
             loss=dict(label_smoothing=0.1), mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5))
optimizer = dict(_delete_=True, type="AdamW", lr=5e-4 * 128 / 256 * 2, betas=(0.9, 0.999), weight_decay=0.05,
                 paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, no_decay_keys=("pos_embed", "cls_token"),
                                layer_decay=0.75))
