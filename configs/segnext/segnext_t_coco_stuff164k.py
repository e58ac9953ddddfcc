# SegNeXt-T on COCO-Stuff 164k, 512x512 crops, batch 16; 80k iterations as the SegNeXt paper's COCO-Stuff schedule (mmseg data settings).
#   python tools/train.py configs/segnext/segnext_t_coco_stuff164k.py            (mpirun -np N ... : same global batch)
#   python tools/test.py configs/segnext/segnext_t_coco_stuff164k.py CHECKPOINT
_base_ = ["../_base_/models/segnext_t.py", "../_base_/datasets/coco_stuff164k.py", "../_base_/schedules/segnext_160k.py",
          "../_base_/default_runtime.py"]
model = dict(num_classes=171, test_cfg=dict(mode="whole", img_scale=(2048, 512), keep_ratio=True))
train = dict(max_iters=80000)
