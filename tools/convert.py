#!/usr/bin/env python3
"""Convert an official PyTorch checkpoint into weights this project loads, without PyTorch.

    python tools/convert.py SRC DST [--model NAME|CONFIG] [--key state_dict_ema] [--no-strict]

SRC: a .pth / .pth.tar / .pt / .bin file as users have them (zip or legacy torch.save; weights at
the top level or under state_dict / model / state_dict_ema; module. prefixes; fp16 or bf16), or a
Jittor .pkl, .npz or .safetensors file.
DST: .pkl (the project's checkpoint layout {"model": ..., "meta": ...}), .pth (a plain state dict
that torch.load also reads) or .npz.

With --model (a registered name such as van_b2, or a config file with a ``model`` dict) the keys are
matched against that model exactly as loading would: the prefix that fits (module., backbone.,
generator.) is stripped, BatchNorm num_batches_tracked entries are dropped, and a table of missing,
unexpected and shape-mismatched keys is printed; any of them stops the conversion unless --no-strict is given
(then only the matching tensors are written). Without --model the state dict is unwrapped, the
module. prefix of data-parallel training stripped, num_batches_tracked dropped and tensors made
float32, with no further checks.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jvision  # noqa: E402,F401  (configures Jittor before it is imported)
from jvision.cli import add_debug_flag, run_tool  # noqa: E402
from jvision.convert import read_state_dict, save_state_dict  # noqa: E402
from jvision.convert.state_dict import BATCH_COUNTER, match_state_dict, model_state_shapes  # noqa: E402


def build_model(spec: str, num_classes: int | None = None):
    """A registered model name, or a config file defining ``model = dict(type=...)``."""
    from jvision.registry import MODELS
    if spec.endswith(".py"):
        from jvision.config import Config
        cfg = Config.fromfile(spec).to_dict()
        if "model" not in cfg:
            raise KeyError(f"{spec}: the config defines no 'model'")
        from jvision.engine.trainer import model_config_for_checkpoint
        model_cfg = model_config_for_checkpoint(cfg["model"])  # only its keys matter: nothing to pre-load
    else:
        model_cfg = {"type": spec}
    if num_classes is not None:
        model_cfg["num_classes"] = num_classes
    return MODELS.build(model_cfg)


def resolve_function(dotted: str):
    module, _, name = dotted.rpartition(".")
    if not module:
        raise ValueError(f"--remap {dotted!r}: expected a dotted path such as jvision.models.vit.mae_encoder_state")
    return getattr(importlib.import_module(module), name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("src", help="checkpoint to read")
    parser.add_argument("dst", help="file to write (.pkl, .pth or .npz)")
    parser.add_argument("--model", help="registered model name or config file to check the keys against")
    parser.add_argument("--num-classes", type=int, help="override the model's num_classes")
    parser.add_argument("--key", help="nested entry holding the weights (default: state_dict, model, "
                                      "state_dict_ema, ..., or the file itself)")
    parser.add_argument("--prefix", default="auto",
                        help="prefix to strip: 'auto' (module./backbone./generator. when that fits), 'none', or "
                             "a string")
    parser.add_argument("--remap", help="dotted path of an official-to-ours key function, e.g. "
                                        "jvision.models.vit.mae_encoder_state")
    parser.add_argument("--no-strict", action="store_true", help="write the matching tensors despite problems")
    parser.add_argument("--ignore-missing", action="append", default=[], metavar="GLOB",
                        help="model keys that may be absent (e.g. 'head.*'); repeatable")
    parser.add_argument("--ignore-unexpected", action="append", default=[], metavar="GLOB",
                        help="checkpoint keys that may be left over; repeatable")
    add_debug_flag(parser)
    args = parser.parse_args(argv)

    state, where = read_state_dict(args.src, args.key)
    print(f"read {len(state)} tensors from {args.src}" + (f" (under {where!r})" if where != "<root>" else ""))
    prefix = None if args.prefix == "none" else args.prefix
    remap = resolve_function(args.remap) if args.remap else None
    meta = {"source": str(args.src), "found_in": where}

    if args.model:
        model = build_model(args.model, args.num_classes)
        report, matched = match_state_dict(
            state, model_state_shapes(model), prefix=prefix, remap=remap, ignore_missing=args.ignore_missing,
            ignore_unexpected=args.ignore_unexpected, strict=not args.no_strict, source=str(args.src),
            target=f"{type(model).__name__} ({args.model})")
        print(report.table())
        if not report.ok and not args.no_strict:
            print(f"error: {args.src} does not fit {args.model}; nothing written "
                  "(--no-strict writes the matching tensors)", file=sys.stderr)
            return 1
        out = matched
        meta.update(model=args.model, strict=not args.no_strict, missing=[k for k, _ in report.missing])
    else:
        if prefix == "auto":
            prefix = "module." if state and all(k.startswith("module.") for k in state) else None
        if prefix:
            state = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in state.items()}
        if remap is not None:
            state = remap(state)
        counters = [k for k in state if k.rsplit(".", 1)[-1] == BATCH_COUNTER]
        out = {k: v for k, v in state.items() if k not in counters}
        print(f"{len(out)} tensors" + (f"; prefix {prefix!r} stripped" if prefix else "")
              + (f"; {len(counters)} BatchNorm num_batches_tracked dropped (Jittor's BatchNorm has none)"
                 if counters else "") + "; not checked against a model (use --model)")
    path = save_state_dict(out, args.dst, meta=meta)
    print(f"wrote {len(out)} tensors to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main))
