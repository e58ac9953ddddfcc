# SegNeXt-T (MSCAN-T + LightHamHead, 9 classes, from scratch) on the built-in scenes, for the GPU
# check (benchmarks/gpu/run.sh): a few iterations with train.amp off and on, no evaluation, no
# checkpoints, no pictures. Loss values only say that training runs and stays finite.
_base_ = ["../../configs/demo/segnext_t_scenes.py"]
data = dict(batch_size=16, num_workers=4)
train = dict(max_iters=12, log_interval=2, val_interval=0, ckpt_interval=0)
custom_hooks = []
