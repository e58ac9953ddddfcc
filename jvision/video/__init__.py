"""Video tasks: E2FGVI inpainting inference (windowed, bounded memory), training and evaluation in
the engine (``VideoInpainter`` in ``MODELS``, ``VideoInpaintingMetric`` in ``METRICS``), the video
metrics, and ``action``: action-recognition fine-tuning (``VideoClassifier``: clips, multi-view
testing; importing it registers the classifier in ``MODELS``). Importing this package also
registers the inpainting datasets and transforms (``jvision.data.video_inpainting``,
``jvision.data.video_masks``); configs list it in ``custom_imports``."""
from ..data import video_inpainting, video_masks  # noqa: F401  (registers the datasets and transforms)
from .inpaint import dilate_mask, inpaint_clip, inpaint_stream, reference_ids, window_plan  # noqa: F401
from .metrics import NOT_COMPUTED, frame_metrics, psnr, ssim, warp_error  # noqa: F401
from .trainer import DEFAULT_TEST_CFG, InpaintingVisualizationHook, VideoInpainter  # noqa: F401
from .evaluation import VideoInpaintingMetric, nearest_valid_fill  # noqa: F401
