"""Cross-framework parity checks in the shared fixture format (``../shared/parity/README.md``).

A fixture folder holds ``manifest.json`` and, for tiny fixtures, the official model's weights
(``weights.pth``), its input and its outputs (``io.npz``). ``compare_fixture`` builds our model from
the manifest, loads ``weights.pth`` through the converter (strictly), runs the input (and the noise
or random bases the official forward would have drawn) and compares every listed output.
``check_manifest`` does the part that needs no weights: our variant's keys, shapes and parameter
counts against the official ones. ``tools/compare.py`` is the command line over both.

This module is the generic machinery only. Each family plugs in with an ``Adapter`` that lives in
the family's own model file, as its last section, and is registered when that file is imported:

* ``jvision.models.van``, ``conv2former``, ``mae``: the families ``van``, ``conv2former``, ``mae``;
* ``jvision.models.mscan``: the ``backbone`` part of the composite family ``segnext`` (and the
  family's part list, ``register_parts``);
* ``jseg.models.segnext``: the ``decode_head`` part of ``segnext``.

``ADAPTERS`` is a ``jvision.registry.Registry`` whose search module is ``jvision.models``, so every
lookup sees the adapters of jvision's families without further imports; a package outside
``jvision.models`` (``jseg``) registers its own when it is imported. A new family (CLIP, VideoMAE,
E2FGVI...) follows the pattern. Its model file, imported by ``jvision/models/__init__.py``, imports
``from ..convert.fixtures import Adapter, build_registered, input_var, official_kwargs, register_adapter``
with its other imports and ends with

    # ------------------------------------------------------------------------------------------------
    # Parity adapter: the official model's fixtures (../shared/parity/mynet) through tools/compare.py
    # ------------------------------------------------------------------------------------------------
    def _parity_build(kwargs: dict, manifest: dict) -> MyNet:     # the manifest's constructor_kwargs
        return MyNet(**official_kwargs(kwargs, keep=("depth", "embed_dim"), ignore=("img_size",),
                                       family="mynet"))

    def _parity_run(model: MyNet, io: dict, upstream: dict, manifest: dict) -> dict:
        return {"logits": model(input_var(io))}                    # io.npz key -> our array

    register_adapter(Adapter("mynet", _parity_build, lambda manifest: build_registered(manifest["name"]),
                             _parity_run, outputs=("logits",)))

(``inputs=`` names io arrays fed rather than compared, such as saved noise; ``exact=`` the outputs that
must be equal; ``remap=`` official keys -> ours where they differ.) It then adds itself to
``tests/test_compare.py::FAMILIES``, which fails when an adapter is missing. Helpers for adapters:
``official_kwargs`` (official constructor arguments -> ours; unknown ones are an error),
``official_norm_eps`` (``"partial(nn.LayerNorm, eps=1e-6)"`` -> 1e-6), ``build_registered`` (a
registered variant by manifest name), ``input_var`` (an ``io.npz`` array as a Jittor Var).

Composite manifests (SegNeXt: ``backbone.*`` + ``decode_head.*`` keys) are checked part by part, in
the order ``register_parts`` declares; a part without an adapter is reported as not checked, with
the reason, and never as a pass.

Conventions of the comparison (also printed by the tool):
* float outputs pass when ``|ours - ref| <= tol + tol * |ref|`` element-wise (``numpy.allclose``
  with ``rtol = atol = tol``); "max rel" is the largest error over the largest reference magnitude;
* index and mask outputs (``ids_*``, ``mask``) must be equal;
* BatchNorm ``num_batches_tracked`` entries of the official state dict are an expected difference:
  Jittor's BatchNorm has no such counter. They are counted and listed as such, never silently.
"""
from __future__ import annotations

import fnmatch
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from ..registry import Registry
from .state_dict import BATCH_COUNTER, load_state_dict, match_state_dict, read_state_dict

__all__ = ["Adapter", "ADAPTERS", "register_adapter", "register_parts", "get_adapter", "registered_adapters",
           "OutputCheck", "PartCheck", "FixtureReport", "compare_fixture", "check_manifest", "check_folder",
           "find_fixture_dirs", "load_manifest", "official_kwargs", "official_norm_eps", "build_registered",
           "input_var"]

BUFFER_SUFFIXES = ("running_mean", "running_var")


