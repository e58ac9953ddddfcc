# SegNeXt-L on Pascal VOC 2012 + aug, 512x512 crops, 160k iterations, batch 16 (no official SegNeXt config; mmseg's VOC-aug data settings with the SegNeXt optimiser).
#   python tools/train.py configs/segnext/segnext_l_voc_aug.py            (mpirun -np N ... : same global batch)
#   python tools/test.py configs/segnext/segnext_l_voc_aug.py CHECKPOINT
_base_ = ["../_base_/models/segnext_l.py", "../_base_/datasets/voc_aug.py", "../_base_/schedules/segnext_160k.py",
          "../_base_/default_runtime.py"]
model = dict(num_classes=21, test_cfg=dict(mode="whole", img_scale=(2048, 512), keep_ratio=True))
