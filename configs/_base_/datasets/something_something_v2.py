# Something-Something-v2 for action-recognition fine-tuning and testing, VideoMAE's setting (ssv2.py):
# 16 TSN segments ("uniform sampling"), 224x224, no horizontal flip (left/right carries the label).
# Layout as released: data/sthv2/videos/<id>.webm (or data/sthv2/videos/<id>/ folders of frames),
# data/sthv2/something-something-v2-{train,validation}.json, something-something-v2-labels.json.
# Test: 2 clips x 3 crops, the softmax averaged (VideoMAE's 16x2x3).
_mean = (123.675, 116.28, 103.53)
_std = (58.395, 57.12, 57.375)
_sampling = dict(type="segment", num_segments=16)
_root = "data/sthv2"
_labels = f"{_root}/something-something-v2-labels.json"
_test_views = [dict(type="Resize", size=224, interpolation="bilinear"), dict(type="UniformCrop", size=224),
               dict(type="ToTensor"), dict(type="Normalize", mean=_mean, std=_std)]
data = dict(
    batch_size=384, val_batch_size=8, num_workers=8,
    train=dict(type="SomethingSomethingV2", root=f"{_root}/videos",
               ann_file=f"{_root}/something-something-v2-train.json", label_file=_labels,
               sampling=_sampling, pipeline=[dict(type="ClipApply", transforms=[
                   dict(type="RandomResizedCrop", size=224, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                        interpolation="bilinear"),
                   dict(type="RandAugment", magnitude=7, num_layers=4, magnitude_std=0.5, increasing=True,
                        fill=(124, 116, 104)),
                   dict(type="ToTensor"),
                   dict(type="Normalize", mean=_mean, std=_std),
                   dict(type="RandomErasing", prob=0.25, mode="pixel")])]),
    val=dict(type="SomethingSomethingV2", root=f"{_root}/videos",
             ann_file=f"{_root}/something-something-v2-validation.json", label_file=_labels,
             sampling=_sampling, test_mode=True, num_clips=1, num_crops=1,
             pipeline=[dict(type="ClipApply", transforms=_test_views)]),
    test=dict(type="SomethingSomethingV2", root=f"{_root}/videos",
              ann_file=f"{_root}/something-something-v2-validation.json", label_file=_labels,
              sampling=_sampling, test_mode=True, num_clips=2, num_crops=3,
              pipeline=[dict(type="ClipApply", transforms=_test_views)]))
evaluation = dict(metric=dict(type="Accuracy", topk=(1, 5)))