# ------------------------------------------------------------------------------------------------
# Adapters
# ------------------------------------------------------------------------------------------------
@dataclass
class Adapter:
    """How compare builds, loads and runs one family, or one part of a composite family.

    Attributes:
        family: manifest ``family`` (``van``, ``segnext``, ...).
        part: for composite manifests the part name (``backbone``, ``decode_head``), else None.
        build_tiny: ``(constructor_kwargs, manifest) -> model`` for a tiny fixture; for a part the
            kwargs are that part's entry of ``constructor_kwargs``.
        build_full: ``manifest -> model`` for a full-size variant (no forward is run).
        run: ``(model, io_arrays, upstream_outputs, manifest) -> {io key: array}``; the model is
            loaded and in eval mode; ``upstream_outputs`` holds what the earlier parts produced (the
            backbone's ``out_i`` for a head).
        outputs: glob patterns of the io keys this adapter produces and wants compared.
        inputs: io keys it reads besides ``input`` (e.g. ``noise``); they are not compared.
        exact: glob patterns of outputs that must be equal, not merely close.
        remap: official keys (part prefix already stripped) -> our keys, if they differ.
        buffers: glob patterns of official keys that are registered buffers, not parameters
            (besides BatchNorm's running statistics), e.g. E2FGVI's ``*.valid_ind_rolled``.
    """

    family: str
    build_tiny: Callable[[dict, dict], Any]
    build_full: Callable[[dict], Any]
    run: Callable[[Any, dict, dict, dict], dict]
    outputs: tuple = ()
    part: str | None = None
    inputs: tuple = ()
    exact: tuple = ()
    remap: Callable[[dict], dict] | None = None
    buffers: tuple = ()

    @property
    def key(self) -> str:
        """Its name in ``ADAPTERS``: ``family`` or ``family.part``."""
        return f"{self.family}.{self.part}" if self.part else self.family


#: Every registered adapter by ``family`` / ``family.part``. A lookup miss imports ``jvision.models``,
#: whose model files register the adapters of their families.
ADAPTERS = Registry("parity adapters", search_modules=["jvision.models", "jvision.mim"])

#: Composite families: (part, key prefix) in forward order, and why a part may have no adapter.
_PARTS: dict[str, list[tuple[str, str]]] = {}
_PENDING: dict[tuple[str, str], str] = {}


def register_adapter(adapter: Adapter, force: bool = False) -> Adapter:
    """Make ``compare_fixture``/``check_manifest`` handle ``adapter.family`` (``adapter.part``)."""
    try:
        return ADAPTERS.register(adapter.key, adapter, force=force)
    except KeyError:
        raise KeyError(f"a parity adapter for {adapter.key!r} is already registered; force=True replaces it") from None


def register_parts(family: str, parts: list[tuple[str, str]], pending: dict[str, str] | None = None) -> None:
    """Declare ``family`` composite: its ``(part, key prefix)`` pairs in forward order, and for parts
    whose adapter lives in another package the reason shown while that package is not imported."""
    _PARTS[family] = list(parts)
    for part, reason in (pending or {}).items():
        _PENDING[(family, part)] = reason


def get_adapter(family: str, part: str | None = None) -> Adapter | None:
    key = f"{family}.{part}" if part else family
    return ADAPTERS.get(key) if key in ADAPTERS else None


def registered_adapters() -> list[tuple[str, str | None]]:
    """``(family, part)`` of every registered adapter, sorted."""
    keys = [tuple(k.split(".", 1)) if "." in k else (k, None) for k in ADAPTERS.names()]
    return sorted(keys, key=lambda k: (k[0], k[1] or ""))


def _composite_parts(family: str) -> list[tuple[str, str]] | None:
    ADAPTERS.names()  # imports the search modules, whose files declare their parts
    return _PARTS.get(family)


def _pending_reason(family: str, part: str | None) -> str:
    return _PENDING.get((family, part), f"no parity adapter registered for family {family!r}"
                        + (f" part {part!r}" if part else ""))


# ------------------------------------------------------------------------------------------------
# Reports
# ------------------------------------------------------------------------------------------------
@dataclass
class OutputCheck:
    name: str
    status: str                      # "ok", "FAIL", "not checked"
    shape: list | None = None
    max_abs: float | None = None
    max_rel: float | None = None
    exact: bool = False
    detail: str = ""

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class PartCheck:
    """Keys, shapes and counts of one model (part) against the official state dict."""

    part: str | None
    status: str                      # "ok", "FAIL", "not checked"
    detail: str = ""
    official_keys: int = 0
    our_keys: int = 0
    batch_counters: int = 0
    missing: list = field(default_factory=list)
    unexpected: list = field(default_factory=list)
    mismatched: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)   # name -> (official, ours)

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["counts"] = {k: list(v) for k, v in self.counts.items()}
        return d


