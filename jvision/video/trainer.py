"""E2FGVI training and evaluation in the one ``Trainer``: ``VideoInpainter`` (in ``MODELS``) holds
the generator, the T-PatchGAN discriminator and the flow-completion loss, and implements
``train_step(batch, optim)`` (two optimizers, ``generator`` and ``discriminator``, stepping in one
iteration as ``core/trainer.py`` of MCG-NKU/E2FGVI does) and ``val_step`` (the official evaluation
window, through ``jvision.video.inpaint``). ``InpaintingWarmup`` (also in ``MODELS``) pre-trains a
small generator's SPyNet and encoder-decoder on data with exact flows, for a run to start from
(the synthetic-clip demo's first stage).

One iteration, as the official trainer::

    pred, flows = G(frames * (1 - masks), num_local)          # all t frames, local ones first
    comp = frames * (1 - masks) + masks * pred
    loss_d = hinge(D(frames), D(comp.detach()))                -> optim.step("discriminator")
    loss_g = 0.01 * -mean D(comp)       (D already updated)
           + flow L1(flows, frozen SPyNet(gt local frames) or the data's exact flows)
           + hole L1 + valid L1                                -> optim.step("generator")

Guard against the known field failure (the official run diverges to NaN after ~300k iterations,
when the deformable offsets overflow): the offsets are clamped where a tap would read zeros anyway
(``InpaintGenerator(offset_bound=...)``, see ``jvision.models.e2fgvi.propagation``), their largest
magnitude is logged every iteration (``offset_max`` in ``metrics.jsonl``), and a non-finite loss
stops the run naming the last good checkpoint (the engine's NaN stop).

    model = dict(type="VideoInpainter",
                 generator=dict(type="e2fgvi", spynet_pretrained="pretrained/spynet_20210409-c6c1bd09.pth"),
                 discriminator=dict(type="e2fgvi_discriminator"),
                 flow_loss=dict(spynet_pretrained="pretrained/spynet_20210409-c6c1bd09.pth"))
    optimizer = dict(generator=dict(type="Adam", lr=1e-4, betas=(0.0, 0.99)),
                     discriminator=dict(type="Adam", lr=1e-4, betas=(0.0, 0.99)))
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import jittor as jt
from jittor import nn

from ..engine.hooks import Hook
from ..models.e2fgvi.loss import (FlowCompletionLoss, hinge_discriminator_loss, hinge_generator_loss,
                                  masked_l1)
from ..models.e2fgvi.propagation import SecondOrderDeformableAlignment
from ..registry import HOOKS, MODELS
from .inpaint import inpaint_stream

__all__ = ["VideoInpainter", "InpaintingWarmup", "InpaintingVisualizationHook", "DEFAULT_TEST_CFG"]

#: The official evaluation window: local frames f +- 5, a reference every 10th frame of the video.
DEFAULT_TEST_CFG = dict(neighbor_stride=5, ref_step=10, num_ref=-1)


def data_flows(batch: dict, who: str, alternative: str = ""):
    """The batch's exact (forward, backward) flows of the local frames, or a KeyError naming ``who``."""
    missing = [k for k in ("flows_forward", "flows_backward") if k not in batch]
    if missing:
        raise KeyError(f"{who}: the batch has no {', '.join(missing)} (keys: "
                       f"{sorted(k for k in batch if not k.startswith('_'))}); use a dataset with exact flows "
                       f"(SyntheticInpaintingClips) {alternative}".rstrip())
    return batch["flows_forward"], batch["flows_backward"]


