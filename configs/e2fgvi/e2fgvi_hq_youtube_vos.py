# E2FGVI-HQ: the E2FGVI recipe (configs/train_e2fgvi_hq.json is the same training at 432x240) with the
# HQ generator, which runs at any size; the evaluation mirror-pads frames to multiples of 60x108.
#   python tools/train.py configs/e2fgvi/e2fgvi_hq_youtube_vos.py
#   python tools/test.py configs/e2fgvi/e2fgvi_hq_youtube_vos.py E2FGVI-HQ-CVPR22.pth --split test   # DAVIS
_base_ = ["e2fgvi_youtube_vos.py"]
model = dict(generator=dict(type="e2fgvi_hq"))
