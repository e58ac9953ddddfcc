"""Python config files with ``_base_`` inheritance and typed command-line overrides.

A config is a Python file whose public top-level names are the config keys::

    _base_ = ["../_base_/models/segnext_t.py", "../_base_/schedules/poly_160k.py"]
    model = dict(decode_head=dict(num_classes=19))       # merged into the base's ``model``
    optimizer = dict(_delete_=True, type="SGD", lr=0.01)  # replaces the base's ``optimizer``

Rules (as in mmcv, the convention users know):
* ``_base_`` is a path or a list of paths relative to the file; bases are merged left to right,
  then the file itself is merged on top. Two bases defining the same top-level key is an error.
* dicts merge recursively; any other value (lists included) replaces. ``_delete_=True`` inside a
  dict replaces the base's dict instead of merging into it.
* ``--cfg-options a.b.c=value`` overrides: values are Python literals (``1``, ``1e-3``, ``[1,2]``,
  ``(512,512)``, ``None``, ``True``), anything else is a string. A top-level key that does not exist
  is an error naming the closest keys (prefix it with ``+`` to add one on purpose); new keys inside a
  section are allowed, since constructors and section checks reject unknown arguments by name.

Validation (``Config.validate()``, called by every tool before it builds anything): each top-level
section has a registered schema (``register_section``); an unknown top-level key, an unknown key
inside a section, or a value of the wrong type or range raises ``ConfigError`` with one line naming
the key, the value and what is expected. Names starting with ``_`` are private helpers of the file
and are not checked. The engine registers ``model``, ``data``, ``optimizer``, ``schedule``, ``train``,
``evaluation``, ``custom_hooks``, ``custom_imports`` and ``work_dir``; a task adds its own section
the same way, in the module the config's ``custom_imports`` (or the task's trainer) imports::

    from jvision.config import Field, Schema, register_section
    register_section("mim", Schema({
        "mask_ratio": Field(float, default=0.75, min=0.0, max=1.0, doc="fraction of patches masked"),
        "target": Field(str, default="pixel", choices=("pixel", "norm_pix", "hog")),
        "subset": Schema({"fraction": Field(float, min=0.0, max=1.0)}),
    }, doc="masked image modelling"))

A ``Config`` is an immutable-by-convention value: ``Config.fromfile`` returns a fresh object each
time and nothing in the package holds a global config.
"""
from __future__ import annotations

import ast
import copy
import difflib
import os
import pprint
import types
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

BASE_KEY = "_base_"
DELETE_KEY = "_delete_"


class ConfigDict(dict):
    """A dict whose keys are also attributes; a missing attribute names the key and the options."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            close = difflib.get_close_matches(name, [str(k) for k in self], n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise AttributeError(f"config has no key {name!r}{hint}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __deepcopy__(self, memo):
        return ConfigDict({k: copy.deepcopy(v, memo) for k, v in self.items()})

    def to_dict(self) -> dict:
        return _plain(self)


def _wrap(value: Any) -> Any:
    if isinstance(value, dict) and not isinstance(value, ConfigDict):
        return ConfigDict({k: _wrap(v) for k, v in value.items()})
    if isinstance(value, ConfigDict):
        return ConfigDict({k: _wrap(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def merge(base: dict, child: dict) -> dict:
    """Recursive merge of ``child`` into a copy of ``base`` (``_delete_`` replaces)."""
    out = copy.deepcopy(base)
    for key, value in child.items():
        if isinstance(value, dict):
            value = dict(value)
            delete = value.pop(DELETE_KEY, False)
            if not delete and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = merge({}, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _strip_delete(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_delete(v) for k, v in value.items() if k != DELETE_KEY}
    if isinstance(value, list):
        return [_strip_delete(v) for v in value]
    return value


def _exec_file(path: Path) -> dict:
    if path.suffix != ".py":
        raise ValueError(f"config {path}: only Python config files (.py) are supported")
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    source = path.read_text()
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise SyntaxError(f"config {path} line {exc.lineno}: {exc.msg}") from exc
    namespace: dict = {"__file__": str(path), "__name__": "__jvision_config__"}
    exec(code, namespace)  # noqa: S102  (config files are code, as in mmcv)
    return {k: v for k, v in namespace.items()
            if not k.startswith("__") and not isinstance(v, (types.ModuleType, types.FunctionType, type))}


def _load(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    path = path.resolve()
    if path in chain:
        raise ValueError("circular _base_ inheritance: " + " -> ".join(str(p) for p in chain + (path,)))
    raw = _exec_file(path)
    bases = raw.pop(BASE_KEY, [])
    if isinstance(bases, (str, os.PathLike)):
        bases = [bases]
    merged: dict = {}
    owner: dict[str, Path] = {}
    for base in bases:
        base_path = (path.parent / base).resolve()
        base_cfg = _load(base_path, chain + (path,))
        for key in base_cfg:
            if key in owner:
                raise KeyError(f"config {path}: key {key!r} is defined by two bases, "
                               f"{owner[key]} and {base_path}")
            owner[key] = base_path
        merged.update(base_cfg)
    return merge(merged, raw)


def parse_value(text: str) -> Any:
    """A command-line value: a Python literal if it parses as one, else the string itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered in ("none", "null"):
            return None
        return text


