# ImageNet-1K, ImageNet folder layout (root/<wnid>/<image>), timm 0.4.12 train.py defaults:
#   --aa rand-m9-mstd0.5-inc1 --train-interpolation random --reprob 0.25 --remode pixel --recount 1
#   (--color-jitter 0.4 is inactive: timm applies ColorJitter only when no auto-augment is set).
# Eval: resize the shorter side to floor(224 / crop_pct) with crop_pct 0.875 -> 256, centre crop 224,
# bicubic. Mean/std in 0-255 units (ToTensor keeps 0-255): timm's IMAGENET_DEFAULT_MEAN/STD x 255.
# batch_size is GLOBAL (split across MPI ranks): 1024 = 8 GPUs x 128 as in the VAN/Conv2Former runs.
# A file list instead of sub-folders: add ann_file="meta/train.txt" (lines "<path> <label>").
data = dict(
    batch_size=1024, val_batch_size=256, num_workers=8,
    train=dict(type="ImageFolder", root="data/imagenet/train", pipeline=[
        dict(type="RandomResizedCrop", size=224, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
             interpolation="random"),
        dict(type="RandomHorizontalFlip", prob=0.5),
        dict(type="RandAugment", magnitude=9, num_layers=2, magnitude_std=0.5, increasing=True,
             fill=(124, 116, 104), interpolation="random"),     # fill = round(255 * mean)
        dict(type="ToTensor"),
        dict(type="Normalize", mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375)),
        dict(type="RandomErasing", prob=0.25, mode="pixel", max_count=1)]),
    val=dict(type="ImageFolder", root="data/imagenet/val", pipeline=[
        dict(type="Resize", size=256, interpolation="bicubic"),
        dict(type="CenterCrop", size=224),
        dict(type="ToTensor"),
        dict(type="Normalize", mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))]))
evaluation = dict(metric=dict(type="Accuracy", topk=(1, 5)))
