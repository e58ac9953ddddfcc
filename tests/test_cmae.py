"""CMAE: the momentum update, InfoNCE (by hand, and 2 MPI ranks against one process), the ViT and
decoder it shares with MAE (against the MAE fixture), official checkpoint layouts, block-wise masking,
the pixel-shift views and a short training."""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt

from conftest import REPO
from jvision.convert import load_checkpoint, read_state_dict, write_torch_file
from jvision.data.views import PixelShiftViews
from jvision.engine.optim import build_optimizer
from jvision.models.cmae import CMAE, cmae_encoder_state, cmae_vit_base_patch16_finetune, info_nce, momentum_at
from jvision.models.vit import VisionTransformer

TINY = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, decoder_embed_dim=16, decoder_depth=1,
            decoder_num_heads=2, proj_hidden=32, proj_dim=16, pred_hidden=32, norm="bn")


def _tiny(**kwargs) -> CMAE:
    jt.set_seed(0)
    return CMAE(**{**TINY, **kwargs})


def _images(n=4, seed=0):
    return jt.array(np.random.default_rng(seed).standard_normal((n, 3, 32, 32)).astype(np.float32))


# ------------------------------------------------------------------------------------------------
# Momentum encoder
# ------------------------------------------------------------------------------------------------
def test_momentum_update_equals_the_formula_and_is_in_the_state_dict():
    model = _tiny(base_momentum=0.9, end_momentum=1.0)
    pairs = model.ema_pairs()
    names = [n for n, _, _ in pairs]
    assert "target_backbone.blocks.1.mlp.fc2.weight" in names and "target_projector.fc0.weight" in names
    assert not any(n.endswith(("running_mean", "running_var")) for n in names)
    assert not any(n.startswith("target_backbone.norm") for n in model.state_dict())   # final_norm=False
    for _, online, target in pairs:                       # a fresh model: target == online
        np.testing.assert_array_equal(online.numpy(), target.numpy())
    opt = build_optimizer(model, dict(type="AdamW", lr=1e-3))
    trained = {n for g in opt.param_groups for n in g["names"]}
    assert not any(n.startswith(("target_", "backbone.pos_embed")) for n in trained)
    for _, online, _ in pairs:                            # move the online branch
        online.update(online + 0.5)
    before = {n: (o.numpy().copy(), t.numpy().copy()) for n, o, t in pairs}
    running = model.target_projector.bn0.running_mean.numpy().copy()
    model.after_train_iter(3, 10)
    m = 1.0 - (1.0 - 0.9) * (math.cos(math.pi * 3 / 10) + 1) / 2
    assert model.momentum == pytest.approx(m) == momentum_at(3, 10, 0.9, 1.0)
    for name, online, target in model.ema_pairs():
        o, t = before[name]
        np.testing.assert_allclose(target.numpy(), m * t + (1 - m) * o, rtol=1e-6, atol=1e-6)
        assert target.is_stop_grad()
    np.testing.assert_array_equal(model.target_projector.bn0.running_mean.numpy(), running)
    assert momentum_at(0, 10, 0.996, 0.996) == pytest.approx(0.996) and momentum_at(5, 10, 0.5, 0.5, "constant") == 0.5
    # resume: the EMA weights travel in the state dict
    clone = _tiny(base_momentum=0.9, end_momentum=1.0)
    from jvision.convert import load_state_dict
    load_state_dict(clone, {k: v.numpy() for k, v in model.state_dict().items()}, log=None)
    model.after_train_iter(4, 10)
    clone.after_train_iter(4, 10)
    for (_, _, a), (_, _, b) in zip(model.ema_pairs(), clone.ema_pairs()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# ------------------------------------------------------------------------------------------------
# InfoNCE
# ------------------------------------------------------------------------------------------------
def _info_nce_numpy(pred, target, tau):
    p = pred / np.linalg.norm(pred, axis=1, keepdims=True)
    t = target / np.linalg.norm(target, axis=1, keepdims=True)
    logits = p @ t.T / tau
    logits = logits - logits.max(axis=1, keepdims=True)
    log_prob = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return 2 * tau * -np.mean(np.diag(log_prob))


def test_info_nce_equals_a_hand_computation():
    rng = np.random.default_rng(0)
    pred, target = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    ours = info_nce(jt.array(pred.astype(np.float32)), jt.array(target.astype(np.float32)), 0.07).item()
    assert ours == pytest.approx(_info_nce_numpy(pred, target, 0.07), rel=1e-5)
    g = jt.grad(info_nce(jt.array(pred.astype(np.float32)), t := jt.array(target.astype(np.float32)), 0.2), t)
    assert float(np.abs(g.numpy()).max()) == 0.0                       # no gradient into the targets


MPI_SCRIPT = r'''
import sys
import numpy as np
import jvision
import jittor as jt
from jvision.models.cmae import info_nce
rng = np.random.default_rng(0)
pred, target = rng.standard_normal((8, 5)).astype(np.float32), rng.standard_normal((8, 5)).astype(np.float32)
rank, world = (jt.rank, jt.world_size) if jt.in_mpi else (0, 1)
part = slice(rank * 8 // world, (rank + 1) * 8 // world)
loss = info_nce(jt.array(pred[part]), jt.array(target[part]), 0.07)
mean = float((loss.mpi_all_reduce("mean") if jt.in_mpi else loss).item())   # every rank runs the all-reduce
if rank == 0:
    print(f"LOSS {mean:.8f}")
'''


def test_info_nce_two_ranks_equal_one_process(tmp_path):
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        if os.environ.get("CI"):
            pytest.fail("mpirun is required in CI")
        pytest.skip("OpenMPI (mpirun) not installed")
    script = tmp_path / "info_nce_mpi.py"
    script.write_text(MPI_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_"))}
    env["PYTHONPATH"] = str(REPO)
    losses = []
    for cmd in ([sys.executable, str(script)],
                [mpirun, "--allow-run-as-root", "--oversubscribe", "-np", "2", sys.executable, str(script)]):
        out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
        losses.append(float([ln for ln in out.stdout.splitlines() if ln.startswith("LOSS")][0].split()[1]))
    assert losses[1] == pytest.approx(losses[0], rel=1e-5), losses


# ------------------------------------------------------------------------------------------------
# The ViT and decoder shared with MAE
# ------------------------------------------------------------------------------------------------
def test_shared_vit_and_decoder_match_the_mae_fixture(parity_dir):
    """CMAE's online encoder and pixel decoder are MAE's: loaded with the official MAE fixture's
    weights and given its mask, they give its latent (up to token order) and its prediction."""
    folder = parity_dir / "mae" / "mae_tiny"
    state, _ = read_state_dict(folder / "weights.pth")
    io = dict(np.load(folder / "io.npz"))
    kw = json.loads((folder / "manifest.json").read_text())["constructor_kwargs"]
    model = CMAE(img_size=kw["img_size"], patch_size=kw["patch_size"], embed_dim=kw["embed_dim"], depth=kw["depth"],
                 num_heads=kw["num_heads"], decoder_embed_dim=kw["decoder_embed_dim"],
                 decoder_depth=kw["decoder_depth"], decoder_num_heads=kw["decoder_num_heads"],
                 target="norm_pix" if kw.get("norm_pix_loss") else "pixel", proj_hidden=32, proj_dim=16,
                 pred_hidden=32, norm="bn")
    mine = {}
    for key, value in state.items():
        if key.startswith("decoder_") or key == "mask_token":
            mine[f"pixel_decoder.{key}"] = value
        else:
            mine[f"backbone.{key}"] = value
    from jvision.convert import load_state_dict
    report = load_state_dict(model, mine, strict=False, prefix=None, log=None)
    assert not report.unexpected and not report.mismatched and len(report.loaded) == len(state)
    model.eval()
    mask = io["mask"].astype(bool)
    latent, mask_f, ids_restore = model.forward_online(jt.array(io["input"]), mask)
    pred = model.pixel_decoder(latent, ids_restore)
    np.testing.assert_allclose(pred.numpy(), io["pred"], atol=1e-4, rtol=1e-4)
    keep = io["ids_shuffle"][:, :latent.shape[1] - 1]
    order = np.argsort(keep, axis=1)                      # ours keeps tokens in patch order
    ref = np.take_along_axis(io["latent"][:, 1:], order[..., None], axis=1)
    np.testing.assert_allclose(latent.numpy()[:, 1:], ref, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(latent.numpy()[:, 0], io["latent"][:, 0], atol=1e-4, rtol=1e-4)
    loss_rc = model.target.loss(pred, model.target(jt.array(io["input"])), mask_f).item()
    assert loss_rc == pytest.approx(float(io["loss"]), rel=1e-4)


# ------------------------------------------------------------------------------------------------
# Official checkpoints and fine-tuning
# ------------------------------------------------------------------------------------------------
def _official_name(key: str) -> str:
    """Our key -> the official CMAE name (mmpretrain ViT / decoder layers), written out by hand."""
    part, rest = key.split(".", 1)
    if part in ("backbone", "target_backbone", "pixel_decoder", "feature_decoder"):
        for ours, theirs in (("norm1.", "ln1."), ("norm2.", "ln2."), ("mlp.fc1.", "ffn.layers.0.0."),
                             ("mlp.fc2.", "ffn.layers.1.")):
            if (rest.startswith("blocks.") or rest.startswith("decoder_blocks.")) and f".{ours}" in rest:
                rest = rest.replace(f".{ours}", f".{theirs}")
        rest = rest.replace("blocks.", "layers.", 1) if rest.startswith("blocks.") else rest
        rest = rest.replace("patch_embed.proj.", "patch_embed.projection.")
        rest = "ln1." + rest[len("norm."):] if rest.startswith("norm.") else rest
        rest = "ln1." + rest[len("decoder_norm."):] if rest.startswith("decoder_norm.") else rest
    return f"{part}.{rest}"


def test_official_checkpoint_layout_loads(tmp_path):
    model = _tiny()
    ours = {k: v.numpy() + 0.25 for k, v in model.state_dict().items()}
    official = {_official_name(k): v for k, v in ours.items()}
    assert "backbone.layers.0.ffn.layers.0.0.weight" in official and "backbone.ln1.weight" in official
    assert "pixel_decoder.ln1.bias" in official and "head.predictor.fc1.weight" in official
    official["projector.bn0.num_batches_tracked"] = np.array(7)
    path = write_torch_file({"meta": {"epoch": 1600}, "state_dict": official}, tmp_path / "cmae.pth")
    fresh = _tiny()
    report = load_checkpoint(fresh, path, prefix=None, remap=CMAE.official_remap, log=None)
    assert report.ok and len(report.loaded) == len(ours)
    for key, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), ours[key])
    # fine-tuning: the online encoder, without its final norm (global pooling + a new fc_norm)
    vit = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=3)
    load_checkpoint(vit, path, prefix=None, remap=cmae_encoder_state,
                    ignore_missing=["fc_norm.*", "head.*"], log=None)
    np.testing.assert_array_equal(vit.blocks[1].attn.qkv.weight.numpy(), ours["backbone.blocks.1.attn.qkv.weight"])
    # an official fine-tuned checkpoint (MIMVisionTransformer + MAEFinetuneHead) maps entirely
    finetuned = {_official_name("backbone." + k): v.numpy() for k, v in vit.state_dict().items()
                 if not k.startswith("head.")}
    finetuned.update({"head.head.weight": vit.head.weight.numpy(), "head.head.bias": vit.head.bias.numpy()})
    assert "backbone.fc_norm.weight" in finetuned
    mapped = cmae_encoder_state(finetuned)
    assert sorted(mapped) == sorted(vit.state_dict())
    with pytest.raises(KeyError, match="data_preprocessor.mean"):
        CMAE.official_remap({"data_preprocessor.mean": np.zeros(3)})


