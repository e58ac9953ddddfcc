"""Read (and write) PyTorch checkpoint files without PyTorch.

Formats read, whatever the file is called (``.pth``, ``.pth.tar``, ``.pt``, ``.bin``, ``.ckpt``):

* the zip format of ``torch.save`` since PyTorch 1.6 (``<archive>/data.pkl`` + ``data/<key>``);
* the legacy format before it (magic number, protocol, sys info, pickle, then raw storages);
* Jittor's ``jt.save`` files (a pickle followed by its sha1 and ``HCAJSLHD``), ``.npz`` archives and
  ``.safetensors`` files;
* TorchScript archives (``torch.jit.save``, e.g. OpenAI's released CLIP ``.pt`` files): the zip layout
  plus a ``code/`` folder. Their ``data.pkl`` holds the module tree as objects of ``__torch__`` classes
  whose pickled state is a dict of attributes; it is flattened into the module's state dict
  (``visual.conv1.weight``, ...). The TorchScript code in the archive is never read, let alone run.

Tensors come back as NumPy arrays in their stored dtype (bfloat16 is widened to float32, the only
lossless choice NumPy has). Unpickling is restricted: tensors, storages, containers, NumPy arrays and
``argparse.Namespace`` are rebuilt; every other class named in the file (an ``mmcv.Config`` in
``meta``, a training script's own objects) becomes an inert ``OpaqueObject`` instead of being
imported, so reading a checkpoint never runs code from the file.

Errors say what is wrong with which file: truncated or corrupt archives, missing tensor records,
storages shorter than their tensors.
"""
from __future__ import annotations

import _compat_pickle
import collections
import hashlib
import io
import json
import os
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CheckpointReadError", "OpaqueObject", "read_checkpoint_file", "script_module_state",
           "write_torch_file"]


class CheckpointReadError(RuntimeError):
    """A checkpoint file cannot be read; the message names the file and the reason."""