@dataclass
class FixtureReport:
    path: str
    family: str
    name: str
    kind: str
    tol: float
    parts: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    loads: list = field(default_factory=list)
    error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error) or any(p.status == "FAIL" for p in self.parts) or any(
            o.status == "FAIL" for o in self.outputs)

    @property
    def unchecked(self) -> list[str]:
        return ([f"part {p.part}" if p.part else "model" for p in self.parts if p.status == "not checked"]
                + [o.name for o in self.outputs if o.status == "not checked"])

    @property
    def checked_anything(self) -> bool:
        return any(p.status == "ok" for p in self.parts) or any(o.status == "ok" for o in self.outputs)

    @property
    def verdict(self) -> str:
        if self.failed:
            return "FAIL"
        if not self.checked_anything:
            return "NOT CHECKED"
        return "PASS" if not self.unchecked else "PASS (partial)"

    def as_dict(self) -> dict:
        return {"path": self.path, "family": self.family, "name": self.name, "kind": self.kind,
                "tol": self.tol, "verdict": self.verdict, "error": self.error,
                "unchecked": self.unchecked, "parts": [p.as_dict() for p in self.parts],
                "outputs": [o.as_dict() for o in self.outputs], "loads": self.loads}

    def format(self) -> str:
        lines = [f"== {self.family}/{self.name} ({self.kind}) -- {self.path}"]
        if self.error:
            lines.append(f"  ERROR: {self.error}")
        for load in self.loads:
            lines.append(f"  load: {load['summary']}")
        for p in self.parts:
            label = f"part {p.part}" if p.part else "state dict"
            lines.append(f"  {label}: {p.status}" + (f" -- {p.detail}" if p.detail else ""))
            for name, (official, ours) in p.counts.items():
                mark = "ok" if official == ours else "DIFFERS"
                lines.append(f"    {name:<28s} official {official:>12,d}  ours {ours:>12,d}  {mark}")
            for kind, rows in (("missing", p.missing), ("unexpected", p.unexpected),
                               ("shape", p.mismatched)):
                for row in rows[:20]:
                    lines.append(f"    {kind:<10s} {row}")
                if len(rows) > 20:
                    lines.append(f"    ... {len(rows) - 20} more {kind}")
        if self.outputs:
            lines.append(f"  {'output':<20s} {'shape':<18s} {'max abs':>10s} {'max rel':>10s}  "
                         f"result (tol {self.tol:g})")
            for o in self.outputs:
                shape = "x".join(str(d) for d in o.shape) if o.shape is not None else "-"
                if o.status == "not checked":
                    lines.append(f"  {o.name:<20s} {shape:<18s} {'':>10s} {'':>10s}  not checked: {o.detail}")
                    continue
                abs_ = f"{o.max_abs:.3e}" if o.max_abs is not None else "-"
                rel = f"{o.max_rel:.3e}" if o.max_rel is not None else "-"
                how = "exact " if o.exact else ""
                extra = f" ({o.detail})" if o.detail else ""
                lines.append(f"  {o.name:<20s} {shape:<18s} {abs_:>10s} {rel:>10s}  {how}{o.status}{extra}")
        lines.append(f"  => {self.verdict}" + (f"; not checked: {', '.join(self.unchecked)}"
                                               if self.unchecked and not self.failed else ""))
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------
def load_manifest(folder) -> dict:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no manifest.json (not a parity fixture folder)")
    return json.loads(path.read_text())


def find_fixture_dirs(root) -> list[Path]:
    """``root`` itself when it holds a manifest, else every folder below it that does (sorted)."""
    root = Path(root)
    if (root / "manifest.json").is_file():
        return [root]
    return sorted(p.parent for p in root.rglob("manifest.json"))


def _numel(shape) -> int:
    return int(math.prod(shape))


def _is_buffer(key: str) -> bool:
    return key.rsplit(".", 1)[-1] in BUFFER_SUFFIXES


