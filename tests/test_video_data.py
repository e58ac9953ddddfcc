"""Video data: frame sampling against the official VideoMAE rules, OpenCV reading of files and frame
folders, the Kinetics-400 and Something-Something-v2 layouts, unreadable videos skipped and counted,
multi-view test samples, the temporal-shift target view, clip transforms and the synthetic actions."""
from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

import jvision  # noqa: F401
from jvision.data.loader import DataLoader
from jvision.data.video import (ClipApply, Kinetics400, MultiScaleCrop, SomethingSomethingV2, SyntheticActions,
                                UniformCrop, VideoReadError, VideoReader, dense_indices, dense_sample,
                                dense_test_indices, render_action, segment_indices, segment_test_indices,
                                write_video)

FORMAT = [dict(type="ClipApply", transforms=[dict(type="ToTensor")])]


# ------------------------------------------------------------------------------------------------
# Frame indices: the official rules, transcribed independently
# ------------------------------------------------------------------------------------------------
def _videomae_pretrain_ids(n, new_length, new_step, offset):
    """kinetics.py VideoMAE: _sample_train_indices (num_segments=1) + _video_TSN_decord_batch_loader,
    for a given random draw ``offset`` (0-based start)."""
    seg_ind = offset + 1
    ids, off = [], int(seg_ind)
    for _ in range(0, new_length * new_step, new_step):
        ids.append(off - 1)      # skip_offsets are 0 without temporal jitter
        if off + new_step < n:
            off += new_step
    return ids


def test_dense_indices_follow_videomae_loader():
    # long video: stride 4 from the start
    np.testing.assert_array_equal(dense_indices(300, 16, 4, 10), 10 + 4 * np.arange(16))
    # the official walk stops advancing before the last frame
    for n, start in ((70, 6), (64, 0), (20, 0), (9, 0)):
        assert dense_indices(n, 16, 4, start).tolist() == _videomae_pretrain_ids(n, 16, 4, start), (n, start)
    assert dense_indices(9, 16, 4, 0).tolist() == [0, 4] + [4] * 14
    # the random start covers [0, n - 16 * 4] and nothing else
    starts = {int(dense_sample(100, 16, 4, np.random.default_rng(s))[0]) for s in range(400)}
    assert min(starts) == 0 and max(starts) == 100 - 64 and len(starts) == 37
    assert dense_sample(40, 16, 4, np.random.default_rng(0))[0] == 0            # shorter than a clip


def test_dense_test_clips_follow_kinetics_test_mode():
    # kinetics.py test: every 4th frame, then test_num_segment windows evenly spaced over them
    n, clip, rate, clips = 250, 16, 4, 5
    sub = list(range(0, n, rate))                               # 63 subsampled frames
    step = (len(sub) - clip) / (clips - 1)
    expect = [sub[int(c * step):int(c * step) + clip] for c in range(clips)]
    np.testing.assert_array_equal(dense_test_indices(n, clip, rate, clips), expect)
    short = dense_test_indices(30, 16, 4, 2)                    # padded with the last frame
    assert short.shape == (2, 16) and (short[0] == short[1]).all() and short[0, -1] == 28


