# The main demo: SegNeXt-T trained FROM SCRATCH on the built-in street scenes (jseg.scenes: 9 classes,
# 400 + 60 images of 192x144 generated into ~/.cache/jvision on first use), evaluated, with a picture
# grid and overlays saved; a few minutes on 2 CPU cores.
#   make demo        (= python tools/train.py configs/demo/segnext_t_scenes.py)
# The model is the official SegNeXt-T (MSCAN-T + LightHamHead 256/256, MD_R 16), 9 classes.
# Differences from the ImageNet-pretrained 160k recipe, all for a short from-scratch CPU run: no
# pretrained backbone, no stochastic depth, AdamW lr 3e-3 (6e-5 suits pretrained backbones) without
# the 10x head multiplier, 30-iteration warm-up, 400 iterations of batch 8 on 128x128 crops.
_base_ = ["../_base_/models/segnext_t.py", "../_base_/datasets/scenes.py", "../_base_/default_runtime.py"]
model = dict(
    pretrained=None,
    backbone=dict(drop_path_rate=0.0),
    num_classes=9,
    test_cfg=dict(mode="whole"))
optimizer = dict(type="AdamW", lr=3e-3, betas=(0.9, 0.999), weight_decay=0.01,
                 paramwise=dict(custom_keys={"pos_block": dict(decay_mult=0.0), "norm": dict(decay_mult=0.0)}))
schedule = dict(type="poly", power=1.0, min_lr=0.0, warmup_iters=30, warmup_ratio=1e-3)
train = dict(max_iters=400, log_interval=20, val_interval=200, ckpt_interval=0, keep_ckpts=1, seed=0)
custom_hooks = [dict(type="SegVisualizationHook", num_images=4, num_overlays=8)]
