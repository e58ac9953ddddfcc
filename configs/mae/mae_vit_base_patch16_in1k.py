# MAE ViT-B/16 pre-training on ImageNet-1K, the official recipe (norm-pix target, mask 0.75, 800 epochs,
# effective batch 4096). 64 GPUs as in the paper:
#   mpirun -np 64 python tools/train.py configs/mae/mae_vit_base_patch16_in1k.py
# 8 devices: --cfg-options data.batch_size=512 train.accumulate=8 (the same effective batch and lr).
# Then fine-tune (configs/mae/vit_base_patch16_finetune_in1k.py) or probe (..._linprobe_in1k.py) from
# work_dirs/mae_vit_base_patch16_in1k/latest.pkl.
_base_ = ["../_base_/datasets/mae_imagenet.py", "../_base_/schedules/mae_pretrain_800e.py"]
model = dict(type="mae_vit_base_patch16", norm_pix_loss=True, mask_ratio=0.75)
