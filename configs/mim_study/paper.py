# The data-scaling study at the paper's scale ("Delving Deeper into Data Scaling in Masked Image
# Modeling", arXiv:2305.15248): MAE pre-training on random 0.5M / 1M / 5M / 10M / 100M-image subsets of
# Coyo-700M (img2dataset shards), ViT-B/16 and ViT-L/16, pixel (norm-pix) and CLIP-feature targets, the
# uniform sampling of the paper plus two metadata-driven strategies, then ImageNet-1K fine-tuning and
# linear probing with MAE's recipes. Not runnable here: it documents what the cluster run executes.
#   python tools/mim_study.py configs/mim_study/paper.py --dry-run
#   python tools/mim_study.py configs/mim_study/paper.py --mpirun "mpirun -np 64"      # 8 nodes x 8 GPUs
# Budget: every cell pre-trains for the same number of iterations (the paper's fixed-schedule design;
# 800 epochs of ImageNet-1K at batch 4096 = 249,600 iterations, i.e. ~1.0B samples seen whatever the
# subset size). Subsets are drawn once per (strategy, size) with seed 0 and shared by all cells.
# Data layout expected: data/coyo700m/{00000..74751}.tar (img2dataset: KEY.jpg, KEY.txt, KEY.json with
# Coyo's columns), data/imagenet/{train,val}; checkpoints/ViT-B-16.pt (OpenAI CLIP, the teacher).
custom_imports = ["jvision.mim.study"]  # declares the `study` section
_models = dict(
    base=dict(mae=dict(type="mae_vit_base_patch16"), vit=dict(type="vit_base_patch16")),
    large=dict(mae=dict(type="mae_vit_large_patch16"), vit=dict(type="vit_large_patch16"),
               overrides=dict(finetune=dict(          # FINETUNE.md ViT-L: blr 1e-3, layer decay 0.75, dp 0.2, 50 ep
                   model=dict(backbone=dict(drop_path_rate=0.2)),
                   optimizer=dict(lr=1e-3 * 1024 / 256, paramwise=dict(layer_decay=0.75)),
                   train=dict(max_iters=62_550)))))
_clip = dict(type="teacher", model=dict(type="clip_vit_b16", tokens="projected"), checkpoint="checkpoints/ViT-B-16.pt",
             input_mean=(123.675, 116.28, 103.53), input_std=(58.395, 57.12, 57.375),
             teacher_mean=(122.7709, 116.7460, 104.0937), teacher_std=(68.5005, 66.6322, 70.3232), loss="cosine")
study = dict(
    name="paper",
    source="data/coyo700m/{00000..74751}.tar",
    grids=[
        # the main grid: data size x model size x target, uniform sampling (the paper's)
        dict(data=[500_000, 1_000_000, 5_000_000, 10_000_000, 100_000_000], model=["base", "large"],
             target=["norm_pix", "clip"], sampling=["uniform"]),
        # sampling strategies at 10M images, ViT-B, pixel target (the paper: sampling barely matters)
        dict(data=[10_000_000], model=["base"], target=["norm_pix"],
             sampling=["uniform", "clip_score", "aesthetic"]),
        # ImageNet fine-tuning / probing from random initialisation: the no-pre-training baseline
        dict(data=[0], model=["base", "large"], target=["norm_pix"], sampling=["uniform"]),
    ],
    models=_models,
    targets=dict(norm_pix="norm_pix", clip=_clip),
    samplings=dict(uniform=dict(strategy="uniform"),
                   clip_score=dict(strategy="top", column="clip_similarity_vitb32"),
                   aesthetic=dict(strategy="uniform", column="aesthetic_score_laion_v2", min_value=4.5)),
    pretrain=dict(config="../mae/mae_vit_base_patch16_coyo.py", iters=249_600),
    downstream=dict(finetune=dict(config="../mae/vit_base_patch16_finetune_in1k.py", iters=125_100),
                    probe=dict(config="../mae/vit_base_patch16_linprobe_in1k.py", iters=7_020)),
    shard_size=10_000,
    seed=0,
    mpirun=None,
)
