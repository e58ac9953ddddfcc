#!/usr/bin/env python
"""Draw a fixed-seed subset of a webdataset / img2dataset shard collection into new shards.

    python tools/mim_subset.py SOURCE OUT_DIR --n 500000 [--strategy uniform] [--seed 0]
    python tools/mim_subset.py /data/coyo/{00000..74751}.tar data/coyo_1m --n 1000000
    python tools/mim_subset.py /data/coyo data/coyo_top1m --n 1000000 --strategy top --column aesthetic_score_laion_v2
    python tools/mim_subset.py /data/coyo data/coyo_clip --n 1000000 --column clip_similarity_vitb32 --min 0.3
    python tools/mim_subset.py builtin work_dirs/subsets/builtin_500 --n 500      # the built-in collection

SOURCE: a brace pattern (quote it), a folder of *.tar (or with index.json), an index.json, or
``builtin`` (the generated collection of jvision.data.builtin_shards, see --builtin-samples).

Strategies: uniform (the paper's; exactly N, one streaming pass), top / bottom (by --column),
weighted (probability proportional to --column). --min/--max restrict any strategy to samples whose
--column lies in the bounds. Columns: per-sample JSON fields (Coyo's clip_similarity_vitb32,
aesthetic_score_laion_v2, watermark_score, width, ...) or caption_length, image_area, min_side.

The same arguments give the same subset, byte for byte. OUT_DIR gets {00000..}.tar (--shard-size
samples each) and index.json (shard counts and the arguments), which every jvision shard reader
accepts: data.train = dict(type="WebShards", shards="OUT_DIR", ...).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args(argv=None):
    from jvision.mim.subset import DERIVED_COLUMNS, STRATEGIES
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="shards: brace pattern, folder, index.json, or 'builtin'")
    p.add_argument("out_dir", help="new folder for the subset's shards and index.json")
    p.add_argument("--n", type=int, required=True, help="number of samples to draw")
    p.add_argument("--strategy", default="uniform", choices=STRATEGIES)
    p.add_argument("--column", help=f"JSON field or one of {', '.join(DERIVED_COLUMNS)}")
    p.add_argument("--min", type=float, dest="min_value", help="keep samples with column >= MIN")
    p.add_argument("--max", type=float, dest="max_value", help="keep samples with column <= MAX")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shard-size", type=int, default=1000, help="samples per output shard (1000)")
    p.add_argument("--builtin-samples", type=int, default=2000, help="size of the built-in collection (2000)")
    p.add_argument("--builtin-size", type=int, default=64, help="image size of the built-in collection (64)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from jvision.mim.subset import build_subset

    source = args.source
    if source == "builtin":
        from jvision.data.builtin_shards import make_builtin_shards
        source = str(make_builtin_shards(num_samples=args.builtin_samples, image_size=args.builtin_size))
        print(f"built-in collection: {source}")
    start = time.time()
    build_subset(source, args.out_dir, args.n, args.strategy, args.seed, args.column, args.min_value,
                 args.max_value, args.shard_size)
    print(f"done in {time.time() - start:.1f}s; index: {Path(args.out_dir).resolve() / 'index.json'}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
