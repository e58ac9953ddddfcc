"""Web-scale image data: streaming reader and writer of webdataset / img2dataset tar shards.

A shard is a tar file of samples; a sample is the run of consecutive members sharing a key
(``000000123.jpg``, ``000000123.txt``, ``000000123.json``: the img2dataset layout of Coyo-700M and
LAION). Shards are named by brace patterns (``data/{00000..09999}.tar``, several joined by ``::``),
listed in an ``index.json`` (what ``ShardWriter`` and ``tools/mim_subset.py`` write), given as a list,
or found in a folder.

``WebShards`` (registered in ``DATASETS``) streams them:

* the shard list is never materialised: a brace pattern is indexed arithmetically, so 10^5 shards
  cost nothing until read;
* shard ``i`` is read by reader ``i mod R`` of the ``R = world_size x workers`` readers (MPI ranks x
  loader workers), so every sample is read once per epoch by exactly one reader; each reader
  visits its shards in an order drawn from (seed, epoch, reader) and shuffles samples through a
  bounded buffer (``shuffle_buffer`` raw samples: memory stays flat);
* a rank's batch takes samples round-robin from its readers, so batches do not depend on thread
  timing; augmentation draws from a generator seeded by (seed, epoch, reader, position);
* a sample whose image does not decode (corrupt JPEG, missing image member) is skipped, counted and
  named (``stats``, ``skipped_log``; ``jvision.mim.hooks.ShardStatsHook`` writes them to the run's
  log); a truncated or corrupt tar raises ``ShardReadError`` naming the shard;
* resuming at iteration ``k`` replays each reader's stream up to its position (images are decoded
  to tell corrupt samples apart, not augmented), so a resumed run sees the same samples.

Epochs: a reader starts its next epoch when its shards are exhausted (endless training), so with
unequal shards the readers' epoch counters can differ by one. ``len`` is the number of samples (from
``index.json``, img2dataset's ``*_stats.json``, ``length=``, or by scanning the tars); training never
asks for it, so a stream over 10^5 shards starts at once.
"""
from __future__ import annotations

import collections
import io
import json
import os
import queue
import re
import tarfile
import threading
import zlib
from pathlib import Path
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

from ..registry import DATASETS
from .base import Compose
from .image_io import ImageReadError

__all__ = ["ShardReadError", "ShardList", "expand_shards", "iter_tar_samples", "count_tar_samples",
           "ShardWriter", "WebShards", "decode_image_bytes", "IMAGE_KEYS"]

IMAGE_KEYS = ("jpg", "jpeg", "png", "webp", "bmp")
INDEX_NAME = "index.json"


class ShardReadError(RuntimeError):
    """A shard cannot be read (truncated or corrupt tar, missing file); the message names it."""


# ------------------------------------------------------------------------------------------------
# Shard lists (lazy brace patterns)
# ------------------------------------------------------------------------------------------------
_BRACE = re.compile(r"\{([^{}]*)\}")