class OpaqueObject:
    """Stands in for an object of a class the reader does not import (its state is kept)."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs, self.state = args, kwargs, None

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return f"<opaque {self._qualname}>"

    _qualname = "object"


def _opaque_class(module: str, name: str) -> type:
    return type(name, (OpaqueObject,), {"_qualname": f"{module}.{name}"})


# ------------------------------------------------------------------------------------------------
# dtypes of torch storages
# ------------------------------------------------------------------------------------------------
_STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
_TORCH_DTYPES = {  # torch.<dtype> objects (torch >= 2 may pickle the storage dtype this way)
    "float64": np.float64, "double": np.float64, "float32": np.float32, "float": np.float32,
    "float16": np.float16, "half": np.float16, "bfloat16": "bfloat16", "int64": np.int64,
    "long": np.int64, "int32": np.int32, "int": np.int32, "int16": np.int16, "short": np.int16,
    "int8": np.int8, "uint8": np.uint8, "bool": np.bool_,
}


class _StorageType:
    def __init__(self, name: str, dtype):
        self.name, self.dtype = name, dtype

    def itemsize(self) -> int:
        return 2 if self.dtype == "bfloat16" else np.dtype(self.dtype).itemsize


class _TorchDtype:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"


def _decode_storage(raw: bytes, stype: _StorageType) -> np.ndarray:
    if stype.dtype == "bfloat16":
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32)
    return np.frombuffer(raw, dtype=np.dtype(stype.dtype).newbyteorder("<"))


class _Storage:
    """A flat array with the storage's dtype; tensors are strided views of it.

    In the legacy format the storages follow the pickle, so while unpickling they are ``pending``
    and tensors are rebuilt afterwards (``_PendingTensor``).
    """

    def __init__(self, array: np.ndarray | None = None, root: "_Storage | None" = None, offset: int = 0,
                 size: int = 0):
        self._array, self.root, self.offset, self.size = array, root, offset, size

    @property
    def pending(self) -> bool:
        return (self.root._array if self.root is not None else self._array) is None

    @property
    def array(self) -> np.ndarray:
        if self.root is not None:
            return self.root._array[self.offset:self.offset + self.size]
        return self._array


class _PendingTensor:
    def __init__(self, *args):
        self.args = args


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError(f"tensor data is not a storage ({type(storage).__name__})")
    if storage.pending:
        return _PendingTensor(storage, storage_offset, size, stride)
    flat = storage.array
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    numel = int(np.prod(size)) if size else 1
    if numel == 0:
        return np.zeros(size, dtype=flat.dtype)
    last = storage_offset + sum((s - 1) * st for s, st in zip(size, stride))
    if last >= flat.size:
        raise pickle.UnpicklingError(f"tensor of shape {list(size)} needs element {last} of a storage "
                                     f"holding {flat.size}: the storage is truncated")
    view = np.lib.stride_tricks.as_strided(flat[storage_offset:], shape=size,
                                           strides=tuple(st * flat.itemsize for st in stride))
    return np.array(view)  # own, contiguous, writable copy


def _resolve_pending(obj):
    """Replace the ``_PendingTensor``s of a legacy file by arrays, through dicts, lists and tuples."""
    if isinstance(obj, _PendingTensor):
        return _rebuild_tensor(*obj.args)
    if isinstance(obj, dict):
        for key in list(obj):
            obj[key] = _resolve_pending(obj[key])
        return obj
    if isinstance(obj, list):
        return [_resolve_pending(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_resolve_pending(v) for v in obj)
    return obj


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype=None,
                       metadata=None):
    return _rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=None, backward_hooks=None, *rest):
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    return func(*args)


def _unsupported(what: str):
    def fail(*args, **kwargs):
        raise pickle.UnpicklingError(f"{what} tensors are not supported (dequantize or densify the "
                                     "checkpoint with PyTorch first)")
    return fail


_TORCH_FUNCTIONS = {
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch._utils", "_rebuild_qtensor"): _unsupported("quantized"),
    ("torch._utils", "_rebuild_sparse_tensor"): _unsupported("sparse"),
    ("torch._utils", "_rebuild_sparse_csr_tensor"): _unsupported("sparse"),
    ("torch._utils", "_rebuild_meta_tensor_no_storage"): _unsupported("meta"),
}

_SAFE_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "defaultdict"): collections.defaultdict,
    ("builtins", "set"): set, ("builtins", "frozenset"): frozenset, ("builtins", "slice"): slice,
    ("builtins", "complex"): complex, ("builtins", "bytearray"): bytearray,
    ("builtins", "tuple"): tuple, ("builtins", "list"): list, ("builtins", "dict"): dict,
    ("builtins", "int"): int, ("builtins", "float"): float, ("builtins", "str"): str,
    ("builtins", "bool"): bool, ("builtins", "object"): object,
    ("argparse", "Namespace"): __import__("argparse").Namespace,
    ("_codecs", "encode"): __import__("codecs").encode,
    ("numpy", "dtype"): np.dtype, ("numpy", "ndarray"): np.ndarray,
    ("numpy.core.multiarray", "_reconstruct"): np.core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np.core.multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): np.core.multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): np.core.multiarray.scalar,
    ("numpy", "float64"): np.float64, ("numpy", "float32"): np.float32, ("numpy", "int64"): np.int64,
    ("jittor", "jittor_core.Var"): lambda array, *unused: np.asarray(array),  # jt.save of a jt.Var
    ("jittor_core", "Var"): lambda array, *unused: np.asarray(array),
    ("pathlib", "PosixPath"): Path, ("pathlib", "WindowsPath"): Path, ("pathlib", "Path"): Path,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves torch's tensor machinery to NumPy, a few safe globals, and nothing else."""

    def __init__(self, file, storage_loader=None):
        super().__init__(file, encoding="utf-8")
        self._storage_loader = storage_loader

    def find_class(self, module: str, name: str):
        # Protocol-2 pickles (torch.save's) name Python 2 modules: __builtin__, copy_reg, ...
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        if (module, name) in _TORCH_FUNCTIONS:
            return _TORCH_FUNCTIONS[(module, name)]
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[(module, name)]
        if module.startswith("torch"):
            if name in _STORAGE_DTYPES:
                return _StorageType(name, _STORAGE_DTYPES[name])
            if module == "torch" and name in _TORCH_DTYPES:
                return _TorchDtype(name)
            if name == "Size":
                return tuple
            if name == "device":
                return str
        return _opaque_class(module, name)

    def persistent_load(self, pid):
        if self._storage_loader is None:
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        return self._storage_loader(pid)


