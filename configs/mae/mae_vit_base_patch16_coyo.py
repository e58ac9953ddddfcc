# MAE ViT-B/16 on web shards (Coyo-700M or a subset drawn with tools/mim_subset.py), the pixel recipe.
# Shards in the img2dataset layout ({00000..N}.tar with KEY.jpg/.txt/.json); a brace pattern, a folder or
# the index.json the subset builder writes. Each rank and each of its readers (num_workers) reads its own
# shards; corrupt images are skipped and counted in the log (ShardStatsHook).
#   python tools/mim_subset.py '/data/coyo/{00000..74751}.tar' data/coyo_10m --n 10000000
#   mpirun -np 64 python tools/train.py configs/mae/mae_vit_base_patch16_coyo.py --cfg-options data.train.shards=data/coyo_10m
# Iterations: one "epoch" of 10M images at 4096 is 2441 iterations; the data-scaling study fixes the
# number of iterations across subset sizes (see configs/mim_study/paper.py).
_base_ = ["./mae_vit_base_patch16_in1k.py"]
data = dict(train=dict(_delete_=True, type="WebShards", shards="data/coyo_10m", shuffle_buffer=5000, pipeline=[
    dict(type="RandomResizedCrop", size=224, scale=(0.2, 1.0), interpolation="bicubic"),
    dict(type="RandomHorizontalFlip"),
    dict(type="ToTensor"),
    dict(type="Normalize", mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))]))
custom_hooks = [dict(type="ReconstructionHook", interval=6240, num_images=8), dict(type="ShardStatsHook")]