class _Pattern:
    """One brace pattern, indexable without expanding it: ``a{0..9}b{x,y}`` -> 20 names."""

    def __init__(self, pattern: str):
        self.pattern = pattern
        self.parts: list = []          # literal strings and option sequences, alternating
        pos = 0
        for m in _BRACE.finditer(pattern):
            self.parts.append(pattern[pos:m.start()])
            self.parts.append(self._options(m.group(1), pattern))
            pos = m.end()
        self.parts.append(pattern[pos:])
        self.sizes = [len(p) for p in self.parts[1::2]]
        self.size = int(np.prod(self.sizes, dtype=object)) if self.sizes else 1

    @staticmethod
    def _options(body: str, pattern: str):
        m = re.fullmatch(r"(\d+)\.\.(\d+)", body)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise ValueError(f"shard pattern {pattern!r}: range {{{body}}} is empty")
            width = len(m.group(1)) if m.group(1).startswith("0") else 0
            return _Range(lo, hi, width)
        if "," in body:
            return body.split(",")
        raise ValueError(f"shard pattern {pattern!r}: cannot read the brace {{{body}}} "
                         "(expected {000..999} or {a,b,c})")

    def __getitem__(self, i: int) -> str:
        out, rest = [], i
        digits = []
        for size in reversed(self.sizes):    # the last brace varies fastest
            rest, d = divmod(rest, size)
            digits.append(d)
        digits.reverse()
        for k, part in enumerate(self.parts):
            out.append(part if k % 2 == 0 else part[digits[k // 2]])
        return "".join(out)


class _Range:
    def __init__(self, lo: int, hi: int, width: int):
        self.lo, self.hi, self.width = lo, hi, width

    def __len__(self) -> int:
        return self.hi - self.lo + 1

    def __getitem__(self, i: int) -> str:
        return str(self.lo + i).zfill(self.width)


class ShardList:
    """An indexable list of shard paths over brace patterns and explicit names (never expanded)."""

    def __init__(self, items: Sequence, counts: Sequence[int] | None = None, source: str = ""):
        self._items = list(items)            # _Pattern objects or plain strings
        self._starts = np.cumsum([0] + [it.size if isinstance(it, _Pattern) else 1 for it in self._items])
        self.counts = None if counts is None else [int(c) for c in counts]
        self.source = source

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, i: int) -> str:
        if not 0 <= i < len(self):
            raise IndexError(f"shard index {i} out of range for {len(self)} shards")
        j = int(np.searchsorted(self._starts, i, side="right") - 1)
        item = self._items[j]
        return item[i - int(self._starts[j])] if isinstance(item, _Pattern) else item

    def __iter__(self) -> Iterator[str]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"ShardList({len(self)} shards from {self.source!r})"


def expand_shards(spec) -> ShardList:
    """Shards from a brace pattern (``::`` joins several), a list of paths/patterns, a folder (its
    ``index.json``, else its ``*.tar`` sorted) or an ``index.json`` file."""
    if isinstance(spec, ShardList):
        return spec
    if isinstance(spec, (list, tuple)):
        items = []
        for s in spec:
            items += expand_shards(s)._items
        return ShardList(items, source=f"{len(spec)} specs")
    spec = str(spec)
    path = Path(spec)
    if path.is_dir():
        if (path / INDEX_NAME).is_file():
            return expand_shards(path / INDEX_NAME)
        tars = sorted(str(p) for p in path.glob("*.tar"))
        if not tars:
            raise FileNotFoundError(f"shard folder {spec!r} holds no *.tar files and no {INDEX_NAME}")
        return ShardList(tars, source=spec)
    if path.suffix == ".json" and path.is_file():
        index = json.loads(path.read_text())
        if "shards" not in index:
            raise ValueError(f"{spec}: not a shard index (no 'shards' entry)")
        names = [str(path.parent / s["name"]) for s in index["shards"]]
        return ShardList(names, counts=[s.get("count", 0) for s in index["shards"]], source=spec)
    items = [_Pattern(p) if "{" in p else p for p in spec.split("::") if p]
    if not items:
        raise ValueError(f"empty shard specification {spec!r}")
    return ShardList(items, source=spec)


# ------------------------------------------------------------------------------------------------
# Reading and writing tars
# ------------------------------------------------------------------------------------------------
def _split_key(name: str) -> tuple[str, str]:
    """``dir/000000123.jpg`` -> (``dir/000000123``, ``jpg``): the key ends at the basename's first dot."""
    head, _, base = name.rpartition("/")
    stem, dot, ext = base.partition(".")
    return (f"{head}/{stem}" if head else stem), (ext.lower() if dot else "")


def iter_tar_samples(path: str, skip_data: bool = False) -> Iterator[tuple[str, dict]]:
    """``(key, {ext: bytes})`` for every sample of a tar, in stored order (streamed, never seeks).

    ``skip_data`` yields ``{ext: None}`` without reading the members' bytes (counting).
    Raises ``ShardReadError`` naming the shard for a missing, truncated or corrupt tar.
    """
    if not os.path.isfile(path):
        raise ShardReadError(f"shard {path} does not exist")
    key, members, count = None, {}, 0
    try:
        with tarfile.open(path, mode="r|") as tar:
            for info in tar:
                if not info.isfile():
                    continue
                k, ext = _split_key(info.name)
                if k.startswith("_") or not ext:       # _stats.json-like side files
                    continue
                data = None
                if not skip_data:
                    f = tar.extractfile(info)
                    data = f.read()
                    if len(data) != info.size:
                        raise tarfile.ReadError(f"member {info.name} has {len(data)} of {info.size} bytes")
                if k != key and key is not None:
                    yield key, members
                    count += 1
                    members = {}
                key = k
                members[ext] = data
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise ShardReadError(f"shard {path}: truncated or corrupt tar after {count} samples ({exc})") from None
    if key is not None:
        yield key, members


def count_tar_samples(path: str) -> int:
    return sum(1 for _ in iter_tar_samples(path, skip_data=True))


class ShardWriter:
    """Write samples into ``folder/{prefix}{00000..}.tar`` (``maxcount`` samples each) and an
    ``index.json`` with each shard's count. Tar headers are fixed (mtime 0, no owner), so the same
    samples always give byte-identical shards."""

    def __init__(self, folder: str | os.PathLike, maxcount: int = 1000, prefix: str = ""):
        if maxcount < 1:
            raise ValueError(f"maxcount must be >= 1, got {maxcount}")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.maxcount, self.prefix = int(maxcount), prefix
        self.shards: list[dict] = []
        self._tar = None
        self._count = 0
        self.total = 0
        self.index_path: Path | None = None

    def _open(self) -> None:
        name = f"{self.prefix}{len(self.shards):05d}.tar"
        self._tar = tarfile.open(self.folder / name, "w", format=tarfile.USTAR_FORMAT)
        self.shards.append({"name": name, "count": 0})
        self._count = 0

    def write(self, key: str, members: dict) -> None:
        """``members``: ext -> bytes | str | dict (dicts are written as JSON)."""
        if self._tar is None or self._count >= self.maxcount:
            self._close_tar()
            self._open()
        for ext, value in members.items():
            if isinstance(value, dict):
                value = json.dumps(value, sort_keys=True).encode()
            elif isinstance(value, str):
                value = value.encode("utf-8")
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size, info.mtime, info.mode = len(value), 0, 0o644
            self._tar.addfile(info, io.BytesIO(value))
        self._count += 1
        self.shards[-1]["count"] = self._count
        self.total += 1

    def _close_tar(self) -> None:
        if self._tar is not None:
            self._tar.close()
            self._tar = None

    def close(self, meta: dict | None = None) -> Path:
        """Finish the last shard and write ``index.json`` (once; later calls return its path)."""
        if self.index_path is not None:
            return self.index_path
        self._close_tar()
        index = {"shards": self.shards, "total": self.total, **(meta or {})}
        path = self.folder / INDEX_NAME
        tmp = path.with_name(f".{INDEX_NAME}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(index, indent=1))
        os.replace(tmp, path)
        self.index_path = path
        return path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ------------------------------------------------------------------------------------------------
# The streaming dataset
# ------------------------------------------------------------------------------------------------
def decode_image_bytes(data: bytes) -> np.ndarray:
    """HxWx3 uint8 RGB from encoded bytes; ``ImageReadError`` when they do not decode."""
    if not data:
        raise ImageReadError("empty image member")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        try:
            from PIL import Image
            with Image.open(io.BytesIO(data)) as im:
                return np.asarray(im.convert("RGB"))
        except Exception as exc:  # noqa: BLE001 - any failure means undecodable
            raise ImageReadError(f"undecodable image ({len(data)} bytes): {exc}") from None
    return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


class _Skip(Exception):
    pass


@DATASETS.register()
class WebShards:
    """Streaming dataset over tar shards (see the module docstring).

    Args:
        shards: brace pattern(s), list, folder or ``index.json`` (``expand_shards``).
        pipeline: transforms applied to ``{"img", "meta", ["gt_label"]}``.
        shuffle_buffer: raw samples held for shuffling per reader (0: stored order).
        workers: readers (threads) per rank; default the loader's ``num_workers`` (at least 1).
        length: number of samples, when neither ``index.json`` nor ``_stats.json`` gives it (else the
            tar headers are scanned once).
        label_key: a JSON field (or the ``cls`` member) giving ``gt_label`` (probe / fine-tune data).
        image_keys: member extensions tried for the image, in order.
        shuffle_shards: visit each reader's shards in a per-epoch random order.
    """

    is_stream = True

    def __init__(self, shards, pipeline: Sequence[dict | Callable] | None = None, shuffle_buffer: int = 1000,
                 workers: int | None = None, length: int | None = None, label_key: str | None = None,
                 image_keys: Sequence[str] = IMAGE_KEYS, shuffle_shards: bool = True):
        self.shards = expand_shards(shards)
        if len(self.shards) == 0:
            raise ValueError(f"no shards in {shards!r}")
        self.pipeline = Compose(pipeline)
        self.shuffle_buffer, self.workers = int(shuffle_buffer), workers
        self.label_key, self.image_keys = label_key, tuple(image_keys)
        self.shuffle_shards = shuffle_shards
        self._length = length
        self._lock = threading.Lock()
        self.stats = collections.Counter()
        self.skipped_log: collections.deque = collections.deque(maxlen=1000)

    # -- size ----------------------------------------------------------------------------------
    def shard_count(self, i: int) -> int:
        if self.shards.counts is not None:
            return self.shards.counts[i]
        path = self.shards[i]
        stats = Path(path).with_name(Path(path).stem + "_stats.json")
        if stats.is_file():
            info = json.loads(stats.read_text())
            if "successes" in info:
                return int(info["successes"])
        return count_tar_samples(path)

    def __len__(self) -> int:
        if self._length is None:
            self._length = sum(self.shard_count(i) for i in range(len(self.shards)))
        return int(self._length)

    # -- reading -------------------------------------------------------------------------------
    def _reader_shards(self, reader: int, readers: int, epoch: int, seed: int) -> np.ndarray:
        own = np.arange(reader, len(self.shards), readers)
        if self.shuffle_shards:
            own = np.random.default_rng([seed, epoch, reader, 7]).permutation(own)
        return own

    def raw_stream(self, reader: int, readers: int, epoch: int, seed: int) -> Iterator[tuple[str, str, dict]]:
        """``(shard, key, members)`` of one reader for one epoch, through the shuffle buffer."""
        rng = np.random.default_rng([seed, epoch, reader, 11])
        buffer: list = []
        for i in self._reader_shards(reader, readers, epoch, seed):
            path = self.shards[int(i)]
            for key, members in iter_tar_samples(path):
                item = (path, key, members)
                if self.shuffle_buffer <= 1:
                    yield item
                    continue
                if len(buffer) < self.shuffle_buffer:
                    buffer.append(item)
                    continue
                j = int(rng.integers(len(buffer)))
                buffer[j], item = item, buffer[j]
                yield item
        while buffer:
            yield buffer.pop(int(rng.integers(len(buffer))))

    def decode(self, shard: str, key: str, members: dict) -> dict:
        """The raw sample: ``img`` (RGB uint8), ``meta`` (key, shard, caption, json), ``gt_label``."""
        name = f"{shard}:{key}"
        image = next((members[k] for k in self.image_keys if k in members), None)
        if image is None:
            raise _Skip(f"{name}: no image member (has {sorted(members)})")
        try:
            img = decode_image_bytes(image)
        except ImageReadError as exc:
            raise _Skip(f"{name}: {exc}") from None
        meta = {"filename": name, "key": key, "shard": shard, "ori_shape": img.shape[:2]}
        if "txt" in members:
            meta["caption"] = members["txt"].decode("utf-8", "replace")
        if "json" in members:
            try:
                meta["json"] = json.loads(members["json"])
            except ValueError:
                meta["json"] = {}
        sample = {"img": img, "meta": meta}
        if self.label_key is not None:
            if self.label_key == "cls" and "cls" in members:
                sample["gt_label"] = int(members["cls"].decode().strip())
            elif self.label_key in meta.get("json", {}):
                sample["gt_label"] = int(meta["json"][self.label_key])
            else:
                raise _Skip(f"{name}: no label {self.label_key!r}")
        return sample

    def _note_skip(self, message: str) -> None:
        with self._lock:
            self.stats["skipped"] += 1
            self.skipped_log.append(message)

    def sample_stream(self, reader: int, readers: int, seed: int, start: int = 0,
                      endless: bool = True) -> Iterator[tuple[int, dict]]:
        """``(epoch, prepared sample)`` of one reader, skipping undecodable samples; the first
        ``start`` good samples are consumed without running the pipeline (resume)."""
        epoch, position = 0, 0
        while True:
            produced = 0
            for shard, key, members in self.raw_stream(reader, readers, epoch, seed):
                try:
                    sample = self.decode(shard, key, members)
                except _Skip as exc:
                    if position >= start:
                        self._note_skip(str(exc))
                    continue
                produced += 1
                position += 1
                if position <= start:
                    continue
                rng = np.random.default_rng([seed, epoch, reader, position])
                with self._lock:
                    self.stats["samples"] += 1
                yield epoch, self.pipeline(sample, rng)
            if produced == 0:
                raise ShardReadError(f"reader {reader} of {readers} found no decodable sample in its shards "
                                     f"({len(self._reader_shards(reader, readers, epoch, seed))} of "
                                     f"{len(self.shards)}) in epoch {epoch}")
            if not endless:
                return
            epoch += 1

    def iter_batches(self, loader, step: int = 0, endless: bool = True) -> Iterator[tuple[int, dict]]:
        """Per-rank batches for ``jvision.data.loader.DataLoader`` (it delegates here for streams)."""
        from .loader import collate

        workers = max(1, int(self.workers if self.workers is not None else loader.num_workers or 1))
        if self.workers is None:     # the loader's worker count is a wish: never more readers than shards
            workers = max(1, min(workers, len(self.shards) // loader.world_size))
        readers = loader.world_size * workers
        if readers > len(self.shards):
            raise ValueError(f"{len(self.shards)} shards cannot feed {readers} readers ({loader.world_size} "
                             f"ranks x {workers} workers): use fewer workers or more, smaller shards")
        per_rank = loader.batch_size // loader.world_size if loader.drop_last else \
            -(-loader.batch_size // loader.world_size)
        consumed = step * per_rank
        ids = [loader.rank * workers + w for w in range(workers)]
        starts = [consumed // workers + (1 if w < consumed % workers else 0) for w in range(workers)]
        streams = [self.sample_stream(r, readers, loader.seed, s, endless) for r, s in zip(ids, starts)]
        feeds = _threaded(streams) if workers > 1 else streams
        active = list(range(workers))          # readers still producing (all of them when endless)
        turn = consumed % workers
        try:
            while True:
                batch, epoch = [], 0
                while len(batch) < per_rank:
                    if not active:
                        if batch and not loader.drop_last:
                            yield epoch, collate(batch)
                        return
                    w = active[turn % len(active)]
                    try:
                        epoch, sample = next(feeds[w])
                    except StopIteration:
                        active.remove(w)
                        continue
                    batch.append(sample)
                    turn = (active.index(w) + 1) % len(active)
                yield epoch, collate(batch)
        finally:
            for f in feeds:
                close = getattr(f, "close", None)
                if close:
                    close()

    def __repr__(self) -> str:
        return f"WebShards({self.shards!r}, shuffle_buffer={self.shuffle_buffer}, pipeline={self.pipeline!r})"


class _ThreadedStream:
    """Runs a generator in a thread, a few items ahead (bounded queue)."""

    _END = object()

    def __init__(self, gen, ahead: int = 8):
        self._gen, self._q = gen, queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            for item in self._gen:
                while not self._stop.is_set():
                    try:
                        self._q.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._q.put((True, self._END))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            self._q.put((False, exc))

    def __next__(self):
        ok, item = self._q.get()
        if not ok:
            raise item
        if item is self._END:
            raise StopIteration
        return item

    def close(self):
        self._stop.set()
        while True:   # unblock a producer waiting on a full queue
            try:
                self._q.get_nowait()
            except queue.Empty:
                break


def _threaded(streams):
    return [_ThreadedStream(s) for s in streams]
