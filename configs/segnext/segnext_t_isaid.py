# SegNeXt-T on iSAID, 896x896 crops, 160k iterations, batch 16 (JSeg/mmseg iSAID data settings with the SegNeXt optimiser; JSeg reports T 68.3 / S 68.8 / B 69.9 / L 70.3 mIoU).
#   python tools/train.py configs/segnext/segnext_t_isaid.py            (mpirun -np N ... : same global batch)
#   python tools/test.py configs/segnext/segnext_t_isaid.py CHECKPOINT
_base_ = ["../_base_/models/segnext_t.py", "../_base_/datasets/isaid.py", "../_base_/schedules/segnext_160k.py",
          "../_base_/default_runtime.py"]
model = dict(num_classes=16, test_cfg=dict(mode="whole", img_scale=(896, 896), keep_ratio=True))