@MODELS.register()
class VideoInpainter(nn.Module):
    """E2FGVI's generator trained against its discriminator (module docstring).

    Args:
        generator: the ``InpaintGenerator`` config (``e2fgvi`` / ``e2fgvi_hq`` and their arguments).
        discriminator: the discriminator config, or None to train without the adversarial loss.
        flow_loss: ``FlowCompletionLoss`` arguments (``spynet_pretrained``: the frozen SPyNet that
            computes the targets from the ground truth); ignored with ``flow_targets="data"``.
        flow_targets: ``"spynet"`` (official) or ``"data"``: the batch's exact ``flows_forward`` /
            ``flows_backward`` (synthetic clips) are the targets and no frozen SPyNet is built.
        num_local_frames: local frames at the front of every training clip (5).
        hole_weight, valid_weight, adversarial_weight, flow_weight: the official 1, 1, 0.01, 1.
        test_cfg: the evaluation window (``neighbor_stride``, ``ref_step``, ``num_ref``; ``pad_to``
            defaults to 60x108 for the HQ generator, as the official test pads).
    """

    def __init__(self, generator: dict, discriminator: dict | None = None, flow_loss: dict | None = None,
                 flow_targets: str = "spynet", num_local_frames: int = 5, hole_weight: float = 1.0,
                 valid_weight: float = 1.0, adversarial_weight: float = 0.01, flow_weight: float = 1.0,
                 test_cfg: dict | None = None):
        super().__init__()
        if flow_targets not in ("spynet", "data"):
            raise ValueError(f"VideoInpainter: flow_targets={flow_targets!r} must be 'spynet' or 'data'")
        if num_local_frames < 2:
            raise ValueError(f"VideoInpainter: num_local_frames={num_local_frames} must be >= 2")
        self.generator = MODELS.build(generator)
        self.discriminator = MODELS.build(discriminator) if discriminator else None
        self.flow_targets = flow_targets
        self.flow_comp_loss = None
        if flow_weight > 0:
            kwargs = dict(flow_loss or {})
            if flow_targets == "data":
                kwargs = {"use_spynet": False}
            self.flow_comp_loss = FlowCompletionLoss(**kwargs)
        self.num_local_frames = int(num_local_frames)
        self.weights = dict(hole=hole_weight, valid=valid_weight, adversarial=adversarial_weight, flow=flow_weight)
        self.test_cfg = {**DEFAULT_TEST_CFG, **(test_cfg or {})}
        if "pad_to" not in self.test_cfg:
            self.test_cfg["pad_to"] = (60, 108) if getattr(self.generator, "hq", False) else None
        unknown = set(self.test_cfg) - {"neighbor_stride", "ref_step", "num_ref", "pad_to"}
        if unknown:
            raise ValueError(f"VideoInpainter: unknown test_cfg key(s) {sorted(unknown)}; known: neighbor_stride, "
                             "ref_step, num_ref, pad_to")

    def official_checkpoint_module(self) -> nn.Module:
        """Official files (``E2FGVI-CVPR22.pth``) hold the generator's state dict."""
        return self.generator

    def execute(self, masked_frames, num_local_frames: int):
        return self.generator(masked_frames, num_local_frames)

    # -- training --------------------------------------------------------------------------------
    def _flow_target(self, batch: dict):
        if self.flow_targets == "spynet":
            return None
        return data_flows(batch, "VideoInpainter(flow_targets='data')", "or flow_targets='spynet'")

    def offset_max(self):
        """The largest |offset| of every deformable alignment in the last forward (a Var), or None."""
        values = [m.offset_stats().get("offset_abs_max") for m in self.generator.modules()
                  if isinstance(m, SecondOrderDeformableAlignment)]
        values = [v for v in values if v is not None]
        if not values:
            return None
        out = values[0]
        for v in values[1:]:
            out = jt.maximum(out, v)
        return out

    def train_step(self, batch: dict, optim) -> dict:
        frames, masks = batch["frames"], batch["masks"]
        if frames.ndim != 5 or masks.ndim != 5 or masks.shape[2] != 1 or list(masks.shape[:2]) != list(frames.shape[:2]):
            raise ValueError(f"VideoInpainter.train_step: frames must be [b, t, 3, h, w] and masks [b, t, 1, h, w]; "
                             f"got {list(frames.shape)} and {list(masks.shape)}")
        b, t, c, h, w = frames.shape
        l_t = self.num_local_frames
        pred, pred_flows = self.generator(frames * (1 - masks), l_t)
        pred = pred.reshape([b, t, c, h, w])
        comp = frames * (1 - masks) + masks * pred
        wts = self.weights
        logs = {}
        gen_loss = 0.0
        if self.discriminator is not None:
            loss_d = hinge_discriminator_loss(self.discriminator(frames), self.discriminator(comp.detach()))
            optim.step("discriminator", loss_d)
            adv = hinge_generator_loss(self.discriminator(comp)) * wts["adversarial"]
            gen_loss = gen_loss + adv
            logs.update(loss_d=loss_d, adv_loss=adv)
        if self.flow_comp_loss is not None:
            flow = self.flow_comp_loss(pred_flows, (frames[:, :l_t] + 1) / 2, self._flow_target(batch)) * wts["flow"]
            gen_loss = gen_loss + flow
            logs["flow_loss"] = flow
        hole = masked_l1(pred, frames, masks) * wts["hole"]
        valid = masked_l1(pred, frames, 1 - masks) * wts["valid"]
        gen_loss = gen_loss + hole + valid
        if len(optim.names) == 1:
            optim.step(gen_loss)
        else:
            optim.step("generator", gen_loss)
        logs.update(loss=gen_loss, hole_loss=hole, valid_loss=valid)
        offset = self.offset_max()
        if offset is not None:
            logs["offset_max"] = offset
        return logs

    # -- evaluation ------------------------------------------------------------------------------
    def inpaint(self, clip, progress=None) -> list:
        """Composites (float32 [H, W, 3] on [0, 255]) of every frame of a ``VideoClip``, with the
        official evaluation window (``test_cfg``)."""
        cfg = self.test_cfg
        out = [None] * len(clip)
        for i, comp in inpaint_stream(self.generator, clip.frame, clip.mask, len(clip), cfg["neighbor_stride"],
                                      cfg["ref_step"], cfg["num_ref"], pad_to=cfg["pad_to"], progress=progress):
            out[i] = comp
        return out

    def val_step(self, batch: dict) -> dict:
        if "video" not in batch:
            raise KeyError(f"VideoInpainter.val_step needs 'video' clips (VideoInpaintingTestDataset, "
                           f"SyntheticInpaintingClips(split='val')); the batch has {sorted(batch)}")
        return {"composites": [self.inpaint(clip) for clip in batch["video"]]}


