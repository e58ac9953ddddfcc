# SegNeXt-L: 48.93M parameters (150 classes); ADE20K 51.0 mIoU (ss).
# MSCAN-L backbone + LightHamHead as the official SegNeXt config, defined once: the registered variant
# segnext_l (jseg/models/segnext.py). Override any part here or on the command line, e.g.
# --cfg-options model.backbone.drop_path_rate=0.0 model.num_classes=19.
# The recipe starts from ImageNet-pretrained MSCAN: put the official mscan_l.pth at `pretrained`
# (loading is strict), or train from scratch with --cfg-options model.pretrained=None.
model = dict(type="segnext_l", pretrained="pretrained/mscan_l.pth")