class _Shape:
    """A stand-in for a tensor when only its shape matters (full-size manifests)."""

    def __init__(self, shape):
        self.shape = tuple(shape)


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "numpy"):
        return np.asarray(x.numpy())
    return np.asarray(x)


def compare_arrays(name: str, ours, ref: np.ndarray, tol: float, exact: bool) -> OutputCheck:
    ours = _to_numpy(ours)
    check = OutputCheck(name, "FAIL", shape=list(ref.shape), exact=exact)
    if ours.shape != ref.shape:
        if ref.ndim == 0 and ours.size == 1:   # a Jittor reduction to a scalar has shape [1]
            ours = ours.reshape(())
        else:
            check.detail = f"shape {list(ours.shape)} differs from the reference {list(ref.shape)}"
            return check
    if exact:
        differ = int(np.count_nonzero(ours.astype(ref.dtype) != ref))
        check.max_abs = float(np.abs(ours.astype(np.float64) - ref.astype(np.float64)).max()) if ref.size else 0.0
        check.status = "ok" if differ == 0 else "FAIL"
        check.detail = "" if differ == 0 else f"{differ} of {ref.size} elements differ"
        return check
    a, b = ours.astype(np.float64), ref.astype(np.float64)
    if not np.isfinite(a).all():
        check.detail = "non-finite values in our output"
        return check
    err = np.abs(a - b)
    check.max_abs = float(err.max()) if err.size else 0.0
    scale = float(np.abs(b).max()) if b.size else 0.0
    check.max_rel = check.max_abs / scale if scale > 0 else check.max_abs
    check.status = "ok" if bool(np.all(err <= tol + tol * np.abs(b))) else "FAIL"
    return check


def _official_state(manifest: dict, prefix: str = "") -> tuple[dict, int]:
    """Official key -> _Shape for the keys under ``prefix`` (stripped), and the number of
    ``num_batches_tracked`` entries set aside."""
    state, counters = {}, 0
    for entry in manifest["state_dict"]:
        key = entry["key"]
        if not key.startswith(prefix):
            continue
        key = key[len(prefix):]
        if key.rsplit(".", 1)[-1] == BATCH_COUNTER:
            counters += 1
            continue
        state[key] = _Shape(entry["shape"])
    return state, counters


def _part_list(manifest: dict) -> list[tuple[str | None, str]]:
    """(part, key prefix) pairs of a manifest. A composite family's manifest of one part alone
    (``mscan_t``: the SegNeXt backbone without a segmentor) is that part with no prefix."""
    parts = _composite_parts(manifest["family"])
    if not parts:
        return [(None, "")]
    kwargs = manifest.get("constructor_kwargs", {})
    if all(part in kwargs for part, _ in parts):
        return parts
    return [(parts[0][0], "")]


def _part_kwargs(manifest: dict, part: str | None) -> dict:
    kwargs = manifest.get("constructor_kwargs", {})
    return dict(kwargs[part]) if part and part in kwargs else dict(kwargs)