def _storage_type_of(obj) -> _StorageType:
    if isinstance(obj, _StorageType):
        return obj
    if isinstance(obj, _TorchDtype):
        return _StorageType(obj.name, _TORCH_DTYPES[obj.name])
    raise pickle.UnpicklingError(f"unknown storage type {obj!r}")


# ------------------------------------------------------------------------------------------------
# Readers
# ------------------------------------------------------------------------------------------------
_ZIP_MAGIC = b"PK\x03\x04"
_JITTOR_MAGIC = b"HCAJSLHD"
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _read_zip(path: Path) -> Any:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise CheckpointReadError(f"{path}: truncated or corrupt zip checkpoint ({exc})") from None
    with archive:
        names = archive.namelist()
        pkl = [n for n in names if n.endswith("data.pkl")]
        if not pkl:
            raise CheckpointReadError(f"{path}: zip archive without data.pkl: not a torch.save file")
        prefix = pkl[0][: -len("data.pkl")]
        cache: dict = {}

        def load_storage(pid):
            if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
                raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
            _, stype, key, _location, numel = pid[:5]
            stype = _storage_type_of(stype)
            if key not in cache:
                record = f"{prefix}data/{key}"
                try:
                    raw = archive.read(record)
                except KeyError:
                    raise pickle.UnpicklingError(f"tensor record {record} is missing") from None
                need = int(numel) * stype.itemsize()
                if len(raw) < need:
                    raise pickle.UnpicklingError(f"tensor record {record} has {len(raw)} bytes, "
                                                 f"{need} expected: the file is truncated")
                cache[key] = _Storage(_decode_storage(raw[:need], stype))
            return cache[key]

        try:
            data = archive.read(pkl[0])
            obj = _RestrictedUnpickler(io.BytesIO(data), load_storage).load()
        except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
            raise CheckpointReadError(f"{path}: corrupt checkpoint: {exc}") from None
        if any(n.startswith(f"{prefix}code/") for n in names) and isinstance(obj, OpaqueObject):
            state = script_module_state(obj)
            if not state:
                raise CheckpointReadError(f"{path}: TorchScript archive without tensors in its module tree")
            return state
        return obj


def script_module_state(root: OpaqueObject) -> "collections.OrderedDict[str, np.ndarray]":
    """The state dict of a TorchScript module tree (objects whose pickled state is a dict of
    attributes): every array attribute under its dotted path, in the stored order."""
    out: collections.OrderedDict = collections.OrderedDict()
    stack = [("", root)]
    seen = set()
    while stack:
        prefix, node = stack.pop()
        if id(node) in seen or not isinstance(node.state, dict):
            continue
        seen.add(id(node))
        children = []
        for name, value in node.state.items():
            if not isinstance(name, str):
                continue
            if isinstance(value, np.ndarray):
                out[prefix + name] = value
            elif isinstance(value, OpaqueObject):
                children.append((f"{prefix}{name}.", value))
        stack.extend(reversed(children))   # depth first, registration order
    return out


def _read_legacy(path: Path) -> Any:
    with open(path, "rb") as f:
        try:
            magic = _RestrictedUnpickler(f).load()
            if not (isinstance(magic, int) and magic == _LEGACY_MAGIC):
                raise CheckpointReadError(f"{path}: not a PyTorch checkpoint (bad magic number)")
            _RestrictedUnpickler(f).load()  # protocol version
            _RestrictedUnpickler(f).load()  # sys info
            roots: dict = {}

            def load_storage(pid):
                if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
                    raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
                _, stype, root_key, _location, numel, view_metadata = pid
                if root_key not in roots:
                    roots[root_key] = (_storage_type_of(stype), int(numel), _Storage())
                root = roots[root_key][2]
                if view_metadata is not None:  # a view into the root storage (very old files)
                    _view_key, offset, view_size = view_metadata
                    return _Storage(root=root, offset=int(offset), size=int(view_size))
                return root

            result = _RestrictedUnpickler(f, load_storage).load()
            for key in _RestrictedUnpickler(f).load():
                stype, numel, storage = roots[key]
                header = f.read(8)
                if len(header) < 8:
                    raise EOFError(f"storage {key} is missing")
                stored = struct.unpack("<q", header)[0]
                need = stored * stype.itemsize()
                raw = f.read(need)
                if len(raw) < need or stored < numel:
                    raise EOFError(f"storage {key} has {len(raw)} of {need} bytes")
                storage._array = _decode_storage(raw, stype)
            return _resolve_pending(result)
        except CheckpointReadError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, struct.error, KeyError, IndexError,
                TypeError) as exc:
            raise CheckpointReadError(f"{path}: truncated or corrupt legacy checkpoint ({exc})") from None


