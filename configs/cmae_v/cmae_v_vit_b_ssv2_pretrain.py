# CMAE-V pre-training on Something-Something-v2 (video ViT-B): as on Kinetics (the same pipeline) with
# 16 frames every 2 (VideoMAE's SSv2 pre-training sampling), a 0-4 frame shift, 800 epochs of 82
# iterations (65,600). The hybrid: --cfg-options model.type=cmae_v_convvit_base_patch16_224.
#   mpirun -np 8 python tools/train.py configs/cmae_v/cmae_v_vit_b_ssv2_pretrain.py
_base_ = ["cmae_v_vit_b_k400_pretrain.py"]
data = dict(train=dict(type="SomethingSomethingV2", root="data/sthv2/videos",
                       ann_file="data/sthv2/something-something-v2-train.json",
                       label_file="data/sthv2/something-something-v2-labels.json",
                       sampling=dict(type="dense", clip_len=16, frame_interval=2), target_view=dict(shift=(0, 4))))
schedule = dict(type="cosine", warmup_iters=3300, warmup_ratio=1e-3, min_lr=1e-5)
train = dict(max_iters=65600, ckpt_interval=1640)