# ------------------------------------------------------------------------------------------------
# Validation: one schema per top-level section
# ------------------------------------------------------------------------------------------------
class ConfigError(ValueError):
    """A config key or value is wrong; the message is one line naming the key, the value and what
    is expected (tools print it without a traceback)."""


_MISSING = object()
_KIND_NAMES = {int: "an integer", float: "a number", bool: "True or False", str: "a string", dict: "a dict",
               list: "a list", tuple: "a tuple"}


def _is_kind(value: Any, kind) -> bool:
    if kind is None or kind == "any":
        return True
    if isinstance(kind, tuple):
        return any(_is_kind(value, k) for k in kind)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool) or _is_numpy(value, "iu")
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) or _is_numpy(value, "iuf")
    if kind is list:
        return isinstance(value, (list, tuple))
    return isinstance(value, kind)


def _is_numpy(value: Any, kinds: str) -> bool:
    dtype = getattr(value, "dtype", None)
    return dtype is not None and getattr(value, "ndim", 1) == 0 and dtype.kind in kinds


class Field:
    """One config value: its type (``int``, ``float`` (ints accepted), ``bool``, ``str``, ``dict``,
    ``list`` (lists and tuples), a tuple of these, or ``"any"``), whether it is required, its range
    (``min``/``max`` inclusive, ``greater`` exclusive), allowed ``choices``, the ``items`` of a list and
    its ``length``, and for a dict with a ``type`` key the ``registry`` that builds it. ``None`` is
    accepted when the default is ``None`` or ``nullable=True``. ``check(value)`` returns a problem
    (or None) for rules beyond these; ``expect`` replaces the generated description in messages."""

    def __init__(self, kind: Any = "any", *, required: bool = False, default: Any = _MISSING,
                 min: float | None = None, max: float | None = None, greater: float | None = None,
                 choices: Iterable | None = None, items: "Field | None" = None, length: int | None = None,
                 registry: Any = None, nullable: bool | None = None, check: Callable[[Any], str | None] | None = None,
                 expect: str | None = None, doc: str = ""):
        self.kind, self.required, self.default = kind, required, default
        self.min, self.max, self.greater = min, max, greater
        self.choices = tuple(choices) if choices is not None else None
        self.items, self.length, self.registry = items, length, registry
        self.nullable = (default is None) if nullable is None else nullable
        self.check, self.expect, self.doc = check, expect, doc

    def expected(self) -> str:
        if self.expect is not None:
            return self.expect
        if self.choices is not None:
            text = "one of " + ", ".join(map(repr, self.choices))
        elif isinstance(self.kind, tuple):
            text = " or ".join(_KIND_NAMES.get(k, getattr(k, "__name__", str(k))) for k in self.kind)
        elif self.registry is not None:
            text = f"a dict with a 'type' registered in {self.registry.name.upper()}"
        else:
            text = _KIND_NAMES.get(self.kind, "any value")
        if self.kind is list or self.items is not None:
            count = f"{self.length} " if self.length else ""
            each = f" ({self.items.expected()} each)" if self.items is not None else ""
            text = f"a list of {count}items{each}"
        bounds = []
        if self.greater is not None:
            bounds.append(f"> {self.greater:g}")
        if self.min is not None:
            bounds.append(f">= {self.min:g}")
        if self.max is not None:
            bounds.append(f"<= {self.max:g}")
        if bounds:
            text += " " + " and ".join(bounds)
        if self.nullable:
            text += " (or None)"
        return text

    def validate(self, value: Any, path: str) -> None:
        if value is None and self.nullable:
            return
        if value is None or not _is_kind(value, self.kind if self.items is None else list):
            raise ConfigError(f"{path} = {value!r}: expected {self.expected()}")
        if self.choices is not None and value not in self.choices:
            close = difflib.get_close_matches(str(value), [str(c) for c in self.choices], n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{path} = {value!r}: expected {self.expected()}{hint}")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not (value == value):
            raise ConfigError(f"{path} = {value!r}: expected {self.expected()}")
        for bound, ok in ((self.min, lambda v, b: v >= b), (self.max, lambda v, b: v <= b),
                          (self.greater, lambda v, b: v > b)):
            if bound is not None and isinstance(value, (int, float)) and not ok(value, bound):
                raise ConfigError(f"{path} = {value!r}: expected {self.expected()}")
        if self.items is not None or self.length is not None:
            if self.length is not None and len(value) != self.length:
                raise ConfigError(f"{path} = {value!r}: expected {self.expected()}")
            if self.items is not None:
                for i, item in enumerate(value):
                    self.items.validate(item, f"{path}.{i}")
        if self.registry is not None and isinstance(value, dict):
            check_buildable(value, self.registry, path)
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise ConfigError(f"{path} = {value!r}: {problem}")


class Schema:
    """The keys of one config section (``fields``: name -> ``Field`` or nested ``Schema``).

    ``open=True`` accepts keys the schema does not list (for sections validated elsewhere);
    ``check(section, path)`` runs after the keys, for rules that involve several of them.
    """

    def __init__(self, fields: Mapping[str, "Field | Schema"] | None = None, *, open: bool = False,
                 required: bool = False, doc: str = "",
                 check: Callable[[dict, str], None] | None = None):
        self.fields, self.open, self.required, self.doc, self.check = dict(fields or {}), open, required, doc, check

    def validate(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise ConfigError(f"{path} = {value!r}: expected a dict" + (f" ({self.doc})" if self.doc else ""))
        if not self.open:
            for key in value:
                if key not in self.fields:
                    close = difflib.get_close_matches(str(key), list(self.fields), n=1, cutoff=0.5)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise ConfigError(f"unknown key {path}.{key} = {value[key]!r}{hint}; {path} takes "
                                      f"{', '.join(sorted(self.fields))}")
        for key, spec in self.fields.items():
            where = f"{path}.{key}"
            if key not in value:
                if spec.required:
                    raise ConfigError(f"{where} is required" + (f": {spec.doc}" if spec.doc else ""))
                continue
            spec.validate(value[key], where)
        if self.check is not None:
            self.check(value, path)


def check_buildable(cfg: dict, registry, path: str) -> None:
    """Raise ``ConfigError`` (naming ``path``) unless ``registry`` can build ``cfg``: a known ``type``
    and arguments that fit its signature (names, and the simple types it annotates). Arguments that
    are themselves configs of the same registry (a segmentor's ``decode_head``) are checked too."""
    try:
        obj = registry.check(cfg)
        # A variant preset (``segnext_t``) only fills in the config of another type: check that one.
        expand = getattr(obj, "expand_config", None)
        expanded = expand(**{k: v for k, v in cfg.items() if k != "type"}) if expand is not None else None
    except (KeyError, TypeError, ValueError) as exc:
        message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        raise ConfigError(f"{path}: {message}") from None
    if expanded is not None:
        check_buildable(expanded, registry, path)
        return
    for key, value in cfg.items():
        items = list(enumerate(value)) if isinstance(value, (list, tuple)) else [(None, value)]
        for i, item in items:
            if isinstance(item, dict) and isinstance(item.get("type"), str) and item["type"] in registry:
                check_buildable(item, registry, f"{path}.{key}" + ("" if i is None else f".{i}"))


#: Top-level section name -> ``Schema`` (or ``Field``); see ``register_section``.
SECTIONS: dict[str, "Schema | Field"] = {}
#: Modules imported before validating, so that the sections they register are known.
SECTION_MODULES = ["jvision.engine"]


def register_section(name: str, schema: "Schema | Field", replace: bool = False) -> None:
    """Declare a top-level config section, so ``Config.validate`` checks it (module docstring)."""
    if name in SECTIONS and SECTIONS[name] is not schema and not replace:
        raise KeyError(f"config section {name!r} is already registered")
    SECTIONS[name] = schema


def validate_config(data: Mapping[str, Any], filename: str | None = None) -> None:
    """Check every top-level key of ``data`` against its registered section (``ConfigError``)."""
    import importlib
    for module in SECTION_MODULES:
        importlib.import_module(module)
    where = f"config {filename}: " if filename else "config: "
    try:
        for key, value in data.items():
            if str(key).startswith("_"):
                continue  # the file's private helpers (``_mean = ...``)
            if key not in SECTIONS:
                close = difflib.get_close_matches(str(key), list(SECTIONS), n=1, cutoff=0.5)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"unknown top-level key {key!r}{hint}; known sections: "
                                  f"{', '.join(sorted(SECTIONS))} (names starting with '_' are private helpers)")
            if value is None and not getattr(SECTIONS[key], "required", False):
                continue  # ``evaluation = None`` switches off a section that a base config set
            if value is not None:
                SECTIONS[key].validate(value, key)
        for key, schema in SECTIONS.items():
            if getattr(schema, "required", False) and data.get(key) is None:
                raise ConfigError(f"section {key!r} is required" + (f" ({schema.doc})" if schema.doc else ""))
    except ConfigError as exc:
        raise ConfigError(where + str(exc)) from None


class Config:
    """A resolved configuration: attribute access, overrides, dump."""

    def __init__(self, data: dict | None = None, filename: str | None = None):
        object.__setattr__(self, "_data", _wrap(_strip_delete(data or {})))
        object.__setattr__(self, "filename", filename)

    @classmethod
    def fromfile(cls, path: str | os.PathLike) -> "Config":
        path = Path(path)
        return cls(_load(path), filename=str(path))

    # -- access --------------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        return getattr(self._data, name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._data[name] = _wrap(value)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = _wrap(value)

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self):
        return self._data.keys()

    def to_dict(self) -> dict:
        return _plain(self._data)

    @property
    def name(self) -> str:
        """The config's name (file stem), used for the default work dir."""
        return Path(self.filename).stem if self.filename else "config"

    # -- overrides -----------------------------------------------------------------------------
    def merge_from_dict(self, options: dict[str, Any]) -> None:
        """Apply ``{"a.b.c": value}`` overrides; see the module docstring for the rules."""
        for dotted, value in options.items():
            allow_new = dotted.startswith("+")
            keys = dotted.lstrip("+").split(".")
            node: Any = self._data
            for depth, key in enumerate(keys):
                last = depth == len(keys) - 1
                where = ".".join(keys[:depth]) or "<top level>"
                if isinstance(node, (list, tuple)):
                    if not key.lstrip("-").isdigit() or not -len(node) <= int(key) < len(node):
                        raise KeyError(f"--cfg-options {dotted}: {where} is a list of {len(node)} items, "
                                       f"{key!r} is not a valid index")
                    idx = int(key)
                    if last:
                        if isinstance(node, tuple):
                            raise TypeError(f"--cfg-options {dotted}: {where} is a tuple; override it whole")
                        node[idx] = _wrap(value)
                    else:
                        node = node[idx]
                    continue
                if not isinstance(node, dict):
                    raise KeyError(f"--cfg-options {dotted}: {where} is a {type(node).__name__}, "
                                   f"not a dict")
                if depth == 0 and key not in node and not allow_new:
                    close = difflib.get_close_matches(key, [str(k) for k in node], n=3, cutoff=0.5)
                    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
                    raise KeyError(f"--cfg-options {dotted}: config has no key {key!r} under {where}"
                                   f"{hint} (prefix the option with '+' to add a new key)")
                if last:
                    node[key] = _wrap(value)
                else:
                    if key not in node:
                        node[key] = ConfigDict()
                    node = node[key]

    def merge_from_list(self, items: Iterable[str]) -> None:
        """Apply ``["a.b=1", "c=[1,2]"]`` (the form argparse gives for ``--cfg-options``)."""
        options = {}
        for item in items:
            if "=" not in item:
                raise ValueError(f"--cfg-options expects KEY=VALUE, got {item!r}")
            key, value = item.split("=", 1)
            options[key.strip()] = parse_value(value.strip())
        self.merge_from_dict(options)

    def validate(self) -> "Config":
        """Check every section against its schema (``ConfigError`` naming key, value, expectation)."""
        validate_config(self._data, self.filename)
        return self

    # -- output --------------------------------------------------------------------------------
    @property
    def pretty_text(self) -> str:
        lines = [f"# resolved from {self.filename}" if self.filename else "# resolved config"]
        for key, value in self.to_dict().items():
            lines.append(f"{key} = {pprint.pformat(value, indent=1, width=100, sort_dicts=False)}")
        return "\n".join(lines) + "\n"

    def dump(self, path: str | os.PathLike) -> None:
        """Write the resolved config as a Python file that ``Config.fromfile`` reads back."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.pretty_text)
        os.replace(tmp, path)

    def copy(self) -> "Config":
        return Config(copy.deepcopy(self.to_dict()), self.filename)

    def __repr__(self) -> str:
        return f"Config({self.filename!r}):\n{self.pretty_text}"