@MODELS.register()
class InpaintingWarmup(nn.Module):
    """Pre-trains the two parts of a small generator that the inpainting losses teach slowly, for
    a short run to start from (``generator.pretrained=.../latest.pkl``), as the official recipe
    starts from a pretrained SPyNet:

    * **flow completion**: SPyNet (``update_spynet``) on the masked local frames, L1 against the
      data's exact flows (``flows_forward`` / ``flows_backward``), the demo's flow loss alone;
    * **frame reconstruction**: the encoder and decoder as an auto-encoder of the whole frames,
      ``L1(tanh(decoder(encoder(x))), x)``.

    Every other parameter (propagation, transformer) keeps its initialisation: it gets no gradient
    (``stop_grad``), so the optimizer leaves it alone. The checkpoint holds the whole generator
    under ``generator.``, which ``InpaintGenerator(pretrained=...)`` loads strictly.

    Args:
        generator: the ``InpaintGenerator`` config (the same as the run that will load it).
        num_local_frames: local frames at the front of each training clip (those that have flows).
        flow_weight, reconstruction_weight: the two losses' weights.
    """

    TRAINED = ("update_spynet", "encoder", "decoder")

    def __init__(self, generator: dict, num_local_frames: int = 5, flow_weight: float = 1.0,
                 reconstruction_weight: float = 1.0):
        super().__init__()
        if num_local_frames < 2:
            raise ValueError(f"InpaintingWarmup: num_local_frames={num_local_frames} must be >= 2")
        self.generator = MODELS.build(generator)
        self.num_local_frames = int(num_local_frames)
        self.weights = dict(flow=flow_weight, reconstruction=reconstruction_weight)
        self.flow_loss = FlowCompletionLoss(use_spynet=False)
        trained = {id(p) for name in self.TRAINED for p in getattr(self.generator, name).parameters()}
        for p in self.generator.parameters():
            if id(p) not in trained:
                p.stop_grad()

    def train_step(self, batch: dict, optim) -> dict:
        frames, masks = batch["frames"], batch["masks"]
        b, t, c, h, w = frames.shape
        l_t = self.num_local_frames
        masked_local = (frames * (1 - masks))[:, :l_t]
        flows = self.generator.forward_bidirect_flow((masked_local + 1) / 2)
        flow = self.flow_loss(flows, target=data_flows(batch, "InpaintingWarmup")) * self.weights["flow"]
        x = frames.reshape([b * t, c, h, w])
        recon = (jt.tanh(self.generator.decoder(self.generator.encoder(x))) - x).abs().mean()
        recon = recon * self.weights["reconstruction"]
        loss = flow + recon
        optim.step(loss)
        return {"loss": loss, "flow_loss": flow, "reconstruction_loss": recon}


