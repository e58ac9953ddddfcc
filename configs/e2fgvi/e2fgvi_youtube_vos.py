# E2FGVI (Li et al., CVPR 2022) trained as the official configs/train_e2fgvi.json (MCG-NKU/E2FGVI):
# YouTube-VOS train (3,471 videos) at 432x240, 5 local + 3 random reference frames per clip, random
# static / moving blob masks, horizontal flip; hole L1 + valid L1 + 0.01 hinge adversarial + flow L1
# against a frozen SPyNet; Adam betas (0, 0.99), lr 1e-4 for the generator (SPyNet included) and the
# T-PatchGAN discriminator, batch 8, 500k iterations, x0.1 at 400k, seed 2021.
#   python tools/train.py configs/e2fgvi/e2fgvi_youtube_vos.py
#   mpirun --allow-run-as-root -np 8 python tools/train.py configs/e2fgvi/e2fgvi_youtube_vos.py   # batch 8 split
# Evaluation (the official evaluate.py: fixed masks dilated 4x, window f+-5 with every 10th frame as
# reference, overlaps averaged): data.val is YouTube-VOS test (508 videos), data.test DAVIS (50 videos):
#   python tools/test.py configs/e2fgvi/e2fgvi_youtube_vos.py E2FGVI-CVPR22.pth                 # YouTube-VOS
#   python tools/test.py configs/e2fgvi/e2fgvi_youtube_vos.py E2FGVI-CVPR22.pth --split test    # DAVIS
# Files it expects (none is downloaded): the datasets in the official layout under datasets/ (see
# jvision/data/video_inpainting.py), mmediting's SPyNet at pretrained/spynet_20210409-c6c1bd09.pth, and
# for VFID the I3D weights (add --cfg-options evaluation.metric.i3d_checkpoint=i3d_rgb_imagenet.pt).
custom_imports = ["jvision.video"]
_spynet = "pretrained/spynet_20210409-c6c1bd09.pth"
_train_root = "datasets/youtube-vos"
_test = dict(type="VideoInpaintingTestDataset", split="test", mask_dir="test_masks", height=240, width=432, dilate=4)

model = dict(
    type="VideoInpainter",
    generator=dict(type="e2fgvi", spynet_pretrained=_spynet),
    discriminator=dict(type="e2fgvi_discriminator"),
    flow_loss=dict(spynet_pretrained=_spynet),
    flow_targets="spynet",
    num_local_frames=5,
    hole_weight=1.0, valid_weight=1.0, adversarial_weight=0.01, flow_weight=1.0,
    test_cfg=dict(neighbor_stride=5, ref_step=10, num_ref=-1))
data = dict(
    batch_size=8, val_batch_size=1, num_workers=2,
    train=dict(type="VideoInpaintingDataset", root=_train_root, split="train", num_local_frames=5, num_ref_frames=3,
               height=240, width=432,
               pipeline=[dict(type="RandomShapeMotionMasks", static_prob=0.5),
                         dict(type="ClipRandomFlip", prob=0.5),
                         dict(type="PackInpaintingInputs")]),
    val=dict(**_test, root="datasets/youtube-vos"),
    test=dict(**_test, root="datasets/davis"))
optimizer = dict(generator=dict(type="Adam", lr=1e-4, betas=(0.0, 0.99)),
                 discriminator=dict(type="Adam", lr=1e-4, betas=(0.0, 0.99)))
schedule = dict(type="step", steps=[400000], gamma=0.1)
train = dict(max_iters=500000, log_interval=100, ckpt_interval=5000, keep_ckpts=5, val_interval=0, seed=2021)
evaluation = dict(metric=dict(type="VideoInpaintingMetric", ssim_win_size=65, ewarp=True, ewarp_spynet=_spynet,
                              i3d_checkpoint=None))
