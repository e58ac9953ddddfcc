# MAE pre-training data: ImageNet-1K train in the folder layout (labels unused), MAE's augmentation
# (main_pretrain.py): RandomResizedCrop(224, scale=(0.2, 1.0), bicubic) + horizontal flip, ImageNet
# mean/std (0-255 units: ToTensor keeps 0-255). The validation split gives the pre-training
# validation loss (MIMValLoss, fixed masks) on a centre crop.
# A file list instead of sub-folders: add ann_file="meta/train.txt". Web shards: see mae_vit_base_patch16_coyo.py.
_mean = (123.675, 116.28, 103.53)
_std = (58.395, 57.12, 57.375)
data = dict(
    batch_size=4096, val_batch_size=256, num_workers=10,
    train=dict(type="ImageFolder", root="data/imagenet/train", pipeline=[
        dict(type="RandomResizedCrop", size=224, scale=(0.2, 1.0), interpolation="bicubic"),
        dict(type="RandomHorizontalFlip"),
        dict(type="ToTensor"),
        dict(type="Normalize", mean=_mean, std=_std)]),
    val=dict(type="ImageFolder", root="data/imagenet/val", pipeline=[
        dict(type="Resize", size=256, interpolation="bicubic"),
        dict(type="CenterCrop", size=224),
        dict(type="ToTensor"),
        dict(type="Normalize", mean=_mean, std=_std)]))
evaluation = dict(metric=dict(type="MIMValLoss"))