def check_keys_and_counts(model, manifest: dict, part: str | None, prefix: str,
                          adapter: Adapter) -> PartCheck:
    """Our model's keys/shapes/counts against the official state dict (or its ``prefix`` part)."""
    from ..models.layers import count_parameters, is_buffer

    official, counters = _official_state(manifest, prefix)
    ours = {k: tuple(int(d) for d in v.shape) for k, v in model.state_dict().items()}
    report, _ = match_state_dict(official, ours, prefix=None, remap=adapter.remap, strict=True,
                                 source="manifest", target=type(model).__name__)
    # ``official`` plays the checkpoint: its leftovers are keys missing in ours, and vice versa.
    check = PartCheck(part, "ok", official_keys=len(official) + counters, our_keys=len(ours),
                      batch_counters=counters, missing=[k for k, _ in report.unexpected],
                      unexpected=[k for k, _ in report.missing],
                      mismatched=[f"{k}: official {list(c)} ours {list(m)}" for k, c, m in report.mismatched])
    # a manifest does not say which entries are buffers: running statistics, the keys that are
    # buffers (``register_buffer``) in our model (e.g. the fixed kernels of HOG), and the adapter's list
    our_buffers = {k for k, v in model.state_dict().items() if is_buffer(k, v)}
    buffer_keys = {k for k in official if _is_buffer(k) or k in our_buffers
                   or any(fnmatch.fnmatchcase(k, p) for p in adapter.buffers)}
    official_params = sum(_numel(s.shape) for k, s in official.items() if k not in buffer_keys)
    official_buffers = sum(_numel(s.shape) for k, s in official.items() if k in buffer_keys)
    counts = count_parameters(model)
    check.counts["parameters (from keys)"] = (official_params, counts["total"])
    check.counts["buffer elements"] = (official_buffers, counts["buffers"])
    if not prefix:  # the manifest describes this model alone: its totals apply
        check.counts["total_parameters"] = (int(manifest["total_parameters"]), counts["total"])
        if "trainable_parameters" in manifest:
            check.counts["trainable_parameters"] = (int(manifest["trainable_parameters"]), counts["trainable"])
        if "buffer_elements_excluding_num_batches_tracked" in manifest:
            check.counts["buffers (manifest)"] = (
                int(manifest["buffer_elements_excluding_num_batches_tracked"]), counts["buffers"])
    problems = []
    if check.missing:
        problems.append(f"{len(check.missing)} official keys missing in ours")
    if check.unexpected:
        problems.append(f"{len(check.unexpected)} keys of ours not in the official model")
    if check.mismatched:
        problems.append(f"{len(check.mismatched)} shapes differ")
    if any(a != b for a, b in check.counts.values()):
        problems.append("parameter counts differ")
    check.status = "FAIL" if problems else "ok"
    note = (f"{len(official)} keys and shapes equal"
            + (f"; {counters} num_batches_tracked entries are expected to be absent "
               "(Jittor's BatchNorm has no batch counter)" if counters else ""))
    check.detail = "; ".join(problems) if problems else note
    return check


# ------------------------------------------------------------------------------------------------
# Entry points
# ------------------------------------------------------------------------------------------------
def _whole_model_check(manifest: dict, parts: list) -> PartCheck | None:
    """For a composite manifest whose parts were all checked: the sum of the parts' counts against
    the manifest's totals (which cover the whole segmentor)."""
    if len(parts) < 2 or any(p.status != "ok" or "parameters (from keys)" not in p.counts for p in parts):
        return None
    check = PartCheck("whole model", "ok", "sum of the parts")
    check.counts["total_parameters"] = (int(manifest["total_parameters"]),
                                        sum(p.counts["parameters (from keys)"][1] for p in parts))
    if "buffer_elements_excluding_num_batches_tracked" in manifest:
        check.counts["buffers (manifest)"] = (int(manifest["buffer_elements_excluding_num_batches_tracked"]),
                                              sum(p.counts["buffer elements"][1] for p in parts))
    if any(a != b for a, b in check.counts.values()):
        check.status, check.detail = "FAIL", "the parts do not add up to the official totals"
    return check


def check_manifest(folder, manifest: dict | None = None) -> FixtureReport:
    """Build the variant a full-size manifest describes and check keys, shapes and counts."""
    folder = Path(folder)
    manifest = manifest or load_manifest(folder)
    report = FixtureReport(str(folder), manifest["family"], manifest["name"], manifest["kind"], tol=0.0)
    for part, prefix in _part_list(manifest):
        adapter = get_adapter(manifest["family"], part)
        if adapter is None:
            report.parts.append(PartCheck(part, "not checked", _pending_reason(manifest["family"], part)))
            continue
        try:
            model = adapter.build_full(manifest)
        except Exception as exc:  # report, do not crash the other checks
            report.parts.append(PartCheck(part, "FAIL", f"building the model failed: {type(exc).__name__}: {exc}"))
            continue
        report.parts.append(check_keys_and_counts(model, manifest, part, prefix, adapter))
        del model
    whole = _whole_model_check(manifest, report.parts)
    if whole is not None:
        report.parts.append(whole)
    return report