def side_by_side(clip, composites, frame_ids) -> np.ndarray:
    """Rows of ``masked input | result | ground truth`` (RGB uint8) for ``frame_ids``."""
    rows = []
    for i in frame_ids:
        gt = clip.frame(i)
        m = clip.mask(i).astype(bool)
        shown = gt.copy()
        shown[m] = (0.5 * shown[m] + 0.5 * np.array([255, 0, 0])).astype(np.uint8)
        result = np.clip(composites[i], 0, 255).astype(np.uint8)
        rows.append(np.concatenate([shown, result, gt], axis=1))
    return np.concatenate(rows, axis=0)


@HOOKS.register()
class InpaintingVisualizationHook(Hook):
    """After each evaluation (and the last iteration), inpaints the first ``num_videos`` validation
    clips and writes ``<work_dir>/vis/iter_<N>_<video>.png`` (rows of masked input | result | ground
    truth, every ``frame_step``-th frame) and the composites as ``<work_dir>/inpainted/<video>/*.png``."""

    priority = 75

    def __init__(self, num_videos: int = 1, frame_step: int = 2, save_frames: bool = True):
        self.num_videos, self.frame_step, self.save_frames = num_videos, max(1, frame_step), save_frames

    def after_val(self, trainer, metrics: dict) -> None:
        from ..engine.dist import is_main_process
        if trainer.val_loader is None or not is_main_process():
            return
        import cv2
        model = trainer.model
        dataset = trainer.val_loader.dataset
        was_training = model.is_training()
        model.eval()
        written = []
        try:
            with jt.no_grad():
                for idx in range(min(self.num_videos, len(dataset))):
                    clip = dataset.prepare(idx)["video"]
                    comps = model.inpaint(clip)
                    vis = Path(trainer.work_dir) / "vis"
                    vis.mkdir(parents=True, exist_ok=True)
                    grid = side_by_side(clip, comps, range(0, len(clip), self.frame_step))
                    path = vis / f"iter_{trainer.iter:07d}_{clip.name}.png"
                    cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
                    written.append(path)
                    if self.save_frames:
                        out = Path(trainer.work_dir) / "inpainted" / clip.name
                        out.mkdir(parents=True, exist_ok=True)
                        for i, comp in enumerate(comps):
                            cv2.imwrite(str(out / f"{i:05d}.png"),
                                        cv2.cvtColor(np.clip(comp, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
        finally:
            if was_training:
                model.train()
        if written:
            trainer.log_text(f"inpainting pictures: {', '.join(str(p) for p in written)}")
