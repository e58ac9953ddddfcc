# Fine-tuning the hybrid CMAE-V backbone (ConvViT-B on clips) on Kinetics-400: VideoMAE's fine-tuning
# recipe (layer decay 0.75 with ConvMAE's layer ids: conv stages with the embedding, drop path 0.1,
# mixup/cutmix, label smoothing 0.1, 16x5x3 test), mean pooling + fc_norm.
#   mpirun -np 8 python tools/train.py configs/cmae_v/convvit_b_k400_finetune.py \
#       --cfg-options model.backbone.pretrained=work_dirs/cmae_v_convvit_b_k400_pretrain/latest.pkl
_base_ = ["../videomae/videomae_vit_b_k400_finetune.py"]
model = dict(backbone=dict(_delete_=True, type="convvit_video_base_patch16_224", num_classes=400,
                           drop_path_rate=0.1, pretrained=None))
