"""Web shards (jvision.data.shards), the built-in collection and the subset builder (jvision.mim.subset)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

import jvision  # noqa: F401
from jvision.data.builtin_shards import make_builtin_shards
from jvision.data.loader import DataLoader
from jvision.data.shards import ShardReadError, ShardWriter, WebShards, expand_shards, iter_tar_samples
from jvision.mim.subset import build_subset


def _jpeg(value: int) -> bytes:
    img = np.full((8, 8, 3), value % 256, np.uint8)
    return cv2.imencode(".jpg", img)[1].tobytes()


def _collection(folder, shards: int = 8, per_shard: int = 5, corrupt: str | None = None):
    with ShardWriter(folder, maxcount=per_shard) as writer:
        for i in range(shards * per_shard):
            key = f"{i // per_shard:05d}{i % per_shard:04d}"
            image = b"\xff\xd8\xff\xe0 not a jpeg" if key == corrupt else _jpeg(i)
            writer.write(key, {"jpg": image, "txt": "x" * (i % 7), "json": {"key": key, "score": float(i % 11),
                                                                             "width": 8 + i, "height": 8}})
    return folder


def _loader(rank: int, world: int, workers: int, batch: int = 4, drop_last: bool = False):
    return SimpleNamespace(batch_size=batch, world_size=world, rank=rank, seed=3, drop_last=drop_last,
                           num_workers=workers)


def _keys(ds, loader, step=0, endless=False, limit=None):
    keys = []
    for n, (_, batch) in enumerate(ds.iter_batches(loader, step, endless)):
        keys.append([m["key"] for m in batch["meta"]])
        if limit and n + 1 >= limit:
            break
    return keys


def test_ranks_and_workers_partition_the_samples_exactly(tmp_path):
    folder = _collection(tmp_path / "c")
    ds = WebShards(str(folder), shuffle_buffer=4)
    assert len(ds) == 40
    seen = []
    for rank in range(2):
        got = [k for batch in _keys(ds, _loader(rank, 2, 2)) for k in batch]
        assert len(got) == 20 and len(set(got)) == 20        # 8 shards of 5 over 4 readers: 2 shards each
        seen += got
    assert sorted(seen) == sorted(f"{i // 5:05d}{i % 5:04d}" for i in range(40))
    again = [k for batch in _keys(ds, _loader(0, 2, 2)) for k in batch]
    first = [k for batch in _keys(WebShards(str(folder), shuffle_buffer=4), _loader(0, 2, 2)) for k in batch]
    assert again == first                                     # same seed, same order (threads or not)
    with pytest.raises(ValueError, match="cannot feed"):
        next(WebShards(str(folder), workers=8).iter_batches(_loader(0, 2, 8)))
    wished = [k for batch in _keys(ds, _loader(0, 2, 8)) for k in batch]   # 8 workers wished: 4 readers used
    other = [k for batch in _keys(ds, _loader(1, 2, 8)) for k in batch]
    assert len(set(wished)) == 20 and sorted(wished + other) == sorted(seen)


def test_resume_replays_the_stream(tmp_path):
    folder = _collection(tmp_path / "c")
    ds = WebShards(str(folder), shuffle_buffer=6)
    full = _keys(ds, _loader(1, 2, 2, batch=6, drop_last=True), endless=True, limit=9)
    resumed = _keys(ds, _loader(1, 2, 2, batch=6, drop_last=True), step=4, endless=True, limit=5)
    assert resumed == full[4:]


def test_corrupt_jpeg_is_skipped_and_counted(tmp_path):
    folder = _collection(tmp_path / "c", corrupt="000030002")
    ds = WebShards(str(folder), shuffle_buffer=0)
    got = [k for batch in _keys(ds, _loader(0, 1, 1)) for k in batch]
    assert len(got) == 39 and "000030002" not in got
    assert ds.stats["skipped"] == 1 and ds.stats["samples"] == 39
    assert "00003.tar:000030002" in ds.skipped_log[0] and "undecodable" in ds.skipped_log[0]


def test_truncated_tar_raises_naming_the_shard(tmp_path):
    folder = _collection(tmp_path / "c")
    shard = folder / "00002.tar"
    data = shard.read_bytes()
    shard.write_bytes(data[:len(data) // 2 + 100])
    with pytest.raises(ShardReadError, match="00002.tar: truncated or corrupt tar"):
        list(iter_tar_samples(str(shard)))
    ds = WebShards(str(folder), shuffle_buffer=0, shuffle_shards=False)
    with pytest.raises(ShardReadError, match="00002.tar"):
        _keys(ds, _loader(0, 1, 2))


def test_brace_patterns_are_indexed_not_expanded():
    start = time.time()
    shards = expand_shards("s3/coyo/{000000..999999}.tar::extra/{a,b}-{00..09}.tar")
    assert len(shards) == 1_000_020 and time.time() - start < 0.1
    assert shards[0] == "s3/coyo/000000.tar" and shards[999_999] == "s3/coyo/999999.tar"
    assert shards[1_000_000] == "extra/a-00.tar" and shards[1_000_019] == "extra/b-09.tar"
    with pytest.raises(ValueError, match="brace"):
        expand_shards("x/{1-9}.tar")


def test_loader_streams_builtin_shards_with_a_pipeline(tmp_path):
    folder = make_builtin_shards(tmp_path, num_samples=24, image_size=16, shard_size=6)
    index = json.loads((folder / "index.json").read_text())
    assert index["total"] == 24 and [s["count"] for s in index["shards"]] == [6, 6, 6, 6]
    with tarfile_members(folder / "00000.tar") as names:
        assert names[:3] == ["000000000.jpg", "000000000.txt", "000000000.json"]
    pipeline = [dict(type="RandomResizedCrop", size=16, scale=(0.2, 1.0), interpolation="bicubic"),
                dict(type="RandomHorizontalFlip"), dict(type="ToTensor"), dict(type="Normalize")]
    ds = WebShards(str(folder), pipeline=pipeline, label_key="label", shuffle_buffer=8)
    loader = DataLoader(ds, batch_size=4, shuffle=True, drop_last=True, seed=0, num_workers=2)
    epoch, batch = next(loader.iter_from(0))
    assert tuple(batch["img"].shape) == (4, 3, 16, 16) and batch["gt_label"].shape[0] == 4
    meta = batch["meta"][0]["json"]
    for field in ("key", "url", "caption", "width", "height", "clip_similarity_vitb32", "aesthetic_score_laion_v2",
                  "label", "status"):
        assert field in meta


class tarfile_members:
    def __init__(self, path):
        import tarfile
        self.tar = tarfile.open(path)

    def __enter__(self):
        return self.tar.getnames()

    def __exit__(self, *exc):
        self.tar.close()


def test_subset_builder_is_deterministic_and_exact(tmp_path):
    source = _collection(tmp_path / "c", shards=6, per_shard=10)
    a = build_subset(str(source), tmp_path / "a", 17, seed=1, shard_size=5, log=None)
    b = build_subset(str(source), tmp_path / "b", 17, seed=1, shard_size=5, log=None)
    c = build_subset(str(source), tmp_path / "c2", 17, seed=2, shard_size=5, log=None)
    assert a["total"] == 17 and [s["count"] for s in a["shards"]] == [5, 5, 5, 2]
    for s in a["shards"]:
        assert (tmp_path / "a" / s["name"]).read_bytes() == (tmp_path / "b" / s["name"]).read_bytes()
    keys = lambda d: [k for s in json.loads((d / "index.json").read_text())["shards"]  # noqa: E731
                      for k, _ in iter_tar_samples(str(d / s["name"]))]
    assert keys(tmp_path / "a") != keys(tmp_path / "c2") and len(set(keys(tmp_path / "c2"))) == 17
    top = build_subset(str(source), tmp_path / "top", 6, strategy="top", column="score", log=None)
    scores = [json.loads(m["json"])["score"] for k, m in iter_tar_samples(str(tmp_path / "top" / "00000.tar"))]
    assert top["total"] == 6 and sorted(scores) == [9.0] + [10.0] * 5
    build_subset(str(source), tmp_path / "wide", 5, column="image_area", min_value=8 * 50, log=None)
    widths = [json.loads(m["json"])["width"] for k, m in iter_tar_samples(str(tmp_path / "wide" / "00000.tar"))]
    assert len(widths) == 5 and min(widths) >= 50
    with pytest.raises(ValueError, match="only 10 eligible"):
        build_subset(str(source), tmp_path / "x", 11, column="width", min_value=58, log=None)


def test_subset_tool_runs(tmp_path, repo_root):
    source = _collection(tmp_path / "c", shards=2, per_shard=4)
    out = subprocess.run([sys.executable, str(repo_root / "tools/mim_subset.py"), str(source), str(tmp_path / "s"),
                          "--n", "3", "--strategy", "weighted", "--column", "caption_length", "--seed", "4"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "s/index.json").read_text())["subset"]["strategy"] == "weighted"
    assert "wrote 3 samples" in out.stdout
