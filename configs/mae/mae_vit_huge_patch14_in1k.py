# MAE ViT-H/14 pre-training on ImageNet-1K (same recipe as ViT-B/L).
_base_ = ["./mae_vit_base_patch16_in1k.py"]
model = dict(type="mae_vit_huge_patch14")
