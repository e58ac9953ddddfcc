# SegNeXt-S on ADE20K, 512x512 crops, 160k iterations, batch 16 (official SegNeXt recipe; test: resize to 2048x512 keeping the ratio, round up to a multiple of 32, whole image).
#   python tools/train.py configs/segnext/segnext_s_ade20k.py            (mpirun -np N ... : same global batch)
#   python tools/test.py configs/segnext/segnext_s_ade20k.py CHECKPOINT
_base_ = ["../_base_/models/segnext_s.py", "../_base_/datasets/ade20k.py", "../_base_/schedules/segnext_160k.py",
          "../_base_/default_runtime.py"]
model = dict(num_classes=150, test_cfg=dict(mode="whole", img_scale=(2048, 512), keep_ratio=True, size_divisor=32))
