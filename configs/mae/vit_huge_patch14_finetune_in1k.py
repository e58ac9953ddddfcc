# ViT-H/14 fine-tuning (FINETUNE.md, reference 86.928): blr 1e-3, layer decay 0.75, drop path 0.3, 50 epochs.
_base_ = ["./vit_base_patch16_finetune_in1k.py"]
_iters_per_epoch = 1251
model = dict(backbone=dict(type="vit_huge_patch14", drop_path_rate=0.3,
                           pretrained="checkpoints/mae_pretrain_vit_huge.pth"))
optimizer = dict(lr=1e-3 * 1024 / 256, paramwise=dict(layer_decay=0.75))
train = dict(max_iters=50 * _iters_per_epoch)
