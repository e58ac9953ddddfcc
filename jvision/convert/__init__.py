"""THE reader of every checkpoint file the project opens, ours or official: no PyTorch needed, no
code in a file ever runs (restricted unpickling), and one loader with one contract.

* ``read_checkpoint_file(path)``: whatever a ``.pth`` / ``.pth.tar`` / ``.pt`` / ``.bin`` (zip or
  legacy ``torch.save``), Jittor ``.pkl``, ``.npz`` or ``.safetensors`` file holds, tensors as NumPy.
* ``read_state_dict(path, key=None)``: the state dict inside it (``state_dict`` / ``model`` /
  ``state_dict_ema`` unwrapped), float tensors as float32.
* ``load_checkpoint(model, path, strict=True)``: the one way weights get into a model (tools,
  ``pretrained`` backbones, our training checkpoints for evaluation): strips ``module.`` /
  ``backbone.`` prefixes where that makes the keys fit, ignores BatchNorm ``num_batches_tracked``,
  prints a table of missing, unexpected and shape-mismatched keys, and raises on any of them unless
  ``strict=False``. (Resuming training reads the whole checkpoint, optimizer included, with
  ``jvision.engine.checkpoint.read_training_checkpoint``, through the same restricted reader.)
* ``save_state_dict(state, path)``: ``.pth`` (readable by ``torch.load``), Jittor ``.pkl`` or ``.npz``.
* ``jvision.convert.fixtures``: the cross-framework parity checks behind ``tools/compare.py``.

Each model file keeps the small key-remap function its official checkpoints need, if any
(``jvision.models.vit.mae_encoder_state``, for instance); pass it as ``remap=``.
"""
from .torch_file import CheckpointReadError, OpaqueObject, read_checkpoint_file, write_torch_file  # noqa: F401
from .state_dict import (LoadReport, StateDictMismatchError, checkpoint_target, load_checkpoint,  # noqa: F401
                         load_state_dict, match_state_dict, read_state_dict, to_float32_state, unwrap_state_dict)
from .save import jittor_pickle_bytes, save_state_dict  # noqa: F401
