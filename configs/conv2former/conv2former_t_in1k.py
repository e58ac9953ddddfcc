# Conv2Former-T on ImageNet-1K from scratch (HVision-NKU/Conv2Former train.sh: the timm train.py
# recipe, 8 GPUs x 128 = global batch 1024, --lr 1e-3; everything else timm's defaults as for VAN).
# The drop-path rate is NOT published ("--drop-path $DROP_PATH"); 0.1 is ConvNeXt's value for the
# same size (Conv2Former's code derives from ConvNeXt's: T 0.1, S 0.4, B 0.5): override it with
# --cfg-options model.backbone.drop_path_rate=...
#   mpirun -np 8 python tools/train.py configs/conv2former/conv2former_t_in1k.py
#   python tools/test.py configs/conv2former/conv2former_t_in1k.py CHECKPOINT --data-root data/imagenet/val
_base_ = ["../_base_/datasets/imagenet_crop09.py", "../_base_/schedules/imagenet_300e.py"]
model = dict(
    type="ImageClassifier",
    backbone=dict(type="conv2former_t", num_classes=1000, drop_path_rate=0.1),
    loss=dict(label_smoothing=0.1),
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5))
