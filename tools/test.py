#!/usr/bin/env python
"""Evaluate a checkpoint on a config's validation (or test) set, for any task.

    python tools/test.py CONFIG CHECKPOINT [--data-root DIR] [--split val|test] [--batch-size N]
                         [--cfg-options a.b=1 ...] [--out FILE]
    mpirun -np 2 python tools/test.py CONFIG CHECKPOINT      # shards the set; metrics are all-reduced

CHECKPOINT is one of ours (``work_dirs/<name>/iter_*.pkl`` or ``latest.pkl``: a pickle with
``model``/``optimizer``/``meta``), loaded strictly into the whole model, or an official file
(``.pth``, ``.pth.tar``, ``.pt``, ``.bin``, ``.safetensors``, ...) read without PyTorch through
``jvision.convert.load_checkpoint`` (strict, with a table of missing / unexpected / mismatched
keys). An official checkpoint goes into ``model.official_checkpoint_module()`` when the model
defines it (the classifier: its backbone, whose keys carry no ``backbone.`` prefix), else into the
whole model.

The model is built from ``model`` in the config, the data from ``data.<split>`` (``--data-root``
replaces its ``root``), the metric from ``evaluation.metric``; the loop is the engine's
``evaluate`` (``model.val_step`` + the metric). The metrics are printed as a table and written as
JSON (default: ``work_dirs/<config name>/test_<checkpoint name>_<split>.json``).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jvision  # noqa: E402,F401  (configures Jittor before anything imports it)
from jvision.config import Config  # noqa: E402
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
    p.add_argument("--official", action="store_true",
                   help="treat CHECKPOINT as an official file even if it looks like one of ours")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override config values, e.g. data.num_workers=4")
    p.add_argument("--work-dir", help="where to write the results (default: work_dirs/<config name>)")
    p.add_argument("--out", help="JSON file for the metrics (default: <work dir>/test_<ckpt>_<split>.json)")
    return p.parse_args(argv)


def is_jvision_checkpoint(path: Path) -> bool:
    """A pickle holding ``model`` and ``meta`` (what ``jvision.engine.checkpoint`` writes)."""
    try:
        with open(path, "rb") as f:
            if f.read(1) != b"\x80":  # pickle protocol >= 2; zip-based .pth files start with 'PK'
                return False
            f.seek(0)
            state = pickle.load(f)
    except Exception:  # noqa: BLE001 - anything unreadable as a plain pickle is not ours
        return False
    return isinstance(state, dict) and "model" in state and "meta" in state


def load_weights(model, path: Path, official: bool = False, key: str | None = None) -> str:
    """Load ``path`` into ``model``; returns a one-line description of what was loaded."""
    from jvision.engine.checkpoint import load_checkpoint
    from jvision.engine.trainer import load_model_state

    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    target = model.official_checkpoint_module() if hasattr(model, "official_checkpoint_module") else model
    if not official and is_jvision_checkpoint(path):
        state = load_checkpoint(path)
        # a training checkpoint of this model shares its keys; converted weights of the part an
        # official checkpoint describes (e.g. tools/convert.py output for a backbone) do not
        if target is model or set(state["model"]) & set(model.state_dict()):
            load_model_state(model, state["model"], source=str(path))
            it = state["meta"].get("iter")
            return f"jvision checkpoint {path}" + (f" (iteration {it})" if it is not None else "")
    try:
        from jvision.convert import load_checkpoint as load_official
    except ImportError as exc:  # pragma: no cover - the converter ships with the package
        raise ImportError(f"{path} is not a jvision checkpoint and jvision.convert is unavailable: {exc}") from exc
    load_official(target, path, strict=True, key=key)
    where = "" if target is model else f" into {type(target).__name__}"
    return f"{path} through jvision.convert{where}"


def format_table(metrics: dict, title: str) -> str:
    rows = [(str(k), f"{v:.4f}" if isinstance(v, float) else str(v)) for k, v in metrics.items()]
    w1 = max([len("metric")] + [len(r[0]) for r in rows])
    w2 = max([len("value")] + [len(r[1]) for r in rows])
    line = f"+{'-' * (w1 + 2)}+{'-' * (w2 + 2)}+"
    out = [title, line, f"| {'metric':<{w1}} | {'value':>{w2}} |", line]
    out += [f"| {k:<{w1}} | {v:>{w2}} |" for k, v in rows]
    out.append(line)
    return "\n".join(out)


def main(argv=None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("jseg") is not None:
        importlib.import_module("jseg")  # registers the segmentation toolbox
    from jvision.engine.dist import is_main_process
    from jvision.engine.trainer import build_val_loader, evaluate, import_custom

    cfg = Config.fromfile(args.config)
    cfg.merge_from_list(args.cfg_options)
    import_custom(cfg)
    split = args.split
    data = cfg.get("data") or {}
    if not data.get(split):
        raise KeyError(f"config {args.config} has no data.{split} section to evaluate")
    if not cfg.get("evaluation") or "metric" not in cfg.evaluation:
        raise KeyError(f"config {args.config} has no evaluation.metric")
    if args.data_root:
        cfg.data[split]["root"] = args.data_root
    if args.batch_size:
        cfg.data["val_batch_size"] = args.batch_size

    model = MODELS.build(cfg.model)
    ckpt_path = Path(args.checkpoint)
    loaded = load_weights(model, ckpt_path, official=args.official, key=args.key)
    loader = build_val_loader(cfg, split)
    metric = METRICS.build(cfg.evaluation["metric"])
    n = len(loader.dataset)
    if is_main_process():
        print(f"loaded {loaded}")
        print(f"evaluating {cfg.data[split].get('type')} ({n} samples, {cfg.data[split].get('root', '')}) "
              f"with {type(metric).__name__}")
    start = time.time()
    results = evaluate(model, loader, metric)
    seconds = time.time() - start

    if is_main_process():
        print(format_table(results, f"{cfg.name} | {ckpt_path.resolve().name} | {split} | {seconds:.1f} s, "
                                    f"{n / max(seconds, 1e-9):.1f} samples/s"))
        work_dir = Path(args.work_dir or cfg.get("work_dir") or Path("work_dirs") / cfg.name)
        out = Path(args.out) if args.out else work_dir / f"test_{ckpt_path.resolve().name.split('.')[0]}_{split}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        record = {"config": str(args.config), "checkpoint": str(ckpt_path.resolve()), "split": split,
                  "samples": n, "seconds": round(seconds, 3), "metrics": results}
        out.write_text(json.dumps(record, indent=1) + "\n")
        print(f"results written to {out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
