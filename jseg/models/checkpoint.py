"""Loading weights into segmentors and backbones: our checkpoints, official mmseg/SegNeXt ``.pth``
files, JSeg ``.pkl`` files and ImageNet-pretrained MSCAN backbones.

Loading is strict: a missing or mis-shaped key is an error with a table of what differs (users of
the official code lost 20-30 mIoU to backbones that silently did not load, SegNeXt #36/#38).
Keys that are only bookkeeping (``num_batches_tracked``) are dropped; a classification ``head.*`` in
an ImageNet backbone checkpoint is reported and skipped.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np

import jittor as jt

__all__ = ["read_state_dict", "load_state_dict", "load_weights", "load_backbone_weights", "WeightsLoadError"]


class WeightsLoadError(ValueError):
    """A checkpoint does not fit the model; the message lists missing/unexpected/mis-shaped keys."""


_WRAPPERS = ("state_dict", "model", "state_dict_ema", "module")


def _to_numpy(v):
    if isinstance(v, jt.Var):
        return v.numpy()
    return np.asarray(v)


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``{key: array}`` from any supported checkpoint file (wrappers ``state_dict``/``model`` removed,
    ``module.`` prefixes stripped, ``num_batches_tracked`` dropped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    obj = None
    if path.suffix == ".pkl":
        try:
            from jvision.engine.checkpoint import load_checkpoint
            obj = load_checkpoint(path)
        except ValueError:
            obj = None
    if obj is None:
        from jvision.convert.torch_file import read_checkpoint_file
        obj = read_checkpoint_file(path)
    for _ in range(3):
        if isinstance(obj, dict) and not _looks_like_state_dict(obj):
            for key in _WRAPPERS:
                if key in obj and isinstance(obj[key], dict):
                    obj = obj[key]
                    break
            else:
                break
    if not isinstance(obj, dict) or not _looks_like_state_dict(obj):
        keys = list(obj)[:10] if isinstance(obj, dict) else type(obj).__name__
        raise WeightsLoadError(f"{path}: no state dict found (top-level keys: {keys})")
    out = {}
    for k, v in obj.items():
        if k.endswith("num_batches_tracked"):
            continue
        if k.startswith("module."):
            k = k[len("module."):]
        out[k] = _to_numpy(v)
    return out


def _looks_like_state_dict(d: dict) -> bool:
    return bool(d) and all(isinstance(k, str) for k in d) and any(
        hasattr(v, "shape") and not isinstance(v, dict) for v in d.values())


def _table(model_name: str, source: str, missing: list, unexpected: list, mismatched: list) -> str:
    lines = [f"cannot load {source} into {model_name}: {len(missing)} missing, {len(unexpected)} unexpected, "
             f"{len(mismatched)} mis-shaped key(s)"]
    lines += [f"  missing     {k}" for k in missing[:25]]
    if len(missing) > 25:
        lines.append(f"  ... and {len(missing) - 25} more missing")
    lines += [f"  unexpected  {k}" for k in unexpected[:25]]
    if len(unexpected) > 25:
        lines.append(f"  ... and {len(unexpected) - 25} more unexpected")
    lines += [f"  shape       {k}: checkpoint {a} vs model {b}" for k, a, b in mismatched[:25]]
    return "\n".join(lines)


def load_state_dict(model, state: dict, source: str = "state dict", ignore_prefixes: Iterable[str] = ()) -> list[str]:
    """Strictly copy ``state`` into ``model``; keys starting with ``ignore_prefixes`` are skipped
    (and returned). Raises ``WeightsLoadError`` listing every difference otherwise."""
    own = model.state_dict()
    ignore_prefixes = tuple(ignore_prefixes)
    skipped = [k for k in state if k not in own and ignore_prefixes and k.startswith(ignore_prefixes)]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own and k not in skipped]
    mismatched = [(k, tuple(np.shape(state[k])), tuple(own[k].shape)) for k in own
                  if k in state and tuple(np.shape(state[k])) != tuple(own[k].shape)]
    if missing or unexpected or mismatched:
        raise WeightsLoadError(_table(type(model).__name__, source, missing, unexpected, mismatched))
    for k, v in own.items():
        v.assign(jt.array(np.ascontiguousarray(state[k])).cast(v.dtype))
    return skipped


def load_weights(model, path: str | os.PathLike) -> None:
    """Load a whole-segmentor checkpoint (ours ``.pkl``, official/mmseg ``.pth``, JSeg ``.pkl``)."""
    state = read_state_dict(path)
    load_state_dict(model, state, source=str(path))


def load_backbone_weights(backbone, path: str | os.PathLike, prefix_options: tuple[str, ...] = ("backbone.", "")
                          ) -> list[str]:
    """Load a backbone checkpoint: an ImageNet MSCAN file (``head.*`` classifier skipped) or the
    backbone part of a segmentor file (``backbone.`` prefix). Returns the skipped keys."""
    state = read_state_dict(path)
    for prefix in prefix_options:
        if prefix and any(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            break
    return load_state_dict(backbone, state, source=str(path), ignore_prefixes=("head.",))
