# The built-in synthetic actions (jvision.data.video.SyntheticActions: a bright bar or triangle moving
# right, left, down or up at 2 px a frame from a random start, wrapping around the edges -- time-reversed
# pairs, so neither a single frame nor the position tells the class, only the motion), generated in
# memory: 4 classes, 64 training and 16 validation videos per class, 16 frames of 32x32; clips of 8
# frames every 2. No flip (it would swap left and right).
_mean = (123.675, 116.28, 103.53)
_std = (58.395, 57.12, 57.375)
_actions = dict(type="SyntheticActions", num_classes=4, num_frames=16, frame_size=32,
                sampling=dict(type="dense", clip_len=8, frame_interval=2))
_format = [dict(type="ToTensor"), dict(type="Normalize", mean=_mean, std=_std)]
data = dict(
    batch_size=16, val_batch_size=32, num_workers=2,
    train=dict(**_actions, samples_per_class=64, split="train", pipeline=[dict(type="ClipApply", transforms=_format)]),
    val=dict(**_actions, samples_per_class=16, split="val", test_mode=True,
             pipeline=[dict(type="ClipApply", transforms=_format)]))
evaluation = dict(metric=dict(type="Accuracy", topk=(1, 5)))
