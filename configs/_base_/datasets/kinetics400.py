# Kinetics-400 for action-recognition fine-tuning and testing, VideoMAE's setting (kinetics.py,
# run_class_finetuning.py): 16 frames every 4 ("I3D dense sampling"), 224x224 clips, ImageNet mean/std
# (0-255 units). Layout: data/kinetics400/{train,val}/... videos and VideoMAE's lists
# data/kinetics400/{train,val,test}.csv ("path label" per line, space separated); the official
# Kinetics CSV (label,youtube_id,time_start,time_end,split) is read as well.
# Training clip: RandomResizedCrop(224, scale 0.08-1, ratio 3/4-4/3), flip, RandAugment m7-n4-mstd0.5,
# random erasing 0.25 -- one draw per clip (ClipApply). Validation during training: the centre clip and
# crop; test (tools/test.py with data.test): 5 clips x 3 crops, the softmax averaged (VideoMAE's 16x5x3).
# Unreadable videos are skipped, counted and named (a replacement sample is used).
_mean = (123.675, 116.28, 103.53)
_std = (58.395, 57.12, 57.375)
_sampling = dict(type="dense", clip_len=16, frame_interval=4)
_test_views = [dict(type="Resize", size=224, interpolation="bilinear"), dict(type="UniformCrop", size=224),
               dict(type="ToTensor"), dict(type="Normalize", mean=_mean, std=_std)]
data = dict(
    batch_size=384, val_batch_size=8, num_workers=8,
    train=dict(type="Kinetics400", root="data/kinetics400", ann_file="data/kinetics400/train.csv",
               sampling=_sampling, pipeline=[dict(type="ClipApply", transforms=[
                   dict(type="RandomResizedCrop", size=224, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                        interpolation="bilinear"),
                   dict(type="RandomHorizontalFlip", prob=0.5),
                   dict(type="RandAugment", magnitude=7, num_layers=4, magnitude_std=0.5, increasing=True,
                        fill=(124, 116, 104)),
                   dict(type="ToTensor"),
                   dict(type="Normalize", mean=_mean, std=_std),
                   dict(type="RandomErasing", prob=0.25, mode="pixel")])]),
    val=dict(type="Kinetics400", root="data/kinetics400", ann_file="data/kinetics400/val.csv",
             sampling=_sampling, test_mode=True, num_clips=1, num_crops=1,
             pipeline=[dict(type="ClipApply", transforms=_test_views)]),
    test=dict(type="Kinetics400", root="data/kinetics400", ann_file="data/kinetics400/test.csv",
              sampling=_sampling, test_mode=True, num_clips=5, num_crops=3,
              pipeline=[dict(type="ClipApply", transforms=_test_views)]))
evaluation = dict(metric=dict(type="Accuracy", topk=(1, 5)))
