#!/usr/bin/env python
"""Train any model of the project from a config file.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT] | --force] [--cfg-options a.b=1 ...]
    mpirun -np 2 python tools/train.py CONFIG        # data parallel; data.batch_size is global

A work dir (default work_dirs/<config name>) holds one run. Starting again where a run is refuses;
--resume continues it (checking that max_iters, the global batch, the seed and the model are the
run's), --force moves the previous run's files into <work dir>/run_<date-time>/ and starts afresh.
Config mistakes are reported as one line naming the key, the value and what is expected (--debug
shows the traceback).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jvision  # noqa: E402,F401  (configures Jittor before anything imports it)
from jvision.cli import add_debug_flag, run_tool  # noqa: E402
from jvision.config import Config  # noqa: E402
from jvision.engine import Trainer  # noqa: E402
from jvision.engine.dist import is_main_process  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="Python config file")
    p.add_argument("--work-dir", help="output folder (default: work_dirs/<config name>)")
    p.add_argument("--resume", nargs="?", const=True, default=None, metavar="CKPT",
                   help="continue the run in the work dir from its latest checkpoint, or from CKPT")
    p.add_argument("--force", action="store_true",
                   help="start a new run in a work dir that holds one (its files move to run_<date-time>/)")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override config values, e.g. train.max_iters=100 optimizer.lr=1e-4 "
                        "'data.train.pipeline.1.crop_size=(256,256)'")
    add_debug_flag(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("jseg") is not None:
        importlib.import_module("jseg")  # registers the segmentation toolbox
    cfg = Config.fromfile(args.config)
    cfg.merge_from_list(args.cfg_options)
    trainer = Trainer.from_config(cfg, work_dir=args.work_dir, resume=args.resume, force=args.force)
    trainer.run()
    if is_main_process():
        print(f"results written to {trainer.work_dir.resolve()} (config.py, log.txt, metrics.jsonl, checkpoints)")
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main))
