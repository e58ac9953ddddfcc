# MAE pre-training schedule (PRETRAIN.md, main_pretrain.py, util/lr_sched.py), written in iterations:
# effective batch 4096 (data.batch_size x train.accumulate x ranks: with fewer devices keep the product
# at 4096 through train.accumulate), lr = blr 1.5e-4 x 4096 / 256, AdamW betas (0.9, 0.95), weight
# decay 0.05 except norms, biases and the pos/cls/mask tokens, per-iteration linear warm-up from 0 over
# 40 epochs, then half-cycle cosine to 0 over the remaining epochs (anneal_after_warmup).
# ImageNet-1K: 1,281,167 images -> 312 iterations of 4096 per epoch (drop_last).
# 800 epochs is the documented ViT-L recipe (85.4 fine-tuned); the released checkpoints are 1600 epochs.
# (The official code, through timm 0.3.2's add_weight_decay, exempts only 1-D parameters and biases:
#  its cls/mask tokens are decayed. Set no_decay_keys=("pos_embed",) to reproduce that exactly.)
_epochs, _warmup_epochs, _iters_per_epoch = 800, 40, 312
_eff_batch = 4096
optimizer = dict(type="AdamW", lr=1.5e-4 * _eff_batch / 256, betas=(0.9, 0.95), weight_decay=0.05,
                 paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                                no_decay_keys=("pos_embed", "cls_token", "mask_token")))
schedule = dict(type="cosine", warmup_iters=_warmup_epochs * _iters_per_epoch, warmup_ratio=0.0, min_lr=0.0,
                anneal_after_warmup=True)
train = dict(max_iters=_epochs * _iters_per_epoch, val_interval=20 * _iters_per_epoch,
             ckpt_interval=_iters_per_epoch, keep_ckpts=3, log_interval=50, accumulate=1, seed=0)
custom_imports = ["jvision.mim.training"]
custom_hooks = [dict(type="ReconstructionHook", interval=20 * _iters_per_epoch, num_images=8)]
