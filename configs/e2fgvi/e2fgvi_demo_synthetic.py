# Demo: a small E2FGVI-HQ trained from scratch on the built-in synthetic clips (a crop moving over a
# generated texture, so the optical flow is exact; nothing is downloaded), then evaluated on held-out
# clips with moving blob masks: PSNR, SSIM, E_warp (exact flows), and the hole PSNR against a
# copy-the-nearest-valid-pixel fill of the same holes. Pictures: work_dirs/e2fgvi_demo_synthetic/vis/,
# the inpainted held-out clip: .../inpainted/.
#   python tools/train.py configs/e2fgvi/e2fgvi_demo_synthetic.py
#   python tools/test.py configs/e2fgvi/e2fgvi_demo_synthetic.py work_dirs/e2fgvi_demo_synthetic/latest.pkl
# Differences from the official recipe, all for a short CPU run: a narrower generator (channel 32,
# hidden 64, 2 transformer blocks), 60x108 clips (one 5x9 attention window), 3 local + 2 reference
# frames, masks about a tenth of the official size range, the exact flows as the flow-loss targets
# (no pretrained SPyNet here), lr 5e-4 with the official Adam betas, SSIM with a 31 px window (the
# official 65 needs frames of at least 65 px).
custom_imports = ["jvision.video"]
_clips = dict(type="SyntheticInpaintingClips", length=12, height=60, width=108, max_speed=3, seed=0)

model = dict(
    type="VideoInpainter",
    generator=dict(type="e2fgvi_hq", channel=32, hidden=64, depth=2, num_heads=2, warn_spynet=False),
    discriminator=dict(type="e2fgvi_discriminator", nf=16),
    flow_targets="data",
    num_local_frames=3,
    hole_weight=1.0, valid_weight=1.0, adversarial_weight=0.01, flow_weight=1.0,
    test_cfg=dict(neighbor_stride=5, ref_step=10, num_ref=-1))
data = dict(
    batch_size=2, val_batch_size=1, num_workers=1,
    train=dict(**_clips, split="train", num_clips=512, num_local_frames=3, num_ref_frames=2,
               pipeline=[dict(type="RandomShapeMotionMasks", static_prob=0.5, size_range=(0.2, 0.5)),
                         dict(type="ClipRandomFlip", prob=0.5),
                         dict(type="PackInpaintingInputs")]),
    val=dict(**_clips, split="val", num_clips=4, mask_area=0.1))
optimizer = dict(generator=dict(type="Adam", lr=5e-4, betas=(0.0, 0.99)),
                 discriminator=dict(type="Adam", lr=5e-4, betas=(0.0, 0.99)))
schedule = dict(type="step", steps=[800], gamma=0.1)
train = dict(max_iters=1000, log_interval=20, ckpt_interval=250, keep_ckpts=2, val_interval=500, seed=0)
evaluation = dict(metric=dict(type="VideoInpaintingMetric", ssim_win_size=31, ewarp=True, baseline=True))
custom_hooks = [dict(type="InpaintingVisualizationHook", num_videos=1, frame_step=2)]
