# SegNeXt-B on Cityscapes, 1024x1024 crops, 160k iterations, batch 16 (official SegNeXt recipe; test: 2048x1024, sliding window 1024 stride 768).
#   python tools/train.py configs/segnext/segnext_b_cityscapes.py            (mpirun -np N ... : same global batch)
#   python tools/test.py configs/segnext/segnext_b_cityscapes.py CHECKPOINT
_base_ = ["../_base_/models/segnext_b.py", "../_base_/datasets/cityscapes.py", "../_base_/schedules/segnext_160k.py",
          "../_base_/default_runtime.py"]
model = dict(num_classes=19, test_cfg=dict(mode="slide", crop_size=(1024, 1024), stride=(768, 768), img_scale=(2048, 1024), keep_ratio=True))
