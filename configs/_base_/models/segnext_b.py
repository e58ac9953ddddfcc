# SegNeXt-B: 27.64M parameters (150 classes); ADE20K 48.5 mIoU (ss).
# MSCAN-B backbone + LightHamHead, as the official SegNeXt config
# (local_configs/segnext/*/segnext.*.512x512.ade.160k.py + _base_/models/mscan.py).
# The recipe starts from ImageNet-pretrained MSCAN: put the official mscan_b.pth at `pretrained`
# (loading is strict), or train from scratch with --cfg-options model.pretrained=None.
model = dict(
    type="EncoderDecoder",
    pretrained="pretrained/mscan_b.pth",
    backbone=dict(type="mscan_b", drop_path_rate=0.1, norm_cfg=dict(type="SyncBN", requires_grad=True)),
    decode_head=dict(
        type="LightHamHead",
        in_channels=[128, 320, 512],
        in_index=[1, 2, 3],
        channels=512,
        ham_channels=512,
        ham_kwargs=dict(MD_R=64),          # NMF: S=1, 6 train / 7 eval steps; eval bases seeded (eval_seed=0)
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=dict(type="GN", num_groups=32, requires_grad=True),
        align_corners=False,
        loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0)),
    test_cfg=dict(mode="whole"))
