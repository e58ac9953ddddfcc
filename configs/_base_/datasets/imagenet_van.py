# ImageNet-1K as VAN was trained and evaluated (VAN-Classification: timm 0.4.12, models/van.py
# default_cfg = timm.models.vision_transformer._cfg): mean = std = 0.5 (IMAGENET_INCEPTION_*, here
# 127.5 in 0-255 units), crop_pct 0.9 -> eval resize 248 (floor(224 / 0.9)), bicubic; RandAugment
# fills with round(255 * 0.5) = 128. mmpretrain's converted VAN configs use the same mean/std and 248.
_base_ = "imagenet.py"
data = dict(
    train=dict(pipeline=[
        dict(type="RandomResizedCrop", size=224, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
             interpolation="random"),
        dict(type="RandomHorizontalFlip", prob=0.5),
        dict(type="RandAugment", magnitude=9, num_layers=2, magnitude_std=0.5, increasing=True,
             fill=(128, 128, 128), interpolation="random"),
        dict(type="ToTensor"),
        dict(type="Normalize", mean=(127.5, 127.5, 127.5), std=(127.5, 127.5, 127.5)),
        dict(type="RandomErasing", prob=0.25, mode="pixel", max_count=1)]),
    val=dict(pipeline=[
        dict(type="Resize", size=248, interpolation="bicubic"),
        dict(type="CenterCrop", size=224),
        dict(type="ToTensor"),
        dict(type="Normalize", mean=(127.5, 127.5, 127.5), std=(127.5, 127.5, 127.5))]))
