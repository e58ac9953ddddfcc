# Stage 1 of the synthetic-clip demo: pre-trains the demo generator's SPyNet (flow completion on the
# masked local frames against the clips' exact flows) and its encoder-decoder (auto-encoding whole
# frames); the demo (e2fgvi_demo_synthetic.py, stage 2) starts from this run's latest.pkl, as the
# official recipe starts from a pretrained SPyNet. See jvision.video.trainer.InpaintingWarmup.
#   python tools/train.py configs/e2fgvi/e2fgvi_demo_warmup.py
# Why: trained from scratch by the inpainting losses alone, both parts learn slowly (README, E2FGVI,
# "Demo on synthetic clips"). The generator must equal the demo's (tests/test_e2fgvi_demo.py
# checks it). Adam with beta1 0.9 (the official beta1 0 learned this auto-encoder more slowly).
# SPyNet at 0.3x: at 1e-3 its flow loss was noisy (held-out L1 0.30 px per component at 1/4 scale
# after 1500 iterations with x0.1 at 1200; 0.17 at 3e-4 constant, SPyNet alone). A constant rate,
# not the usual x0.1 step: a warm-up with a step at 80% (2000 iterations of batch 4) gave a better
# SPyNet (0.11) but an encoder-decoder the demo learned more slowly from (hole PSNR 17.95 against
# 19.06 dB at iteration 200 from a constant-rate auto-encoder with the same SPyNet).
custom_imports = ["jvision.video"]
model = dict(
    type="InpaintingWarmup",
    generator=dict(type="e2fgvi_hq", channel=16, hidden=32, depth=1, num_heads=2, warn_spynet=False,
                   init_weights="kaiming"),
    num_local_frames=5)
data = dict(
    batch_size=2, num_workers=1,
    train=dict(type="SyntheticInpaintingClips", length=12, height=60, width=108, max_speed=6, seed=0,
               split="train", num_clips=512, num_local_frames=5, num_ref_frames=2,
               pipeline=[dict(type="RandomShapeMotionMasks", static_prob=0.5, size_range=(0.15, 0.35)),
                         dict(type="ClipRandomFlip", prob=0.5),
                         dict(type="PackInpaintingInputs")]))
optimizer = dict(type="Adam", lr=1e-3, betas=(0.9, 0.99),
                 paramwise=dict(custom_keys={"update_spynet": dict(lr_mult=0.3)}))
schedule = dict(type="constant")
train = dict(max_iters=1500, log_interval=50, ckpt_interval=500, keep_ckpts=1, seed=0)
