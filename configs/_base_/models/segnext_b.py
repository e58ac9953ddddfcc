# SegNeXt-B: 27.64M parameters (150 classes); ADE20K 48.5 mIoU (ss).
# MSCAN-B backbone + LightHamHead as the official SegNeXt config, defined once: the registered variant
# segnext_b (jseg/models/segnext.py). Override any part here or on the command line, e.g.
# --cfg-options model.backbone.drop_path_rate=0.0 model.num_classes=19.
# The recipe starts from ImageNet-pretrained MSCAN: put the official mscan_b.pth at `pretrained`
# (loading is strict), or train from scratch with --cfg-options model.pretrained=None.
model = dict(type="segnext_b", pretrained="pretrained/mscan_b.pth")
