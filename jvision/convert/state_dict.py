"""From a checkpoint file to a loaded model, loudly.

``load_checkpoint(model, path)`` reads the file without PyTorch, finds the state dict inside it
(``state_dict`` / ``model`` / ``state_dict_ema`` / the file itself), strips the ``module.`` prefix
of data-parallel training and, when the model is a backbone, the ``backbone.`` prefix of a
segmentor checkpoint, turns fp16/bf16/fp64 tensors into float32, drops the BatchNorm
``num_batches_tracked`` counters (Jittor's BatchNorm has none), and compares the result with the
model key by key. Every missing, unexpected or shape-mismatched key is printed in a table.
Strict loading (the default) then raises ``StateDictMismatchError`` and leaves the model untouched;
``strict=False`` loads every tensor that fits and still prints the table.

Jittor's own ``Module.load`` only logs such problems and carries on; this module never does.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .torch_file import CheckpointReadError, OpaqueObject, read_checkpoint_file

__all__ = ["StateDictMismatchError", "LoadReport", "unwrap_state_dict", "to_float32_state",
           "read_state_dict", "model_state_shapes", "load_state_dict", "load_checkpoint",
           "match_state_dict", "choose_prefix", "checkpoint_target", "CheckpointReadError", "NESTED_KEYS",
           "AUTO_PREFIXES"]

#: Where checkpoints nest their weights, in the order they are tried.
NESTED_KEYS = ("state_dict", "model", "state_dict_ema", "model_ema", "module", "net")
#: Prefixes ``prefix="auto"`` may strip: data parallel, segmentor -> backbone, and a GAN trainer's
#: checkpoint -> its generator (``VideoInpainter``).
AUTO_PREFIXES = ("module.", "backbone.", "module.backbone.", "generator.")
BATCH_COUNTER = "num_batches_tracked"


class StateDictMismatchError(RuntimeError):
    """Strict loading found missing, unexpected or shape-mismatched keys (all named in the message)."""

    def __init__(self, report: "LoadReport"):
        super().__init__(report.table())
        self.report = report


# ------------------------------------------------------------------------------------------------
# Finding and normalising the state dict
# ------------------------------------------------------------------------------------------------
def _is_tensor(v) -> bool:
    return isinstance(v, np.ndarray) or (hasattr(v, "numpy") and hasattr(v, "shape"))


def _looks_like_state_dict(obj) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(_is_tensor(v) for v in obj.values())


def unwrap_state_dict(obj: Any, key: str | None = None, source: str = "checkpoint") -> tuple[dict, str]:
    """The state dict inside a loaded checkpoint, and where it was found (``"state_dict"``, ...).

    ``key`` picks a nested entry explicitly (``"state_dict_ema"`` for timm's EMA weights); by default
    the first of ``NESTED_KEYS`` that holds a state dict is used, or the object itself.
    """
    if key is not None:
        if not isinstance(obj, Mapping) or key not in obj:
            have = sorted(obj) if isinstance(obj, Mapping) else type(obj).__name__
            raise KeyError(f"{source}: no entry {key!r}; it has {have}")
        inner, where = unwrap_state_dict(obj[key], None, source)
        return inner, key if where == "<root>" else f"{key}.{where}"
    if _looks_like_state_dict(obj):
        return dict(obj), "<root>"
    if isinstance(obj, Mapping):
        for name in NESTED_KEYS:
            value = obj.get(name)
            if isinstance(value, OpaqueObject):
                raise TypeError(f"{source}: entry {name!r} is a pickled {value!r} (neither imported nor run), not "
                                "a state dict; a whole pickled model must be re-saved as model.state_dict()")
            if isinstance(value, Mapping):
                try:
                    inner, where = unwrap_state_dict(value, None, source)
                except (KeyError, TypeError):
                    continue
                return inner, name if where == "<root>" else f"{name}.{where}"
        # A state dict with a few non-tensor entries (e.g. a stray integer counter).
        tensors = {k: v for k, v in obj.items() if _is_tensor(v)}
        if tensors and len(tensors) >= 0.9 * len(obj):
            return tensors, "<root>"
        described = {k: type(v).__name__ for k, v in list(obj.items())[:12]}
        raise KeyError(f"{source}: no state dict found; top-level entries: {described} "
                       f"(tried {list(NESTED_KEYS)}; pass key=... to pick one)")
    if isinstance(obj, OpaqueObject):
        raise TypeError(f"{source}: holds a pickled {obj!r} (neither imported nor run), not a state dict")
    raise TypeError(f"{source}: holds a {type(obj).__name__}, not a state dict")


def to_float32_state(state: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """NumPy arrays; floating tensors (fp16, bf16, fp64) as float32, integer tensors unchanged."""
    out = {}
    for k, v in state.items():
        a = np.asarray(v.numpy()) if not isinstance(v, np.ndarray) else v
        if np.issubdtype(a.dtype, np.floating) and a.dtype != np.float32:
            a = a.astype(np.float32)
        out[k] = a
    return out


def read_state_dict(path, key: str | None = None) -> tuple[dict[str, np.ndarray], str]:
    """Read ``path`` (no PyTorch needed) and return (state dict as float32 arrays, where found)."""
    state, where, _ = _read_state_and_meta(path, key)
    return state, where


def _read_state_and_meta(path, key: str | None = None) -> tuple[dict[str, np.ndarray], str, dict | None]:
    obj = read_checkpoint_file(path)
    state, where = unwrap_state_dict(obj, key, source=str(path))
    meta = obj.get("meta") if isinstance(obj, Mapping) and isinstance(obj.get("meta"), Mapping) else None
    return to_float32_state(state), where, meta


# ------------------------------------------------------------------------------------------------
# Matching against a model
# ------------------------------------------------------------------------------------------------
def model_state_shapes(model) -> dict[str, tuple]:
    """Key -> shape of a Jittor module's state (parameters and buffers)."""
    return {k: tuple(int(d) for d in v.shape) for k, v in model.state_dict().items()}


def _strip(state: dict, prefix: str) -> tuple[dict, list]:
    kept, outside = {}, []
    for k, v in state.items():
        if k.startswith(prefix):
            kept[k[len(prefix):]] = v
        else:
            outside.append(k)
    return kept, outside


def choose_prefix(state_keys: Iterable[str], model_keys: Iterable[str]) -> str:
    """The prefix among ``AUTO_PREFIXES`` (or none) under which most checkpoint keys are model keys."""
    state_keys, model_keys = list(state_keys), set(model_keys)
    best, best_hits = "", sum(k in model_keys for k in state_keys)
    for prefix in AUTO_PREFIXES:
        hits = sum(k[len(prefix):] in model_keys for k in state_keys if k.startswith(prefix))
        if hits > best_hits:
            best, best_hits = prefix, hits
    return best


def _shape(a) -> tuple:
    return tuple(int(d) for d in a.shape)


def _fmt(shape) -> str:
    return "-" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


@dataclass
class LoadReport:
    """What a load did: per-key problems and what was set aside, with a printable table."""

    source: str = "<state dict>"
    target: str = "model"
    found_in: str = "<root>"
    prefix: str = ""
    strict: bool = True
    loaded: list = field(default_factory=list)          # keys
    missing: list = field(default_factory=list)         # (key, model shape)
    unexpected: list = field(default_factory=list)      # (key, checkpoint shape)
    mismatched: list = field(default_factory=list)      # (key, checkpoint shape, model shape)
    ignored_counters: list = field(default_factory=list)  # num_batches_tracked keys
    outside_prefix: list = field(default_factory=list)  # keys not under the stripped prefix
    allowed_missing: list = field(default_factory=list)  # missing but matched an ignore pattern
    allowed_unexpected: list = field(default_factory=list)
    meta: dict | None = None                            # the file's "meta" entry (ours: iteration, config)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self) -> str:
        total = len(self.loaded) + len(self.missing) + len(self.mismatched) + len(self.allowed_missing)
        parts = [f"{len(self.loaded)}/{total} tensors of {self.target} loaded from {self.source}"]
        if self.found_in != "<root>":
            parts.append(f"state dict under {self.found_in!r}")
        if self.prefix:
            parts.append(f"prefix {self.prefix!r} stripped")
        if self.ignored_counters:
            parts.append(f"{len(self.ignored_counters)} BatchNorm num_batches_tracked ignored "
                         "(Jittor's BatchNorm keeps no batch counter)")
        if self.outside_prefix:
            heads = sorted({k.split(".")[0] + "." for k in self.outside_prefix})
            parts.append(f"{len(self.outside_prefix)} keys outside the prefix skipped ({', '.join(heads)})")
        if self.allowed_missing:
            parts.append(f"{len(self.allowed_missing)} missing keys allowed")
        if self.allowed_unexpected:
            parts.append(f"{len(self.allowed_unexpected)} unexpected keys allowed")
        return "; ".join(parts)

    def table(self) -> str:
        lines = [self.summary()]
        if self.ok:
            return lines[0]
        rows = ([("missing", k, None, s) for k, s in self.missing]
                + [("unexpected", k, s, None) for k, s in self.unexpected]
                + [("shape", k, c, m) for k, c, m in self.mismatched])
        width = max(len("key"), *(len(r[1]) for r in rows))
        lines.append(f"{len(self.missing)} missing, {len(self.unexpected)} unexpected, "
                     f"{len(self.mismatched)} shape-mismatched keys"
                     + (" (strict: nothing was loaded)" if self.strict else " (not strict: they were skipped)"))
        lines.append(f"  {'problem':<10s}  {'key':<{width}s}  {'checkpoint':<18s}  model")
        for kind, key, ckpt, model in rows:
            lines.append(f"  {kind:<10s}  {key:<{width}s}  {_fmt(ckpt):<18s}  {_fmt(model)}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"source": self.source, "target": self.target, "found_in": self.found_in,
                "prefix": self.prefix, "ok": self.ok, "loaded": len(self.loaded),
                "missing": [[k, list(s)] for k, s in self.missing],
                "unexpected": [[k, list(s)] for k, s in self.unexpected],
                "mismatched": [[k, list(c), list(m)] for k, c, m in self.mismatched],
                "ignored_num_batches_tracked": len(self.ignored_counters),
                "outside_prefix": len(self.outside_prefix)}


def _matches(key: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def match_state_dict(state: Mapping[str, Any], model_shapes: Mapping[str, tuple], prefix: str | None = "auto",
                     remap: Callable[[dict], dict] | None = None, ignore_missing: Iterable[str] = (),
                     ignore_unexpected: Iterable[str] = (), strict: bool = True,
                     source: str = "<state dict>", target: str = "model") -> tuple[LoadReport, dict]:
    """Compare a checkpoint state with a model's key -> shape table (no model needed).

    Returns the report and the (prefix-stripped, remapped) state that matches.
    """
    report = LoadReport(source=source, target=target, strict=strict)
    state = dict(state)
    if prefix == "auto":
        prefix = choose_prefix(state, model_shapes)
    if prefix:
        state, report.outside_prefix = _strip(state, prefix)
        report.prefix = prefix
    if remap is not None:
        state = remap(state)
    for key in [k for k in state if k.rsplit(".", 1)[-1] == BATCH_COUNTER and k not in model_shapes]:
        report.ignored_counters.append(key)
        del state[key]
    ignore_missing, ignore_unexpected = tuple(ignore_missing), tuple(ignore_unexpected)
    matched = {}
    for key, shape in model_shapes.items():
        if key not in state:
            (report.allowed_missing if _matches(key, ignore_missing) else report.missing).append((key, shape))
            continue
        ckpt_shape = _shape(state[key])
        if ckpt_shape != tuple(shape):
            report.mismatched.append((key, ckpt_shape, tuple(shape)))
            continue
        matched[key] = state[key]
        report.loaded.append(key)
    for key, value in state.items():
        if key not in model_shapes:
            target_list = report.allowed_unexpected if _matches(key, ignore_unexpected) else report.unexpected
            target_list.append((key, _shape(value)))
    return report, matched


def load_state_dict(model, state: Mapping[str, Any], strict: bool = True, prefix: str | None = "auto",
                    remap: Callable[[dict], dict] | None = None, ignore_missing: Iterable[str] = (),
                    ignore_unexpected: Iterable[str] = (), source: str = "<state dict>",
                    found_in: str = "<root>", log: Callable[[str], Any] | None = print) -> LoadReport:
    """Copy ``state`` into a Jittor module, checking every key and shape.

    Args:
        strict: raise ``StateDictMismatchError`` on any missing, unexpected or mismatched key,
            before changing the model. ``False``: load what fits, report the rest.
        prefix: ``"auto"`` strips ``module.`` / ``backbone.`` when that makes the keys fit; a string
            strips exactly that prefix (keys without it are skipped and counted); ``None``: nothing.
        remap: official-to-ours key function, applied after the prefix is stripped.
        ignore_missing / ignore_unexpected: glob patterns of keys that may be absent / left over
            (e.g. ``("head.*",)`` when fine-tuning with a new classifier).
        log: where the table goes (``print`` by default; ``None`` for silence).
    """
    import jittor as jt

    variables = model.state_dict()
    shapes = {k: tuple(int(d) for d in v.shape) for k, v in variables.items()}
    state = to_float32_state(state)
    report, matched = match_state_dict(state, shapes, prefix, remap, ignore_missing, ignore_unexpected,
                                       strict, source, type(model).__name__)
    report.found_in = found_in
    if log is not None:
        log(report.table())
    if strict and not report.ok:
        raise StateDictMismatchError(report)
    for key, value in matched.items():
        var = variables[key]
        var.update(jt.array(value.astype(str(var.dtype), copy=False)))
    if matched:
        jt.sync([variables[k] for k in matched])
    return report


def checkpoint_target(model, state_keys: Iterable[str], prefix: str | None = "auto"):
    """The module a checkpoint describes: ``model``, or ``model.official_checkpoint_module()`` (e.g. a
    classifier's backbone, whose official keys carry no ``backbone.`` prefix) when more of the
    checkpoint's keys fit that module than the whole model. Ties go to the whole model."""
    if not hasattr(model, "official_checkpoint_module"):
        return model
    sub = model.official_checkpoint_module()
    if sub is model:
        return model
    state_keys = list(state_keys)

    def hits(module) -> int:
        keys = set(module.state_dict())
        strip = choose_prefix(state_keys, keys) if prefix == "auto" else (prefix or "")
        return sum(k[len(strip):] in keys for k in state_keys if k.startswith(strip))

    return sub if hits(sub) > hits(model) else model


def load_checkpoint(model, path, strict: bool = True, key: str | None = None, prefix: str | None = "auto",
                    remap: Callable[[dict], dict] | None = None, ignore_missing: Iterable[str] = (),
                    ignore_unexpected: Iterable[str] = (), log: Callable[[str], Any] | None = print) -> LoadReport:
    """Read ``path`` (ours: ``iter_*.pkl`` / ``latest.pkl``; official ``.pth``, ``.pth.tar``, ``.pt``,
    ``.bin``; Jittor ``.pkl``, ``.npz``, ``.safetensors``; no PyTorch needed, no code in the file
    run) and load its weights into ``model`` with ``load_state_dict``: THE way every tool and model
    loads weights (``tools/test.py``, ``tools/infer.py``, a segmentor's ``pretrained``).

    ``key`` selects a nested entry (e.g. ``"state_dict_ema"``); by default ``state_dict``, ``model``
    or ``state_dict_ema`` is found automatically. When the model defines
    ``official_checkpoint_module()`` and the file fits that part better (an official classification
    checkpoint for our classifier), the weights go there (``checkpoint_target``). The returned
    report carries the file's ``meta`` (our checkpoints: ``iter``, ``config``). Raises
    ``CheckpointReadError`` for unreadable, truncated or foreign files and ``StateDictMismatchError``
    for strict mismatches.
    """
    state, where, meta = _read_state_and_meta(path, key)
    target = checkpoint_target(model, state, prefix)
    report = load_state_dict(target, state, strict, prefix, remap, ignore_missing, ignore_unexpected,
                             source=str(path), found_in=where, log=log)
    report.meta = dict(meta) if meta is not None else None
    return report
