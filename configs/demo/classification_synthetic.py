# A tiny classification run on generated shapes and textures (jvision.data.synthetic, cached under
# ~/.cache/jvision/synthetic): 8 classes of 32x32 images, 128 per class for training, 32 for
# validation; a two-stage VAN (widths 32/64). Chance is 12.5% top-1; this ends near 95%.
# A few minutes on 2 busy CPU cores, most of it Jittor compiling its operators the first time.
#   python tools/train.py configs/demo/classification_synthetic.py
#   python tools/test.py configs/demo/classification_synthetic.py work_dirs/classification_synthetic/latest.pkl
# Small-data choices (not the ImageNet recipe): layer scale starts at 1.0 instead of VAN's 1e-2 (with
# one block per stage the 1e-2 start leaves the net nearly linear for hundreds of iterations), two
# stages because a 32-pixel image is 1x1 after four, no mixup/RandAugment so that 300 steps suffice.
_mean = (127.5, 127.5, 127.5)
_std = (127.5, 127.5, 127.5)
_synthetic = dict(type="SyntheticShapes", num_classes=8, train_per_class=128, val_per_class=32,
                  image_size=32, seed=0)

model = dict(
    type="ImageClassifier",
    backbone=dict(type="VAN", embed_dims=[32, 64], depths=[1, 1], mlp_ratios=[2, 2], num_stages=2,
                  out_indices=[0, 1], layer_scale_init_value=1.0, num_classes=8),
    loss=dict(label_smoothing=0.1))
data = dict(
    batch_size=32, val_batch_size=128, num_workers=2,
    train=dict(**_synthetic, split="train", pipeline=[
        dict(type="RandomHorizontalFlip"),
        dict(type="ToTensor"),
        dict(type="Normalize", mean=_mean, std=_std)]),
    val=dict(**_synthetic, split="val", pipeline=[
        dict(type="ToTensor"),
        dict(type="Normalize", mean=_mean, std=_std)]))
optimizer = dict(type="AdamW", lr=5e-3, weight_decay=0.05,
                 paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, no_decay_keys=("layer_scale",)))
schedule = dict(type="cosine", warmup_iters=10, warmup_ratio=1e-2, min_lr=1e-5)
train = dict(max_iters=300, val_interval=150, ckpt_interval=150, keep_ckpts=2, log_interval=25, seed=0)
evaluation = dict(metric=dict(type="Accuracy", topk=(1, 5)))
