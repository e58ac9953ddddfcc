#!/usr/bin/env python3
"""Parameters and multiply-accumulates (MACs) of a model, per stage and in total.

    python tools/analyze.py NAME|CONFIG [--shape 3 224 224] [--json PATH]

NAME is a registered model (van_b0, mscan_t, segnext_t, conv2former_n, mae_vit_base_patch16, ...);
CONFIG a config file defining ``model = dict(type=...)``. One image of --shape goes through the model
once, lazily: Jittor builds the graph and knows every shape without computing anything, so even the
largest variants are analysed in seconds and without their activations in memory.

What is counted: every convolution and linear layer (output elements x input channels per group x
kernel area) and every matrix product outside them (attention, NMF), i.e. the multiply-accumulates
of the model's arithmetic core, as the papers' "FLOPs" (really MACs, counted with torchprofile or
fvcore) are. Element-wise operations, norms and activations are not counted. FLOPs ~ 2 x MACs.
A convolution inside an attention module that a fused kernel runs without calling the sub-module
is counted at its parent's input resolution (the inner convolutions of LKA, MSCA and ConvMod all
keep the resolution).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jvision  # noqa: E402,F401  (configures Jittor before it is imported)
import jittor as jt  # noqa: E402

from jvision.ops import dense as _ops_dense, matmul as _ops_matmul  # noqa: E402
from jvision.ops import conv as _ops_conv, sdpa as _ops_sdpa  # noqa: E402
from jvision.registry import MODELS  # noqa: E402


def _import_optional_packages() -> None:
    """Packages that register more models (the segmentation toolbox), when installed."""
    try:
        import jseg  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "jseg":
            raise


def build_model(spec: str):
    """A registered name, or a config file with a ``model`` dict."""
    _import_optional_packages()
    if spec.endswith(".py"):
        from jvision.config import Config
        cfg = Config.fromfile(spec).to_dict()
        if "model" not in cfg:
            raise KeyError(f"{spec}: the config defines no 'model'")
        return MODELS.build(dict(cfg["model"])), Path(spec).stem
    return MODELS.build({"type": spec}), spec


# ------------------------------------------------------------------------------------------------
# Stage groups
# ------------------------------------------------------------------------------------------------
def stage_groups(model, prefix: str = "") -> dict[str, list[str]]:
    """Group name -> name prefixes. Uses ``stage_modules()`` where a model defines it (also on
    sub-modules such as a segmentor's backbone), else the top-level children."""
    if hasattr(model, "stage_modules"):
        return {f"{prefix}{g}": [f"{prefix}{p}" for p in ps] for g, ps in model.stage_modules().items()}
    groups: dict[str, list[str]] = {}
    for name, child in model.named_children():
        if hasattr(child, "stage_modules"):
            groups.update(stage_groups(child, f"{prefix}{name}."))
        else:
            groups[f"{prefix}{name}"] = [f"{prefix}{name}"]
    return groups


def group_of(name: str, groups: dict[str, list[str]]) -> str:
    best, best_len = "other", -1
    for group, prefixes in groups.items():
        for p in prefixes:
            if (name == p or name.startswith(p + ".")) and len(p) > best_len:
                best, best_len = group, len(p)
    return best


# ------------------------------------------------------------------------------------------------
# Counting
# ------------------------------------------------------------------------------------------------
def _numel(shape) -> int:
    return int(math.prod(int(d) for d in shape))


def _weight_macs(module, output) -> int | None:
    """MACs of a conv / linear module from its output: out elements x prod(weight.shape[1:])."""
    weight = getattr(module, "weight", None)
    if not isinstance(weight, jt.Var) or weight.ndim < 2 or not isinstance(output, jt.Var):
        return None
    if "Transpose" in type(module).__name__:  # ConvTranspose: per input element instead
        return None
    return _numel(output.shape) * _numel(weight.shape[1:])


class MacCounter:
    """Forward hooks on every module plus a patched matmul, for one lazy forward pass."""

    MATMULS = [(jt, "matmul"), (jt.nn, "matmul"), (jt.nn, "bmm"), (jt, "bmm"), (jt.Var, "matmul"),
               (jt.Var, "__matmul__"), (jt.nn, "matmul_transpose"), (jt.nn, "bmm_transpose")]

    def __init__(self, model):
        self.model = model
        self.names = {id(m): n for n, m in model.named_modules()}
        self.stack: list = []            # modules being executed, innermost last
        self.weighted_depth = 0          # > 0 inside a conv / linear module
        self.macs: dict[str, int] = {}   # module name -> MACs
        self.fired: set = set()
        self.inputs: dict[int, tuple] = {}
        self.used_vars: set = set()      # ids of the Vars our fused product ops were given
        self._saved = []

    # hooks ---------------------------------------------------------------------------------
    def _pre(self, module, args, kwargs=None):
        self.stack.append(module)
        self.fired.add(id(module))
        if args and isinstance(args[0], jt.Var):
            self.inputs.setdefault(id(module), tuple(args[0].shape))
        if _has_weight_matrix(module):
            self.weighted_depth += 1
        return None

    def _post(self, module, args, output, kwargs=None):
        if self.stack and self.stack[-1] is module:
            self.stack.pop()
        if _has_weight_matrix(module):
            self.weighted_depth -= 1
            macs = _weight_macs(module, output)
            if macs:
                name = self.names.get(id(module), "?")
                self.macs[name] = self.macs.get(name, 0) + macs
        return None

    def _count_matmul(self, original):
        counter = self

        def wrapped(a, b, *rest, **kw):
            out = original(a, b, *rest, **kw)
            if counter.weighted_depth == 0 and isinstance(out, jt.Var) and isinstance(a, jt.Var):
                inner = int(a.shape[-1])  # a @ b and a @ b^T both sum over a's last axis
                name = counter.names.get(id(counter.stack[-1]), "?") if counter.stack else ""
                counter.macs[name] = counter.macs.get(name, 0) + _numel(out.shape) * inner
            return out
        wrapped.__name__ = getattr(original, "__name__", "matmul")
        return wrapped

    # Our own product ops, imported by name into the modules that use them, and their MACs.
    OWN_PRODUCTS = [
        (_ops_matmul, "batched_matmul",            # op(a) @ op(b): out elements x inner size
         lambda out, a, b, trans_a=False, trans_b=False, **kw:
             _numel(out.shape) * int(a.shape[1] if trans_a else a.shape[2])),
        (_ops_sdpa, "scaled_dot_product_attention",  # q k^T and p v: 2 x B x N x M x D
         lambda out, q, k, v, *rest, **kw: 2 * _numel(q.shape) * int(k.shape[1])),
        (_ops_sdpa, "packed_self_attention",         # the same with M = N, out [S, N, heads x D]
         lambda out, qkv, *rest, **kw: 2 * _numel(out.shape) * int(qkv.shape[1])),
        # A layer's own execute is counted by its module hook (weighted_depth > 0 there); these
        # count the fused calls that bypass it (linear_gelu, conv_gelu).
        (_ops_dense, "linear", lambda out, x, weight, *rest, **kw: _numel(out.shape) * int(weight.shape[1])),
        (_ops_conv, "pointwise_conv2d",
         lambda out, x, weight, *rest, **kw: _numel(out.shape) * int(weight.shape[1])),
    ]

    def _count_own_product(self, original, macs_of):
        """One of :data:`OWN_PRODUCTS`; the Jittor matmuls a reference path falls back on are not
        counted again."""
        counter = self

        def wrapped(*args, **kw):
            counter.weighted_depth += 1       # silences the patched jt matmuls underneath
            try:
                out = original(*args, **kw)
            finally:
                counter.weighted_depth -= 1
            if counter.weighted_depth == 0:
                name = counter.names.get(id(counter.stack[-1]), "?") if counter.stack else ""
                counter.macs[name] = counter.macs.get(name, 0) + macs_of(out, *args, **kw)
                counter.used_vars.update(id(a) for a in args if isinstance(a, jt.Var))
            return out
        wrapped.__name__ = original.__name__
        return wrapped

    def __enter__(self):
        for _, module in self.model.named_modules():
            module.register_pre_forward_hook(self._pre)
            module.register_forward_hook(self._post)
        for owner, attr in self.MATMULS:
            if hasattr(owner, attr):
                original = getattr(owner, attr)
                self._saved.append((owner, attr, original))
                setattr(owner, attr, self._count_matmul(original))
        for owner, attr, macs_of in self.OWN_PRODUCTS:
            original = getattr(owner, attr)
            wrapped = self._count_own_product(original, macs_of)
            for module in list(sys.modules.values()):
                if getattr(module, attr, None) is original:
                    self._saved.append((module, attr, original))
                    setattr(module, attr, wrapped)
        return self

    def __exit__(self, *exc):
        for owner, attr, original in reversed(self._saved):
            setattr(owner, attr, original)
        for _, module in self.model.named_modules():
            module.remove_pre_forward_hook()
            module.remove_forward_hook()
        return False

    def unfired_weight_modules(self) -> dict[str, int]:
        """Conv / linear modules a fused parent ran without calling them, counted at the parent's
        input resolution (valid for the resolution-keeping convolutions inside attention modules)."""
        extra = {}
        for name, module in self.model.named_modules():
            if not name or not isinstance(getattr(module, "weight", None), jt.Var):
                continue
            if id(module) in self.fired or getattr(module, "weight").ndim != 4:
                continue
            if id(module.weight) in self.used_vars:     # counted by a fused call (conv_gelu)
                continue
            parent_name = name.rsplit(".", 1)[0] if "." in name else ""
            parent = dict(self.model.named_modules()).get(parent_name)
            shape = self.inputs.get(id(parent)) if parent is not None else None
            if shape is None or len(shape) != 4:
                continue
            w = module.weight.shape
            extra[name] = shape[0] * int(w[0]) * shape[2] * shape[3] * _numel(w[1:])
        return extra


def _has_weight_matrix(module) -> bool:
    w = getattr(module, "weight", None)
    return isinstance(w, jt.Var) and w.ndim >= 2


def analyze(model, shape, name: str = "model") -> dict:
    """Parameters and MACs per stage group for one input of ``shape`` (C, H, W)."""
    model.eval()
    groups = stage_groups(model)
    params: dict[str, int] = {}
    buffers = 0
    for key, var in model.state_dict().items():
        n = _numel(var.shape)
        if key.rsplit(".", 1)[-1] in ("running_mean", "running_var"):
            buffers += n
            continue
        g = group_of(key, groups)
        params[g] = params.get(g, 0) + n
    x = jt.randn((1,) + tuple(shape))
    with MacCounter(model) as counter, jt.no_grad():
        model(x)
    macs_by_module = dict(counter.macs)
    fused = counter.unfired_weight_modules()
    macs_by_module.update(fused)
    macs: dict[str, int] = {}
    for module_name, m in macs_by_module.items():
        g = group_of(module_name, groups)
        macs[g] = macs.get(g, 0) + m
    order = list(groups) + [g for g in sorted(set(params) | set(macs)) if g not in groups]
    rows = [{"stage": g, "params": params.get(g, 0), "macs": macs.get(g, 0)} for g in order
            if params.get(g, 0) or macs.get(g, 0)]
    result = {"model": name, "class": type(model).__name__, "input": [1, *shape], "stages": rows,
              "params": sum(params.values()), "macs": sum(macs.values()), "buffers": buffers,
              "fused_modules_estimated": sorted(fused)}
    cfg = getattr(model, "default_cfg", None) or {}
    published = {k: cfg[k] for k in ("params_m", "macs_g", "segnext_macs_g") if k in cfg}
    if published:
        result["published"] = published
    jt.clean_graph()
    return result


def format_result(r: dict) -> str:
    lines = [f"{r['model']} ({r['class']}), input {'x'.join(map(str, r['input']))}",
             f"  {'stage':<28s} {'params (M)':>12s} {'MACs (G)':>12s}"]
    for row in r["stages"]:
        lines.append(f"  {row['stage']:<28s} {row['params'] / 1e6:>12.3f} {row['macs'] / 1e9:>12.3f}")
    lines.append(f"  {'total':<28s} {r['params'] / 1e6:>12.3f} {r['macs'] / 1e9:>12.3f}"
                 f"   (FLOPs ~ {2 * r['macs'] / 1e9:.2f} G; BatchNorm buffers {r['buffers']:,d})")
    labels = {"params_m": "params {} M", "macs_g": "MACs {} G",
              "segnext_macs_g": "SegNeXt (this backbone + LightHamHead) MACs {} G"}
    if r.get("published"):
        lines.append("  published: " + ", ".join(labels[k].format(v) for k, v in r["published"].items()))
    if r["fused_modules_estimated"]:
        lines.append(f"  ({len(r['fused_modules_estimated'])} convolutions inside fused modules counted "
                     "at their parent's resolution)")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("model", metavar="NAME|CONFIG", help="registered model name or config file")
    parser.add_argument("--shape", type=int, nargs="+", default=None, metavar="N",
                        help="input C H W (default: the model's default_cfg input_size, else 3 224 224)")
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON here")
    args = parser.parse_args(argv)
    model, name = build_model(args.model)
    shape = args.shape or list((getattr(model, "default_cfg", None) or {}).get("input_size", (3, 224, 224)))
    if len(shape) == 2:
        shape = [3, *shape]
    if len(shape) != 3:
        parser.error(f"--shape takes C H W (or H W), got {shape}")
    result = analyze(model, tuple(shape), name)
    print(format_result(result))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
