# ImageNet-1K, timm training pipeline with ImageNet mean/std, evaluated at crop_pct 0.9
# (resize 248, centre crop 224, bicubic): Conv2Former's default_cfg (timm vision_transformer._cfg);
# its README asks for the ImageNet mean/std (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225).
_base_ = "imagenet.py"
data = dict(
    val=dict(pipeline=[
        dict(type="Resize", size=248, interpolation="bicubic"),
        dict(type="CenterCrop", size=224),
        dict(type="ToTensor"),
        dict(type="Normalize", mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))]))
