#!/usr/bin/env python
"""Evaluate a checkpoint on a config's validation (or test) set, for any task.

    python tools/test.py CONFIG CHECKPOINT [--data-root DIR] [--split val|test] [--batch-size N]
                         [--cfg-options a.b=1 ...] [--out FILE] [--work-dir DIR]
    mpirun -np 2 python tools/test.py CONFIG CHECKPOINT      # shards the set; metrics are all-reduced

CHECKPOINT is one of ours (``work_dirs/<name>/iter_*.pkl`` or ``latest.pkl``) or an official file
(``.pth``, ``.pth.tar``, ``.pt``, ``.bin``, ``.safetensors``, ...). Either loads through
``jvision.convert.load_checkpoint``, the project's one loader: no PyTorch needed, no code in the file
runs, loading is strict (a table of missing / unexpected / mismatched keys otherwise). An official
checkpoint goes into ``model.official_checkpoint_module()`` when the model defines it and the file
fits that part (the classifier: its backbone, whose keys carry no ``backbone.`` prefix).

The model is built from ``model`` in the config, the data from ``data.<split>`` (``--data-root``
replaces its ``root``), the metric from ``evaluation.metric``; the loop is the engine's ``evaluate``
(``model.val_step`` + the metric) with a progress bar. The metrics are printed as a table and written
as JSON beside the checkpoint (``<checkpoint folder>/test_<checkpoint name>_<split>.json``; ``--out``
or ``--work-dir`` choose another place).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jvision  # noqa: E402,F401  (configures Jittor before anything imports it)
from jvision.cli import add_debug_flag, run_tool  # noqa: E402
from jvision.config import Config, ConfigError  # noqa: E402
from jvision.registry import METRICS, MODELS  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="Python config file (the one used for training, or a recipe config)")
    p.add_argument("checkpoint", help="our checkpoint (.pkl) or an official one (.pth, .pth.tar, ...)")
    p.add_argument("--split", default="val", choices=("val", "test"),
                   help="which data.<split> section to evaluate (default: val)")
    p.add_argument("--data-root", help="replace data.<split>.root, e.g. /data/imagenet/val")
    p.add_argument("--batch-size", type=int, help="global evaluation batch (default: data.val_batch_size)")
    p.add_argument("--key", help="official checkpoints: the entry holding the weights (e.g. state_dict_ema); "
                                 "default: found automatically")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override config values, e.g. data.num_workers=4")
    p.add_argument("--work-dir", help="folder for the results (default: the checkpoint's folder)")
    p.add_argument("--out", help="JSON file for the metrics (default: <folder>/test_<ckpt>_<split>.json)")
    add_debug_flag(p)
    return p.parse_args(argv)


def load_weights(model, path: Path, key: str | None = None) -> str:
    """Load ``path`` into ``model`` (``jvision.convert.load_checkpoint``); a one-line description."""
    from jvision.convert import load_checkpoint

    report = load_checkpoint(model, path, strict=True, key=key, log=None)
    it = (report.meta or {}).get("iter")
    return report.summary() + (f" (iteration {it})" if isinstance(it, int) else "")


def format_table(metrics: dict, title: str) -> str:
    rows = [(str(k), f"{v:.4f}" if isinstance(v, float) else str(v)) for k, v in metrics.items()]
    w1 = max([len("metric")] + [len(r[0]) for r in rows])
    w2 = max([len("value")] + [len(r[1]) for r in rows])
    line = f"+{'-' * (w1 + 2)}+{'-' * (w2 + 2)}+"
    out = [title, line, f"| {'metric':<{w1}} | {'value':>{w2}} |", line]
    out += [f"| {k:<{w1}} | {v:>{w2}} |" for k, v in rows]
    out.append(line)
    return "\n".join(out)


def results_path(args, ckpt_path: Path, split: str) -> Path:
    if args.out:
        return Path(args.out)
    folder = Path(args.work_dir) if args.work_dir else ckpt_path.parent
    return folder / f"test_{ckpt_path.resolve().name.split('.')[0]}_{split}.json"


def main(argv=None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("jseg") is not None:
        importlib.import_module("jseg")  # registers the segmentation toolbox
    from jvision.engine.dist import is_main_process
    from jvision.engine.trainer import build_val_loader, evaluate, import_custom, model_config_for_checkpoint

    cfg = Config.fromfile(args.config)
    cfg.merge_from_list(args.cfg_options)
    import_custom(cfg)
    split = args.split
    data = cfg.get("data") or {}
    if not data.get(split):
        raise ConfigError(f"config {args.config} has no data.{split} section to evaluate")
    if not cfg.get("evaluation") or "metric" not in cfg.evaluation:
        raise ConfigError(f"config {args.config} has no evaluation.metric")
    if args.data_root:
        cfg.data[split]["root"] = args.data_root
    if args.batch_size:
        cfg.data["val_batch_size"] = args.batch_size
    cfg.validate()
    ckpt_path = Path(args.checkpoint)
    if not ckpt_path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {ckpt_path}")

    model = MODELS.build(model_config_for_checkpoint(cfg.model))  # the checkpoint holds every weight
    loaded = load_weights(model, ckpt_path, key=args.key)
    loader = build_val_loader(cfg, split)
    metric = METRICS.build(cfg.evaluation["metric"])
    n = len(loader.dataset)
    if is_main_process():
        print(loaded)
        print(f"evaluating {cfg.data[split].get('type')} ({n} samples, {cfg.data[split].get('root', '')}) "
              f"with {type(metric).__name__}", flush=True)
    start = time.time()
    results = evaluate(model, loader, metric, desc=f"test {split}")
    seconds = time.time() - start

    if is_main_process():
        print(format_table(results, f"{cfg.name} | {ckpt_path.resolve().name} | {split} | {seconds:.1f} s, "
                                    f"{n / max(seconds, 1e-9):.1f} samples/s"))
        out = results_path(args, ckpt_path, split)
        out.parent.mkdir(parents=True, exist_ok=True)
        record = {"config": str(args.config), "checkpoint": str(ckpt_path.resolve()), "split": split,
                  "samples": n, "seconds": round(seconds, 3), "metrics": results}
        out.write_text(json.dumps(record, indent=1) + "\n")
        print(f"results written to {out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main))
