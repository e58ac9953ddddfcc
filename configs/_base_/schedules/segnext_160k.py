# The SegNeXt optimisation recipe (official local_configs/segnext/*/*.160k.py):
# AdamW lr 6e-5, betas (0.9, 0.999), weight decay 0.01; parameters whose name contains "norm" or
# "pos_block" get no weight decay and the decode head ("head") a 10x learning rate (mmcv
# custom_keys, reproduced exactly: the stem BatchNorms "patch_embed1.proj.1/4" and the head's
# GroupNorms do decay, as in the official runs); poly decay power 1.0 to 0 over 160k iterations
# after a 1500-iteration linear warm-up from 1e-6; evaluation and checkpoints every 8000.
# The batch (data.batch_size, in the dataset base) is GLOBAL: 16 images, split across MPI ranks.
optimizer = dict(
    type="AdamW", lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01,
    paramwise=dict(custom_keys={"pos_block": dict(decay_mult=0.0), "norm": dict(decay_mult=0.0),
                                "head": dict(lr_mult=10.0)}))
schedule = dict(type="poly", power=1.0, min_lr=0.0, warmup_iters=1500, warmup_ratio=1e-6)
train = dict(max_iters=160000, log_interval=50, val_interval=8000, ckpt_interval=8000, keep_ckpts=3, seed=0)
