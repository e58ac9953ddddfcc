# ViT-L/16 fine-tuning (FINETUNE.md, reference 85.952): blr 1e-3, layer decay 0.75, drop path 0.2, 50 epochs.
_base_ = ["./vit_base_patch16_finetune_in1k.py"]
_iters_per_epoch = 1251
model = dict(backbone=dict(type="vit_large_patch16", drop_path_rate=0.2,
                           pretrained="checkpoints/mae_pretrain_vit_large.pth"))
optimizer = dict(lr=1e-3 * 1024 / 256, paramwise=dict(layer_decay=0.75))
train = dict(max_iters=50 * _iters_per_epoch)
