"""E2FGVI's training losses, as ``core/loss.py``, ``core/trainer.py`` and ``FlowCompletionLoss`` of
``model/modules/flow_comp.py`` (MCG-NKU/E2FGVI, commit 709cbe3) compute them:

* hole / valid L1: ``mean|pred*m - gt*m| / mean(m)`` and the same on ``1 - m`` (every frame,
  local and reference);
* hinge adversarial loss on the T-PatchGAN scores: discriminator
  ``(mean relu(1 - D(real)) + mean relu(1 + D(fake))) / 2``, generator ``-mean D(comp)``;
* flow completion: L1 between the generator's completed flows (1/4 scale) and the flows of the
  ground-truth local frames (forward + backward), the latter from a frozen SPyNet (``fix_spynet``)
  or given by the data (the exact flow of synthetic clips).
"""
from __future__ import annotations

import jittor as jt
from jittor import nn

from .flow import SPyNet, resize_bilinear

__all__ = ["masked_l1", "hinge_discriminator_loss", "hinge_generator_loss", "FlowCompletionLoss"]


def masked_l1(pred, target, mask):
    """``L1(pred * mask, target * mask) / mean(mask)``: the mean absolute error inside ``mask``
    (broadcast over channels) normalised as the official hole / valid losses."""
    return (pred * mask - target * mask).abs().mean() / mask.mean().maximum(1e-8)


def hinge_discriminator_loss(real_scores, fake_scores):
    """``(mean relu(1 - D(real)) + mean relu(1 + D(fake))) / 2``."""
    return (nn.relu(1.0 - real_scores).mean() + nn.relu(1.0 + fake_scores).mean()) / 2


def hinge_generator_loss(fake_scores):
    """``-mean D(comp)``."""
    return -fake_scores.mean()


class FlowCompletionLoss(nn.Module):
    """L1 between predicted flows ``(forward, backward)`` [b, l-1, 2, h/4, w/4] and the flows of the
    ground-truth local frames: a frozen SPyNet's (``fix_spynet``, the official key) on the frames
    downscaled to 1/4 (bilinear, align_corners=True), or the ``target`` flows the caller passes.

    Args:
        spynet_pretrained: the frozen SPyNet's weights (mmediting's ``spynet_20210409-c6c1bd09.pth``);
            required unless every call passes ``target`` (``use_spynet=False`` then skips building it).
        use_spynet: build the frozen SPyNet (False: the targets always come from the data).
    """

    def __init__(self, spynet_pretrained: str | None = None, use_spynet: bool = True):
        super().__init__()
        self.fix_spynet = None
        if use_spynet:
            if not spynet_pretrained:
                raise ValueError("FlowCompletionLoss: the frozen SPyNet needs its weights (flow_loss.spynet_pretrained="
                                 "PATH to mmediting's spynet_20210409-c6c1bd09.pth); a random SPyNet gives "
                                 "meaningless targets. Data with exact flows can use flow_loss.use_spynet=False")
            self.fix_spynet = SPyNet(spynet_pretrained)
            for p in self.fix_spynet.parameters():
                p.stop_grad()

    def target_flows(self, gt_local_frames):
        """SPyNet's (forward, backward) flows of ``gt_local_frames`` [b, l, 3, h, w] in [0, 1], at 1/4."""
        if self.fix_spynet is None:
            raise ValueError("FlowCompletionLoss was built without SPyNet (use_spynet=False): pass the target "
                             "flows (the dataset's 'flows_forward' / 'flows_backward')")
        b, l_t, c, h, w = gt_local_frames.shape
        with jt.no_grad():
            small = resize_bilinear(gt_local_frames.reshape([-1, c, h, w]), (h // 4, w // 4), align_corners=True)
            small = small.reshape([b, l_t, c, h // 4, w // 4])
            f1 = small[:, :-1].reshape([-1, c, h // 4, w // 4])
            f2 = small[:, 1:].reshape([-1, c, h // 4, w // 4])
            fwd = self.fix_spynet(f1, f2).stop_grad()
            bwd = self.fix_spynet(f2, f1).stop_grad()
        return fwd, bwd

    def execute(self, pred_flows, gt_local_frames=None, target=None):
        pred_fwd, pred_bwd = pred_flows
        h4, w4 = pred_fwd.shape[-2], pred_fwd.shape[-1]
        if target is None:
            target = self.target_flows(gt_local_frames)
        tgt_fwd, tgt_bwd = (t.reshape([-1, 2, h4, w4]).stop_grad() for t in target)
        if tgt_fwd.shape[0] != pred_fwd.shape[0] * pred_fwd.shape[1]:
            raise ValueError(f"FlowCompletionLoss: {tgt_fwd.shape[0]} target flows for predicted flows "
                             f"{list(pred_fwd.shape)}")
        return ((pred_fwd.reshape([-1, 2, h4, w4]) - tgt_fwd).abs().mean()
                + (pred_bwd.reshape([-1, 2, h4, w4]) - tgt_bwd).abs().mean())
