# Linear probe of an MAE-pre-trained ViT-B/16 on ImageNet-1K, the official recipe (main_linprobe.py;
# reference 67.8 repo / 68.0 paper): the cls token through the encoder's norm, then
# BatchNorm1d(affine=False, eps 1e-6) and a Linear head (trunc-normal std 0.01); everything but the
# head frozen; LARS (momentum 0.9, trust 0.001), lr = blr 0.1 x 16384 / 256, no weight decay,
# effective batch 16384, 90 epochs (L/H: 50) with 10 warm-up epochs then half-cycle cosine;
# augmentation RandomResizedCrop(224, bicubic) + flip only.
#   mpirun -np 8 python tools/train.py configs/mae/vit_base_patch16_linprobe_in1k.py \
#       --cfg-options data.batch_size=2048 train.accumulate=8 model.backbone.pretrained=PATH
_base_ = ["./vit_base_patch16_finetune_in1k.py"]     # its ImageNet folders and evaluation pipeline
_iters_per_epoch = 78              # 1,281,167 / 16384
model = dict(_delete_=True,
    type="ImageClassifier",
    backbone=dict(type="vit_base_patch16", num_classes=1000, global_pool=False, linear_probe=True,
                  pretrained="checkpoints/mae_pretrain_vit_base.pth"))
data = dict(
    batch_size=16384,
    train=dict(pipeline=[
        dict(type="RandomResizedCrop", size=224, scale=(0.08, 1.0), interpolation="bicubic"),
        dict(type="RandomHorizontalFlip"),
        dict(type="ToTensor"),
        dict(type="Normalize", mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))]))
optimizer = dict(_delete_=True, type="LARS", lr=0.1 * 16384 / 256, weight_decay=0.0)
schedule = dict(type="cosine", warmup_iters=10 * _iters_per_epoch, warmup_ratio=0.0, min_lr=0.0,
                anneal_after_warmup=True)
train = dict(max_iters=90 * _iters_per_epoch, val_interval=10 * _iters_per_epoch, ckpt_interval=_iters_per_epoch,
             keep_ckpts=3, log_interval=20, seed=0)