def test_segment_indices_follow_tsn_and_ssv2_test():
    rng = np.random.default_rng(0)
    ids = segment_indices(50, 16, rng)                          # average duration 3
    assert ids.shape == (16,) and (ids // 3 == np.arange(16)).all()
    assert (np.diff(segment_indices(10, 16, np.random.default_rng(1))) >= 0).all()   # n < segments: sorted
    assert (segment_indices(16, 16, rng) == np.arange(16)).all()
    # ssv2.py test: [int(tick / 2 + tick * x)] + [int(tick * x)], sorted, clip c = buffer[c::2]
    n, seg = 47, 16
    tick = n / float(seg)
    buffer = sorted([int(tick / 2.0 + tick * x) for x in range(seg)] + [int(tick * x) for x in range(seg)])
    np.testing.assert_array_equal(segment_test_indices(n, seg, 2), [buffer[0::2], buffer[1::2]])


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return render_action(0, 12, 32, np.random.default_rng(7))


def test_reader_files_and_frame_folders(tmp_path, clip):
    for name in ("a.mp4", "b.webm", "c.avi"):
        reader = VideoReader(write_video(tmp_path / name, clip))
        assert len(reader) == 12
        frames = reader.read([11, 0, 5, 5])
        assert frames.shape == (4, 32, 32, 3) and frames.dtype == np.uint8
        np.testing.assert_array_equal(frames[2], frames[3])
        assert np.abs(frames[1].astype(int) - clip[0]).mean() < 20, name   # lossy codecs, same picture
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(clip):
        cv2.imwrite(str(folder / f"img_{i + 1:05d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    reader = VideoReader(folder)
    assert len(reader) == 12
    np.testing.assert_array_equal(reader.read([3, 7]), clip[[3, 7]])        # PNG: exact, RGB order


def test_reader_errors_name_the_file(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "junk.mp4").write_bytes(b"not a video" * 200)
    for name, what in (("missing.mp4", "no such"), ("empty.mp4", "empty"), ("junk.mp4", "cannot open")):
        with pytest.raises(VideoReadError, match=what) as info:
            VideoReader(tmp_path / name)
        assert name in str(info.value)


def test_tools_frame_source_decodes_as_the_reader_and_checks_masks(tmp_path, clip):
    """``jvision.video.io`` (the tools' whole-video source: decoded once into a spool) returns the
    frames ``VideoReader`` decodes, and shares its error type and writer."""
    from jvision.video.io import VideoWriter, open_frames, open_masks
    path = write_video(tmp_path / "v.mp4", clip)
    src = open_frames(path)
    assert len(src) == 12 and src.size == (32, 32)
    np.testing.assert_array_equal(np.stack([src[i] for i in (0, 5, 11)]), VideoReader(path).read([0, 5, 11]))
    assert open_frames(path, size=(16, 24))[3].shape == (16, 24, 3)
    mask = np.zeros((32, 32), np.uint8)
    mask[8:16, 8:16] = 255
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    masks = open_masks(tmp_path / "m.png", 12, src.source_size)
    assert len(masks) == 12 and (masks[11] == mask).all()
    with pytest.raises(ValueError, match=r"m\.png: masks are 32x32 \(WxH\) but the frames are 40x32"):
        open_masks(tmp_path / "m.png", 12, (32, 40))
    with pytest.raises(VideoReadError, match="nowhere.mp4: no such"):
        open_frames(tmp_path / "nowhere.mp4")
    with pytest.raises(ValueError, match=r"w\.mp4: frame of \(8, 8\)"):
        with VideoWriter(tmp_path / "w.mp4", 24, (32, 32)) as w:
            w.write(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="unsupported video extension '.mkv'"):
        write_video(tmp_path / "x.mkv", clip)


# ------------------------------------------------------------------------------------------------
# Datasets
# ------------------------------------------------------------------------------------------------
def test_kinetics_list_skips_and_counts_unreadable_videos(tmp_path, clip):
    write_video(tmp_path / "v0.mp4", clip)
    write_video(tmp_path / "sub" / "v1.mp4", clip[::-1])
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 4096)
    (tmp_path / "list.csv").write_text("v0.mp4 0\nbroken.mp4 1\nsub/v1.mp4 2\nmissing.mp4 3\n")
    ds = Kinetics400(str(tmp_path), str(tmp_path / "list.csv"), num_classes=4, pipeline=FORMAT,
                     sampling=dict(type="dense", clip_len=4, frame_interval=2))
    loader = DataLoader(ds, batch_size=4, shuffle=True, drop_last=True, seed=0)
    batches = [b for _, b in zip(range(3), loader.iter_from(0))]              # 12 samples, never a crash
    assert all(tuple(b["img"].shape) == (4, 3, 4, 32, 32) for _, b in batches)
    assert ds.stats["samples"] >= 12 and ds.stats["skipped"] >= 2             # (the loader prefetches)
    named = " ".join(ds.skipped_log)
    assert "broken.mp4" in named and "missing.mp4" in named
    assert all(f.endswith(("v0.mp4", "v1.mp4")) for _, b in batches for f in (m["filename"] for m in b["meta"]))
    with pytest.raises(ValueError, match="outside"):
        Kinetics400(str(tmp_path), str(tmp_path / "list.csv"), num_classes=3)


def test_kinetics_official_csv_layout(tmp_path, clip):
    write_video(tmp_path / "abseiling" / "yt1_000010_000020.mp4", clip)
    write_video(tmp_path / "yt2_000000_000010.mp4", clip)
    (tmp_path / "k400.csv").write_text("label,youtube_id,time_start,time_end,split\n"
                                       "abseiling,yt1,10,20,train\nzumba,yt2,0,10,train\n")
    ds = Kinetics400(str(tmp_path), str(tmp_path / "k400.csv"), num_classes=None)
    assert [(p.split("/")[-1], y) for p, y in ds.items] == [("yt1_000010_000020.mp4", 0), ("yt2_000000_000010.mp4", 1)]
    assert all(VideoReader(p) for p, _ in ds.items)


def test_ssv2_json_layout_with_webm_and_frames(tmp_path, clip):
    videos = tmp_path / "videos"
    write_video(videos / "101.webm", clip)
    (videos / "102").mkdir(parents=True)
    for i, f in enumerate(clip):
        cv2.imwrite(str(videos / "102" / f"img_{i + 1:05d}.jpg"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    labels = {"Pushing something from left to right": "0", "Pushing something from right to left": "1"}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    (tmp_path / "train.json").write_text(json.dumps([
        {"id": "101", "label": "pushing a cup from left to right", "template": "Pushing [something] from left to right",
         "placeholders": ["a cup"]},
        {"id": "102", "label": "pushing a pen from right to left", "template": "Pushing [something] from right to left",
         "placeholders": ["a pen"]}]))
    ds = SomethingSomethingV2(str(videos), str(tmp_path / "train.json"), str(tmp_path / "labels.json"), pipeline=FORMAT,
                              sampling=dict(type="segment", num_segments=8))
    assert [y for _, y in ds.items] == [0, 1] and ds.items[1][0].endswith("102")
    for i in range(2):
        sample = ds.prepare(i, np.random.default_rng(i))
        assert sample["img"].shape == (3, 8, 32, 32) and sample["gt_label"] == i
    assert ds.stats["skipped"] == 0


def test_multi_view_test_samples(tmp_path):
    tall = np.zeros((10, 48, 32, 3), np.uint8)
    tall[:, :, :, 0] = np.arange(48, dtype=np.uint8)[None, :, None] * 5     # red encodes the row
    folder = tmp_path / "tall"
    folder.mkdir()
    for i, f in enumerate(tall):
        cv2.imwrite(str(folder / f"{i:03d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    (tmp_path / "list.txt").write_text("tall 0\n")
    pipeline = [dict(type="ClipApply", transforms=[dict(type="UniformCrop", size=32), dict(type="ToTensor")])]
    ds = Kinetics400(str(tmp_path), str(tmp_path / "list.txt"), test_mode=True, num_clips=2, num_crops=3,
                     pipeline=pipeline, sampling=dict(type="dense", clip_len=4, frame_interval=2))
    sample = ds.prepare(0)
    assert sample["img"].shape == (6, 3, 4, 32, 32) and sample["num_views"] == 6
    first_rows = sample["img"][:3, 0, 0, :, 0][:, 0] / 5                    # crops at rows 0, 8, 16
    np.testing.assert_array_equal(first_rows, [0, 8, 16])
    np.testing.assert_array_equal(sample["meta"]["frame_inds"], [[0, 2, 4, 6], [2, 4, 6, 8]])
    again = ds.prepare(0, np.random.default_rng(99))                          # deterministic views
    np.testing.assert_array_equal(sample["img"], again["img"])


def test_temporal_shift_target_view_and_shared_crop():
    pipeline = [dict(type="ClipApply", keys=("img", "img_t"),
                     transforms=[dict(type="RandomResizedCrop", size=16, scale=(0.3, 0.6))]),
                dict(type="ClipApply", keys=("img", "img_t"), transforms=[dict(type="ToTensor")])]
    ds = SyntheticActions(num_classes=2, samples_per_class=2, num_frames=16, frame_size=32, pipeline=pipeline,
                          sampling=dict(type="dense", clip_len=4, frame_interval=2), target_view=dict(shift=(3, 3)))
    raw = ds._load(0, np.random.default_rng(5))
    video = ds.open(0).read(np.arange(16))
    idx = raw["meta"]["frame_inds"][0]
    np.testing.assert_array_equal(raw["img"][0], video[idx])
    np.testing.assert_array_equal(raw["img_t"], video[np.minimum(idx + 3, 15)])
    sample = ds.prepare(0, np.random.default_rng(5))
    assert sample["img"].shape == sample["img_t"].shape == (3, 4, 16, 16)
    # one crop for both clips: frames they share are identical
    same = SyntheticActions(num_classes=2, samples_per_class=2, num_frames=16, frame_size=32, pipeline=pipeline,
                            sampling=dict(type="dense", clip_len=4, frame_interval=1), target_view=dict(shift=(2, 2)))
    s = same.prepare(1, np.random.default_rng(3))
    idx = s["meta"]["frame_inds"][0]
    if idx[-1] + 2 <= 15:                                      # not clamped at the end
        np.testing.assert_array_equal(s["img"][:, 2:], s["img_t"][:, :2])


def test_clip_apply_same_draw_on_every_frame_and_layouts():
    frame = np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    clip = np.stack([frame] * 5)
    t = ClipApply([dict(type="RandomResizedCrop", size=12, scale=(0.2, 0.5)), dict(type="ColorJitter", hue=0.1),
                   dict(type="RandomHorizontalFlip")])
    out = t({"img": clip}, np.random.default_rng(1))["img"]
    assert out.shape == (5, 12, 12, 3) and out.dtype == np.uint8 and (out == out[:1]).all()
    chw = ClipApply([dict(type="ToTensor")])({"img": clip}, np.random.default_rng(1))["img"]
    assert chw.shape == (3, 5, 20, 24) and chw.dtype == np.float32
    np.testing.assert_array_equal(chw[:, 2], frame.transpose(2, 0, 1))
    with pytest.raises(TypeError, match="clip"):
        t({"img": frame}, np.random.default_rng(0))


def test_multiscale_and_uniform_crops():
    crop = MultiScaleCrop(size=32)
    sizes = {crop.get_params(48, 64, np.random.default_rng(s))[2:] for s in range(300)}
    sides = [48, 42, 36, 32]                    # int(48 * s) for s in (1, .875, .75, .66); 31 snaps to 32
    assert sizes <= {(h, w) for h in sides for w in sides}
    assert all(abs(sides.index(h) - sides.index(w)) <= 1 for h, w in sizes) and len(sizes) == 10
    out = crop({"img": np.zeros((48, 64, 3), np.uint8)}, np.random.default_rng(0))["img"]
    assert out.shape == (32, 32, 3)
    wide = np.tile(np.arange(40, dtype=np.uint8)[None, :, None], (20, 1, 3))
    cols = [UniformCrop(20)({"img": wide, "meta": dict(crop_index=i, num_crops=3)}, None)["img"][0, 0, 0]
            for i in range(3)]
    assert cols == [0, 10, 20]
    with pytest.raises(ValueError, match="shorter side"):
        UniformCrop(32)({"img": wide}, None)


# ------------------------------------------------------------------------------------------------
# Synthetic actions
# ------------------------------------------------------------------------------------------------
def _centroid(frame: np.ndarray, background: np.ndarray) -> np.ndarray:
    diff = np.abs(frame.astype(float) - background).sum(-1)
    ys, xs = np.nonzero(diff > 100)
    return np.array([xs.mean(), ys.mean()])


def _shift(clip: np.ndarray, background: np.ndarray, reach: int = 4) -> list[int]:
    """The per-frame (dx, dy) that best carries each frame's object onto the next's, across the wrapping edges."""
    masks = np.abs(clip.astype(float) - background).sum(-1) > 100
    shifts = [(dx, dy) for dx in range(-reach, reach + 1) for dy in range(-reach, reach + 1)]
    return list(max(shifts, key=lambda s: (np.roll(masks[:-1], s[::-1], axis=(1, 2)) & masks[1:]).sum()))


def _orientation(frame: np.ndarray, background: np.ndarray) -> float:
    diff = np.abs(frame.astype(float) - background).sum(-1)
    ys, xs = np.nonzero(diff > 100)
    cov = np.cov(np.stack([xs, ys]))
    w, v = np.linalg.eigh(cov)
    return math.degrees(math.atan2(v[1, -1], v[0, -1]))


def test_synthetic_actions_move_as_their_class_says():
    starts = []
    for cls, (dx, dy) in enumerate([(2, 0), (-2, 0), (0, 2), (0, -2)] * 3):
        clip = render_action(cls % 4, 12, 32, np.random.default_rng(cls))
        bg = np.median(clip.reshape(-1, 3).astype(float), axis=0)
        assert _shift(clip, bg) == [dx, dy], cls
        fg = clip[0][np.abs(clip[0].astype(float) - bg).sum(-1) > 100].mean(0)
        assert (fg > bg + 60).all(), (cls, fg, bg)     # brighter in every channel: the motion's sign is local
        starts.append(_centroid(clip[0], bg))
    assert np.ptp(np.array(starts), axis=0).min() > 12    # the start is anywhere: the position says nothing
    ds = SyntheticActions(num_classes=8, samples_per_class=2, pipeline=FORMAT)
    assert ds.classes[4:6] == ["rotate_clockwise", "rotate_counterclockwise"] and len(ds) == 16
    a, b = ds.prepare(3, np.random.default_rng(0)), ds.prepare(3, np.random.default_rng(0))
    np.testing.assert_array_equal(a["img"], b["img"])
    assert a["gt_label"] == 3
    val = SyntheticActions(num_classes=8, samples_per_class=2, split="val", pipeline=FORMAT)
    assert not np.array_equal(val.open(3).read([0]), ds.open(3).read([0]))
    with pytest.raises(ValueError, match="num_classes"):
        SyntheticActions(num_classes=9)
