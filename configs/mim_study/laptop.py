# The data-scaling study at laptop scale (2 CPU cores): MAE on uniform / metadata-selected subsets of the
# built-in shard collection (4000 images with Coyo-style metadata), two tiny ViTs (nano, micro), the norm-pix and HOG
# targets, a linear probe on the labelled built-in task whose label lives in geometry only (the object's
# size class, `size_label`; its kind, colours and shading drawn per sample), against the same probe on a
# randomly initialised encoder (data = 0). Measured at the test's size (nano, 600 pre-training images):
# after 500 pre-training iterations the probe gains +4.5 to +8.5 points over random init with 300 SGD
# steps (three seeds, crop 0.2-1) and +5 to +12 fitted to convergence (crop 0.2-1 or none alike), none
# beyond noise at 150, and a probe of only 60 steps hides the gain: hence 500 pre-training and 300 probe
# iterations here (README, "Masked image modelling"; tests/test_mim_pretrain_probe.py asserts the gain).
# This spec's own table is still to be produced.
#   python tools/mim_study.py configs/mim_study/laptop.py                  # -> work_dirs/mim_study_laptop/
#   python tools/mim_study.py configs/mim_study/laptop.py --dry-run        # the cells and commands
# Every cell pre-trains for the same number of iterations (500 x 64 images), whatever its subset size,
# as a fixed compute budget; the probe trains 300 iterations of 128 (38 epochs of its 1000 images).
custom_imports = ["jvision.mim.study"]  # declares the `study` section
_models = dict(
    micro=dict(mae=dict(type="MaskedAutoencoderViT", img_size=32, patch_size=4, embed_dim=64, depth=4, num_heads=4,
                        decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2),
               vit=dict(type="VisionTransformer", img_size=32, patch_size=4, embed_dim=64, depth=4, num_heads=4)),
    # the encoder of tests/test_mim_pretrain_probe.py; "mini" (dim 128, depth 6: 2835 s per cell, loaded)
    # left the grid to keep the study under 30 minutes on an idle 2-core machine
    nano=dict(mae=dict(type="MaskedAutoencoderViT", img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2,
                       decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2),
              vit=dict(type="VisionTransformer", img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2)))
study = dict(
    name="laptop",
    source=dict(builtin=dict(split="train", num_samples=4000, image_size=40, seed=0)),
    grids=[dict(data=[0, 500, 4000], model=["nano", "micro"], target=["norm_pix"], sampling=["uniform"]),
           dict(data=[1000], model=["nano"], target=["norm_pix", "hog"], sampling=["uniform", "aesthetic"])],
    models=_models,
    targets=dict(norm_pix="norm_pix", hog=dict(type="hog", nbins=9, cell_size=4)),
    samplings=dict(uniform=dict(strategy="uniform"),
                   aesthetic=dict(strategy="top", column="aesthetic_score_laion_v2")),
    pretrain=dict(config="_base_/pretrain_builtin.py", iters=500),
    downstream=dict(probe=dict(config="_base_/probe_builtin.py", iters=300)),
    shard_size=100,
    seed=0,
    mpirun=None,
)
