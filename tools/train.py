#!/usr/bin/env python
"""Train any model of the project from a config file.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--cfg-options a.b=1 ...]
    mpirun -np 2 python tools/train.py CONFIG        # data parallel; data.batch_size is global
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jvision  # noqa: E402  (configures Jittor before anything imports it)
from jvision.config import Config  # noqa: E402
from jvision.engine import Trainer  # noqa: E402
from jvision.engine.dist import is_main_process  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="Python config file")
    p.add_argument("--work-dir", help="output folder (default: work_dirs/<config name>)")
    p.add_argument("--resume", nargs="?", const=True, default=None, metavar="CKPT",
                   help="resume from CKPT, or from the work dir's latest checkpoint if no path is given")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override config values, e.g. train.max_iters=100 optimizer.lr=1e-4")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("jseg") is not None:
        importlib.import_module("jseg")  # registers the segmentation toolbox
    cfg = Config.fromfile(args.config)
    cfg.merge_from_list(args.cfg_options)
    trainer = Trainer.from_config(cfg, work_dir=args.work_dir, resume=args.resume)
    trainer.run()
    if is_main_process():
        print(f"results written to {trainer.work_dir.resolve()} (config.py, log.txt, metrics.jsonl, checkpoints)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
