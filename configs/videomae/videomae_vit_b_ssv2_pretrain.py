# VideoMAE ViT-B pre-training on Something-Something-v2
# (scripts/ssv2/videomae_vit_base_patch16_224_tubemasking_ratio_0.9_epoch_800/pretrain.sh): as on
# Kinetics but 16 frames every 2 (dense sampling) and 800 epochs of SSv2's 168,913 videos: 82 iterations
# an epoch at batch 2048, 65,600 in all, 3,300 of warm-up (the 2400-epoch model: max_iters=196800).
#   mpirun -np 8 python tools/train.py configs/videomae/videomae_vit_b_ssv2_pretrain.py
_base_ = ["videomae_vit_b_k400_pretrain.py"]
_mean = (123.675, 116.28, 103.53)
_std = (58.395, 57.12, 57.375)
data = dict(
    _delete_=True, batch_size=2048, num_workers=8,
    train=dict(type="SomethingSomethingV2", root="data/sthv2/videos",
               ann_file="data/sthv2/something-something-v2-train.json",
               label_file="data/sthv2/something-something-v2-labels.json",
               sampling=dict(type="dense", clip_len=16, frame_interval=2),
               pipeline=[dict(type="ClipApply", transforms=[
                   dict(type="MultiScaleCrop", size=224, scales=(1, 0.875, 0.75, 0.66)),
                   dict(type="ToTensor"),
                   dict(type="Normalize", mean=_mean, std=_std)])]))
schedule = dict(type="cosine", warmup_iters=3300, warmup_ratio=1e-3, min_lr=1e-5)
train = dict(max_iters=65600, ckpt_interval=1640)
