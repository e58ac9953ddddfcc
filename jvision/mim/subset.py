"""Fixed-seed subsets of a shard collection, written as new shards plus an index.

The data-scaling study pre-trains on random subsets of Coyo-700M (0.5M ... 100M images); this draws
such subsets from any webdataset collection, by one of several strategies:

* ``uniform`` (the paper's): exactly ``n`` samples, every sample equally likely, by selection
  sampling (Knuth's algorithm S) in one streaming pass: memory does not grow with ``n``;
* ``top`` / ``bottom``: the ``n`` samples with the highest / lowest value of a ``column``;
* ``weighted``: ``n`` samples drawn without replacement with probability proportional to a
  (non-negative) ``column`` (Efraimidis-Spirakis keys);
* any strategy after ``min`` / ``max`` bounds on a ``column`` (e.g. uniform among the samples whose
  ``aesthetic_score_laion_v2 >= 5``).

Columns are fields of the per-sample JSON (Coyo: ``clip_similarity_vitb32``,
``aesthetic_score_laion_v2``, ``watermark_score``, ``width``, ...) or derived ones:
``caption_length`` (characters of the ``txt`` member or the JSON ``caption``), ``image_area``
(width x height) and ``min_side``. A sample without the column is not eligible (and counted).

Determinism: the selection is a function of (collection, strategy, column, bounds, n, seed); ties
are broken by a hash of (seed, key); the output keeps the source order and fixed tar headers, so the
same arguments give byte-identical shards. ``index.json`` records the arguments and the source.
"""
from __future__ import annotations

import hashlib
import heapq
import json
import math
from pathlib import Path
from typing import Iterator

import numpy as np

from ..data.shards import ShardWriter, expand_shards, iter_tar_samples

__all__ = ["STRATEGIES", "DERIVED_COLUMNS", "sample_value", "build_subset"]

STRATEGIES = ("uniform", "top", "bottom", "weighted")
DERIVED_COLUMNS = ("caption_length", "image_area", "min_side")


def _json(members: dict) -> dict:
    try:
        return json.loads(members["json"]) if members.get("json") else {}
    except ValueError:
        return {}


def sample_value(members: dict, column: str) -> float | None:
    """The value of ``column`` for one sample's members (None when it has none)."""
    meta = _json(members)
    if column == "caption_length":
        if members.get("txt") is not None:
            return float(len(members["txt"].decode("utf-8", "replace")))
        return float(len(meta["caption"])) if isinstance(meta.get("caption"), str) else None
    if column in ("image_area", "min_side"):
        w, h = meta.get("width"), meta.get("height")
        if not isinstance(w, (int, float)) or not isinstance(h, (int, float)):
            return None
        return float(w * h) if column == "image_area" else float(min(w, h))
    value = meta.get(column)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _tie(seed: int, key: str) -> float:
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2.0 ** 64


def _walk(shards, skip_data: bool) -> Iterator[tuple[int, str, dict]]:
    for i in range(len(shards)):
        for key, members in iter_tar_samples(shards[i], skip_data=skip_data):
            yield i, key, members


def build_subset(source, out_dir, n: int, strategy: str = "uniform", seed: int = 0, column: str | None = None,
                 min_value: float | None = None, max_value: float | None = None, shard_size: int = 1000,
                 log=print) -> dict:
    """Draw ``n`` samples of ``source`` (shards: pattern, folder, index.json) into ``out_dir``.

    Returns the written index (``shards``, ``total``, ``subset``: the arguments, counts of eligible
    and skipped samples, and the source).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"subset strategy {strategy!r} unknown; choose from {STRATEGIES}")
    if strategy != "uniform" and not column:
        raise ValueError(f"subset strategy {strategy!r} needs a column (a JSON field or one of {DERIVED_COLUMNS})")
    if (min_value is not None or max_value is not None) and not column:
        raise ValueError("min/max bounds need a column")
    if n < 1:
        raise ValueError(f"subset size n must be >= 1, got {n}")
    shards = expand_shards(source)
    out_dir = Path(out_dir)
    if (out_dir / "index.json").exists():
        raise FileExistsError(f"{out_dir} already holds a shard index; choose a new folder")

    def eligible(members) -> tuple[bool, float | None]:
        if column is None:
            return True, None
        value = sample_value(members, column)
        if value is None:
            return False, None
        if (min_value is not None and value < min_value) or (max_value is not None and value > max_value):
            return False, value
        return True, value

    # pass 1: metadata only (json/txt are read, image bytes are read but not kept)
    missing = 0
    selected: set[tuple[int, str]] = set()
    candidates = 0
    if strategy == "uniform":
        if column is None and shards.counts is not None:
            candidates = sum(shards.counts)
        else:
            for _, _, members in _walk(shards, skip_data=column is None):
                ok, value = eligible(members)
                candidates += ok
                missing += column is not None and value is None
        if n > candidates:
            raise ValueError(f"{shards.source}: only {candidates} eligible samples, cannot draw {n}")
        rng = np.random.default_rng([seed, 0x5EB])
        seen = 0
        for i, key, members in _walk(shards, skip_data=column is None):
            if column is not None and not eligible(members)[0]:
                continue
            if rng.random() * (candidates - seen) < n - len(selected):   # algorithm S
                selected.add((i, key))
            seen += 1
            if len(selected) == n:
                break
    else:
        heap: list = []
        rng = np.random.default_rng([seed, 0x5EB])
        for i, key, members in _walk(shards, skip_data=False):
            ok, value = eligible(members)
            if value is None:
                missing += 1
            if not ok:
                continue
            candidates += 1
            if strategy == "top":
                score = value
            elif strategy == "bottom":
                score = -value
            else:
                if value < 0:
                    raise ValueError(f"weighted sampling needs non-negative {column!r}, got {value} for {key}")
                u = float(rng.random())
                score = math.log(u) / value if value > 0 else -math.inf   # log(u^(1/w)): larger is kept
            item = (score, _tie(seed, key), i, key)
            if len(heap) < n:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
        if len(heap) < n:
            raise ValueError(f"{shards.source}: only {len(heap)} eligible samples for column {column!r}, "
                             f"cannot draw {n}")
        selected = {(i, key) for _, _, i, key in heap}

    # pass 2: copy the selected samples, in source order
    written = 0
    with ShardWriter(out_dir, maxcount=shard_size) as writer:
        for i, key, members in _walk(shards, skip_data=False):
            if (i, key) in selected:
                writer.write(key, members)
                written += 1
                if written == len(selected):
                    break
        meta = {"subset": {"strategy": strategy, "n": n, "seed": seed, "column": column, "min": min_value,
                           "max": max_value, "source": shards.source, "source_shards": len(shards),
                           "eligible": candidates, "missing_column": missing}}
        writer.close(meta=meta)
    index = json.loads((out_dir / "index.json").read_text())
    if log:
        log(f"wrote {index['total']} samples in {len(index['shards'])} shards to {out_dir} "
            f"({strategy}{' by ' + column if column else ''}, seed {seed}; {candidates} eligible"
            + (f", {missing} without {column!r}" if missing else "") + ")")
    return index
