# SegNeXt-S on Pascal Context 59, 480x480 crops, 160k iterations, batch 16 (mmseg's Pascal Context data settings, sliding test 480/320, with the SegNeXt optimiser).
#   python tools/train.py configs/segnext/segnext_s_pascal_context.py            (mpirun -np N ... : same global batch)
#   python tools/test.py configs/segnext/segnext_s_pascal_context.py CHECKPOINT
_base_ = ["../_base_/models/segnext_s.py", "../_base_/datasets/pascal_context.py", "../_base_/schedules/segnext_160k.py",
          "../_base_/default_runtime.py"]
model = dict(num_classes=59, test_cfg=dict(mode="slide", crop_size=(480, 480), stride=(320, 320), img_scale=(520, 520), keep_ratio=True))