def _read_jittor(path: Path, blob: bytes) -> Any:
    body = blob[: -len(_JITTOR_MAGIC) - 20]
    digest = blob[-len(_JITTOR_MAGIC) - 20: -len(_JITTOR_MAGIC)]
    if hashlib.sha1(body).digest() != digest:
        raise CheckpointReadError(f"{path}: Jittor checkpoint fails its sha1 check (truncated or corrupt)")
    try:
        return _RestrictedUnpickler(io.BytesIO(body)).load()
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise CheckpointReadError(f"{path}: corrupt Jittor checkpoint ({exc})") from None


def _read_safetensors(path: Path) -> dict:
    dtypes = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": "bfloat16",
              "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8,
              "BOOL": np.bool_}
    blob = path.read_bytes()
    try:
        (n,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8:8 + n])
    except (struct.error, ValueError) as exc:
        raise CheckpointReadError(f"{path}: corrupt safetensors header ({exc})") from None
    data = blob[8 + n:]
    out = collections.OrderedDict()
    for key, info in header.items():
        if key == "__metadata__":
            continue
        start, end = info["data_offsets"]
        if end > len(data):
            raise CheckpointReadError(f"{path}: tensor {key} ends at byte {end} of {len(data)}: truncated")
        stype = _StorageType(info["dtype"], dtypes[info["dtype"]])
        out[key] = _decode_storage(data[start:end], stype).reshape(info["shape"]).copy()
    return out


def read_checkpoint_file(path) -> Any:
    """Everything stored in ``path`` (a state dict, or a dict holding one), tensors as NumPy arrays."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    with open(path, "rb") as f:
        head = f.read(8)
    if len(head) == 0:
        raise CheckpointReadError(f"{path}: empty file")
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    if head.startswith(_ZIP_MAGIC):
        if path.suffix == ".npz":
            try:
                with np.load(path) as archive:
                    return collections.OrderedDict((k, archive[k]) for k in archive.files)
            except (zipfile.BadZipFile, ValueError, OSError) as exc:
                raise CheckpointReadError(f"{path}: truncated or corrupt npz ({exc})") from None
        return _read_zip(path)
    blob_tail = _tail(path, len(_JITTOR_MAGIC))
    if blob_tail == _JITTOR_MAGIC:
        return _read_jittor(path, path.read_bytes())
    if head[:1] == b"\x80":  # a pickle: legacy torch format (or a plain pickle)
        try:
            return _read_legacy(path)
        except CheckpointReadError as exc:
            if "bad magic number" not in str(exc):
                raise
        try:
            with open(path, "rb") as f:
                return _RestrictedUnpickler(f).load()
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise CheckpointReadError(f"{path}: truncated or corrupt pickle ({exc})") from None
    raise CheckpointReadError(f"{path}: unknown checkpoint format (first bytes {head!r}); expected a "
                              "torch.save file (zip or legacy), a Jittor .pkl, .npz or .safetensors")


def _tail(path: Path, n: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - n))
        return f.read()


# ------------------------------------------------------------------------------------------------
# Writer (the zip layout of torch.save, so files written here open with torch.load and with
# Jittor's own reader); also the legacy layout, used by the tests of the legacy reader.
# ------------------------------------------------------------------------------------------------
class _Global:
    """A reference to ``module.name`` written into the pickle without importing it."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle's save_reduce insists on a callable
        raise TypeError(f"{self.module}.{self.name} is only a pickle reference")


