"""Video tasks: E2FGVI inpainting inference (windowed, bounded memory), the video metrics, the
synthetic clips with known optical flow used by the demo and the tests, and ``action``:
action-recognition fine-tuning (``VideoClassifier``: clips, multi-view testing; importing it
registers the classifier in ``MODELS``)."""
from .inpaint import dilate_mask, inpaint_clip, inpaint_stream, reference_ids, window_plan  # noqa: F401
from .metrics import NOT_COMPUTED, frame_metrics, psnr, ssim, warp_error  # noqa: F401