def compare_fixture(folder, tol: float = 1e-4, manifest: dict | None = None) -> FixtureReport:
    """Run our model on a tiny fixture and compare every output the manifest lists."""
    folder = Path(folder)
    manifest = manifest or load_manifest(folder)
    report = FixtureReport(str(folder), manifest["family"], manifest["name"], manifest["kind"], tol=tol)
    listed = list(manifest.get("io", {}).get("arrays", {}))
    with np.load(folder / "io.npz") as f:
        io_arrays = {k: f[k] for k in f.files}
    listed = listed or [k for k in io_arrays]
    try:
        weights, where = read_state_dict(folder / "weights.pth")
    except Exception as exc:
        report.error = f"reading {folder / 'weights.pth'}: {exc}"
        return report

    produced: dict[str, np.ndarray] = {}
    claimed: dict[str, tuple] = {}       # io key -> (adapter, exact)
    consumed = {"input"}
    pending: dict[str, str] = {}
    for part, prefix in _part_list(manifest):
        adapter = get_adapter(manifest["family"], part)
        if adapter is None:
            report.parts.append(PartCheck(part, "not checked", _pending_reason(manifest["family"], part)))
            pending[part or ""] = _pending_reason(manifest["family"], part)
            continue
        consumed.update(adapter.inputs)
        try:
            model = adapter.build_tiny(_part_kwargs(manifest, part), manifest)
            check = check_keys_and_counts(model, manifest, part, prefix, adapter)
            report.parts.append(check)
            load = load_state_dict(model, weights, strict=True, prefix=prefix or "auto", remap=adapter.remap,
                                   source=str(folder / "weights.pth"), found_in=where, log=None)
            report.loads.append({"part": part, "summary": load.summary(), **load.as_dict()})
            model.eval()
            outs = adapter.run(model, io_arrays, dict(produced), manifest)
        except Exception as exc:  # a weights file that does not fit, a crash: report, go on
            report.parts.append(PartCheck(part, "FAIL", f"loading or running failed: {type(exc).__name__}: {exc}"))
            continue
        for key, value in outs.items():
            produced[key] = _to_numpy(value)   # upstream data for the next part, compared or not
            if not adapter.outputs or any(fnmatch.fnmatchcase(key, p) for p in adapter.outputs):
                claimed[key] = (adapter, any(fnmatch.fnmatchcase(key, p) for p in adapter.exact))

    for key in listed:
        if key in consumed:
            continue
        ref = io_arrays[key]
        if key in claimed:
            report.outputs.append(compare_arrays(key, produced[key], ref, tol, claimed[key][1]))
        else:
            reason = "; ".join(sorted(set(pending.values()))) or "no adapter produces this output"
            report.outputs.append(OutputCheck(key, "not checked", shape=list(ref.shape), detail=reason))
    whole = _whole_model_check(manifest, report.parts)
    if whole is not None:
        report.parts.append(whole)
    return report


def check_folder(folder, tol: float = 1e-4) -> FixtureReport:
    """``compare_fixture`` for tiny fixtures, ``check_manifest`` for full-size manifests."""
    manifest = load_manifest(folder)
    if manifest.get("kind") == "tiny_fixture_with_weights":
        return compare_fixture(folder, tol, manifest)
    return check_manifest(folder, manifest)


# ------------------------------------------------------------------------------------------------
# Helpers for the adapters of the families
# ------------------------------------------------------------------------------------------------
def official_norm_eps(norm_layer: str | None, default: float) -> float:
    """A manifest's ``norm_layer`` string -> LayerNorm eps: ``"partial(nn.LayerNorm, eps=1e-6)"`` -> 1e-6,
    ``"nn.LayerNorm"`` -> 1e-5, absent -> ``default``."""
    if not norm_layer:
        return default
    m = re.search(r"eps\s*=\s*([0-9.eE+-]+)", norm_layer)
    if m:
        return float(m.group(1))
    if "LayerNorm" in norm_layer:
        return 1e-5
    raise ValueError(f"cannot read a LayerNorm eps from norm_layer={norm_layer!r}")


def official_kwargs(kwargs: dict, keep: Iterable[str], ignore: Iterable[str], family: str) -> dict:
    """The official constructor arguments our constructor takes under the same name (``keep``);
    ``ignore`` lists those without effect here. Any other argument is an error naming it."""
    keep, ignore = set(keep), set(ignore)
    unknown = sorted(set(kwargs) - keep - ignore)
    if unknown:
        raise ValueError(f"{family}: official constructor argument(s) {unknown} have no counterpart here")
    return {k: v for k, v in kwargs.items() if k in keep}


def build_registered(name: str, **kwargs):
    """The registered variant ``name`` (a full-size manifest's ``name``, usually)."""
    from ..registry import MODELS
    return MODELS.build({"type": name, **kwargs})


def input_var(io: dict, key: str = "input"):
    """An ``io.npz`` array as a Jittor Var."""
    import jittor as jt
    return jt.array(io[key])