def test_finetune_constructor_reads_a_cmae_checkpoint(tmp_path):
    model = _tiny()
    path = tmp_path / "cmae.pkl"
    from jvision.convert import save_state_dict
    save_state_dict(model.state_dict(), path)
    vit = cmae_vit_base_patch16_finetune(pretrained=str(path), img_size=32, patch_size=8, embed_dim=32, depth=2,
                                         num_heads=2, num_classes=3)
    np.testing.assert_array_equal(vit.patch_embed.proj.weight.numpy(), model.backbone.patch_embed.proj.weight.numpy())


# ------------------------------------------------------------------------------------------------
# Masking, views, training
# ------------------------------------------------------------------------------------------------
def test_blockwise_masking_of_the_model_at_224():
    model = CMAE(proj_hidden=64, proj_dim=16, pred_hidden=64, norm="bn", decoder_depth=1, depth=1)
    mask = model.masking(2, np.random.default_rng(0))
    assert mask.shape == (2, 196) and (mask.sum(1) == 196 - 4 * int(49 * 0.35)).all()
    blocks = mask.reshape(2, 7, 2, 7, 2)
    assert (blocks == blocks[:, :, :1, :, :1]).all()


def test_pixel_shift_views():
    img = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    plain = PixelShiftViews(size=24, shift=7, target_transforms=[], transforms=[dict(type="ToTensor")])
    shifts = set()
    for s in range(40):
        out = plain({"img": img.copy()}, np.random.default_rng(s))
        dy, dx = out["meta"]["shift"]
        shifts.add((dy, dx))
        np.testing.assert_array_equal(out["img"], img[:24, :24].transpose(2, 0, 1))
        np.testing.assert_array_equal(out["img_t"], img[dy:dy + 24, dx:dx + 24].transpose(2, 0, 1))
    assert {d for s in shifts for d in s} == set(range(8))
    out = PixelShiftViews(size=24, shift=7)({"img": img.copy()}, np.random.default_rng(1))
    assert out["img"].shape == out["img_t"].shape == (3, 24, 24) and out["img"].dtype == np.float32
    with pytest.raises(ValueError, match="at least 32 px"):
        plain({"img": img[:30, :30].copy()}, np.random.default_rng(0))


def test_short_training_reduces_both_losses():
    model = _tiny()
    opt = build_optimizer(model, dict(type="AdamW", lr=3e-3, betas=(0.9, 0.95), weight_decay=0.05))
    x, x_t = _images(8, 0), _images(8, 1)
    logs = []
    model.train()
    for i in range(12):
        out = model.train_step({"img": x, "img_t": x_t, "_rng": np.random.default_rng(i % 2)})
        opt.step(out["loss"])
        model.after_train_iter(i, 12)
        logs.append((out["loss_rc"].item(), out["loss_ct"].item()))
    assert logs[-1][0] < logs[0][0] and logs[-1][1] < logs[0][1], logs
