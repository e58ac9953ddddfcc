# CMAE-V pre-training on Kinetics-400 with the hybrid backbone (the paper's 82.2% K400 model): ConvMAE's
# ConvViT-B on clips (conv stages 256 / 384 at 1/4 and 1/8, 11 transformer blocks of 768 at 1/16; the
# first patch embedding takes 2x4x4 tubelets). Everything else as cmae_v_vit_b_k400_pretrain.py.
#   mpirun -np 8 python tools/train.py configs/cmae_v/cmae_v_convvit_b_k400_pretrain.py
# Fine-tune: configs/cmae_v/convvit_b_k400_finetune.py.
_base_ = ["cmae_v_vit_b_k400_pretrain.py"]
model = dict(_delete_=True, type="cmae_v_convvit_base_patch16_224", mask_ratio=0.9, norm="syncbn")