class _StorageRef:
    def __init__(self, key: str, array: np.ndarray):
        self.key, self.array = key, array


_NP_TO_STORAGE = {np.dtype(np.float64): "DoubleStorage", np.dtype(np.float32): "FloatStorage",
                  np.dtype(np.float16): "HalfStorage", np.dtype(np.int64): "LongStorage",
                  np.dtype(np.int32): "IntStorage", np.dtype(np.int16): "ShortStorage",
                  np.dtype(np.int8): "CharStorage", np.dtype(np.uint8): "ByteStorage",
                  np.dtype(np.bool_): "BoolStorage"}


class _TorchPickler(pickle._Pickler):  # the pure-Python pickler lets us emit torch's globals
    def __init__(self, file, legacy: bool = False):
        super().__init__(file, protocol=2)
        self.storages: list[_StorageRef] = []
        self.legacy = legacy
        self.dispatch = dict(pickle._Pickler.dispatch)
        self.dispatch[_Global] = _TorchPickler._save_global_ref

    def _save_global_ref(self, obj: _Global):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
        self.memoize(obj)

    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray):
            array = obj if obj.flags.c_contiguous else obj.copy(order="C")  # keeps 0-d arrays 0-d
            if array.dtype not in _NP_TO_STORAGE:
                raise TypeError(f"cannot store dtype {array.dtype} in a torch file")
            ref = _StorageRef(str(len(self.storages)), array)
            self.storages.append(ref)
            stride, acc = [], 1
            for dim in reversed(array.shape):
                stride.append(acc)
                acc *= dim
            return (_Global("torch._utils", "_rebuild_tensor_v2"),
                    (ref, 0, tuple(array.shape), tuple(reversed(stride)), False, collections.OrderedDict()))
        return NotImplemented

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            stype = _Global("torch", _NP_TO_STORAGE[obj.array.dtype])
            if self.legacy:
                return ("storage", stype, obj.key, "cpu", obj.array.size, None)
            return ("storage", stype, obj.key, "cpu", obj.array.size)
        return None


def _to_numpy_tree(obj):
    if isinstance(obj, dict):
        return type(obj)((k, _to_numpy_tree(v)) for k, v in obj.items()) if isinstance(
            obj, collections.OrderedDict) else {k: _to_numpy_tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_numpy_tree(v) for v in obj)
    if hasattr(obj, "numpy") and callable(obj.numpy) and not isinstance(obj, np.ndarray):
        return np.asarray(obj.numpy())
    return obj


def write_torch_file(obj: Any, path, legacy: bool = False) -> Path:
    """Save ``obj`` (dicts/lists of arrays, jt.Vars and plain values) as ``torch.save`` would.

    ``legacy=True`` writes the pre-1.6 layout. The file is written to a temporary name first.
    """
    path = Path(path)
    obj = _to_numpy_tree(obj)
    buf = io.BytesIO()
    pickler = _TorchPickler(buf, legacy=legacy)
    pickler.dump(obj)
    tmp = path.with_name(path.name + ".tmp")
    if legacy:
        with open(tmp, "wb") as f:
            for header in (_LEGACY_MAGIC, 1001, dict(protocol_version=1001, little_endian=True,
                                                     type_sizes=dict(short=2, int=4, long=4))):
                pickle.dump(header, f, protocol=2)
            f.write(buf.getvalue())
            pickle.dump([s.key for s in pickler.storages], f, protocol=2)
            for s in pickler.storages:
                f.write(struct.pack("<q", s.array.size))
                f.write(s.array.astype(s.array.dtype.newbyteorder("<"), copy=False).tobytes())
    else:
        name = path.name.split(".")[0] or "archive"
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(f"{name}/data.pkl", buf.getvalue())
            archive.writestr(f"{name}/byteorder", "little")
            for s in pickler.storages:
                archive.writestr(f"{name}/data/{s.key}",
                                 s.array.astype(s.array.dtype.newbyteorder("<"), copy=False).tobytes())
            archive.writestr(f"{name}/version", "3\n")
    os.replace(tmp, path)
    return path
