"""Registries and ``build(cfg)``: one place that turns config dicts into objects.

``MODELS`` is the one model registry of every task (segmentation, masked image modelling, video);
datasets, transforms, metrics and hooks have registries beside it.

    @MODELS.register()
    class MyNet(nn.Module): ...

    net = build(dict(type="MyNet", depth=3))          # MODELS is the default registry
    ds = build(dict(type="ADE20K", root="..."), DATASETS)

Errors name what is wrong: an unknown ``type`` lists the closest registered names, an unknown
argument shows the constructor's signature.
"""
from __future__ import annotations

import copy
import difflib
import importlib
import inspect
import os
from typing import Any, Callable, Iterable


class Registry:
    """A name -> class/function table with lazily imported search modules."""

    def __init__(self, name: str, search_modules: Iterable[str] = ()):
        self.name = name
        self._table: dict[str, Callable] = {}
        self._search_modules = list(search_modules)
        self._imported = False

    # -- registration -------------------------------------------------------------------------
    def register(self, name: str | None = None, obj: Callable | None = None, force: bool = False):
        """Register ``obj`` (or decorate it) under ``name`` (default: its ``__name__``)."""
        def _add(o):
            key = name or o.__name__
            if key in self._table and self._table[key] is not o and not force:
                raise KeyError(f"{self.name} registry: {key!r} is already registered "
                               f"by {self._table[key].__module__}")
            self._table[key] = o
            return o
        return _add(obj) if obj is not None else _add

    register_module = register  # the mmcv spelling

    def add_search_module(self, module: str) -> None:
        """A module imported on the first lookup miss (lets packages register lazily)."""
        if module not in self._search_modules:
            self._search_modules.append(module)
            self._imported = False

    # -- lookup -------------------------------------------------------------------------------
    def _import_search_modules(self) -> None:
        if self._imported:
            return
        self._imported = True
        for mod in self._search_modules:
            importlib.import_module(mod)

    def get(self, name: str) -> Callable:
        if name not in self._table:
            self._import_search_modules()
        if name not in self._table:
            close = difflib.get_close_matches(name, list(self._table), n=5, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise KeyError(f"{self.name} registry has no type {name!r}{hint} "
                           f"({len(self._table)} registered; see {self.name.upper()}.names())")
        return self._table[name]

    def __contains__(self, name: str) -> bool:
        if name not in self._table:
            self._import_search_modules()
        return name in self._table

    def names(self) -> list[str]:
        self._import_search_modules()
        return sorted(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        return f"Registry({self.name!r}, {len(self._table)} entries)"

    # -- building -----------------------------------------------------------------------------
    def check(self, cfg: dict | Any, **default_args) -> Callable:
        """What ``build`` checks before constructing: a dict with a registered ``type`` whose
        signature takes the other keys, with values of the simple types it annotates (``int``,
        ``float``, ``bool``, ``str``, optionally ``| None``). Returns the class or function."""
        if not isinstance(cfg, dict):
            raise TypeError(f"{self.name} config must be a dict with a 'type' key, got "
                            f"{type(cfg).__name__}: {cfg!r}")
        if "type" not in cfg:
            raise KeyError(f"{self.name} config has no 'type' key: {dict(cfg)!r}")
        typ = cfg["type"]
        obj = typ if callable(typ) else self.get(typ)
        args = {k: v for k, v in cfg.items() if k != "type"}
        for key, value in default_args.items():
            args.setdefault(key, value)
        check_arguments(obj, args, self.name)
        return obj

    def build(self, cfg: dict | Any, **default_args) -> Any:
        """Instantiate ``cfg['type']`` with the remaining keys (plus ``default_args``)."""
        obj = self.check(cfg, **default_args)
        args = {k: copy.deepcopy(v) for k, v in cfg.items() if k != "type"}
        for key, value in default_args.items():
            args.setdefault(key, value)
        try:
            return obj(**args)
        except TypeError as exc:
            raise TypeError(f"building {self.name} {_name(obj)!r}: {exc}") from exc


def _name(obj) -> str:
    return getattr(obj, "__name__", repr(obj))


def check_arguments(obj: Callable, args: dict, registry_name: str) -> None:
    """Raise ``TypeError`` unless ``obj(**args)`` fits ``obj``'s signature (names, required
    arguments, and the simple types it annotates); the message names the argument and the signature."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return
    params = sig.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())  # **kwargs: names not checked
    unknown = [] if takes_any else [k for k in args if k not in params]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, list(params), n=3, cutoff=0.6)
            hints.append(f"{key!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""))
        raise TypeError(f"{registry_name} {_name(obj)!r} got unknown argument(s) {', '.join(hints)}; "
                        f"signature: {_name(obj)}{sig}")
    missing = [n for n, p in params.items()
               if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
               and n not in args and n != "self"]
    if missing:
        raise TypeError(f"{registry_name} {_name(obj)!r} is missing required argument(s) "
                        f"{', '.join(map(repr, missing))}; signature: {_name(obj)}{sig}")
    for key, value in args.items():
        if key in params:
            expected = _simple_annotation(params[key].annotation)
            if expected is not None and not _fits(value, expected):
                names = " | ".join("None" if t is type(None) else t.__name__ for t in expected)
                raise TypeError(f"{registry_name} {_name(obj)!r}: argument {key}={value!r} should be {names}")


_SIMPLE_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "None": type(None)}


def _simple_annotation(annotation) -> tuple | None:
    """``(int,)``, ``(float, NoneType)``... for annotations made only of int/float/bool/str/None
    (``"int | None"``, ``Optional[int]``, ``int``); ``None`` (not checked) for anything else."""
    if annotation is inspect.Parameter.empty:
        return None
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    text = text.replace("typing.", "")
    optional = text.startswith("Optional[") and text.endswith("]")
    if optional:
        text = text[len("Optional["):-1]
    parts = [p.strip() for p in text.split("|")] + (["None"] if optional else [])
    if any(p not in _SIMPLE_TYPES for p in parts):
        return None
    return tuple(_SIMPLE_TYPES[p] for p in parts)


def _fits(value, types: tuple) -> bool:
    import numbers
    for t in types:
        if t is type(None) and value is None:
            return True
        if t is bool and isinstance(value, bool):
            return True
        if t is int and isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return True
        if t is float and isinstance(value, numbers.Real) and not isinstance(value, bool):
            return True
        if t is str and isinstance(value, (str, os.PathLike)):  # a path where a str is annotated is fine
            return True
    return False


MODELS = Registry("models", search_modules=["jvision.models"])
DATASETS = Registry("datasets", search_modules=["jvision.data"])
TRANSFORMS = Registry("transforms", search_modules=["jvision.data"])
METRICS = Registry("metrics", search_modules=["jvision.engine.metrics"])
HOOKS = Registry("hooks", search_modules=["jvision.engine.hooks"])


def build(cfg: dict, registry: Registry = MODELS, **default_args) -> Any:
    """Build an object from a config dict; ``registry`` defaults to ``MODELS``."""
    return registry.build(cfg, **default_args)
