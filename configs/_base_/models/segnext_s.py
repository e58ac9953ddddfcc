# SegNeXt-S: 13.93M parameters (150 classes); ADE20K 44.3 mIoU (ss).
# MSCAN-S backbone + LightHamHead as the official SegNeXt config, defined once: the registered variant
# segnext_s (jseg/models/segnext.py). Override any part here or on the command line, e.g.
# --cfg-options model.backbone.drop_path_rate=0.0 model.num_classes=19.
# The recipe starts from ImageNet-pretrained MSCAN: put the official mscan_s.pth at `pretrained`
# (loading is strict), or train from scratch with --cfg-options model.pretrained=None.
model = dict(type="segnext_s", pretrained="pretrained/mscan_s.pth")
