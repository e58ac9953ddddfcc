# SegNeXt-T on YOUR OWN data: folders of images and label maps in mmsegmentation's CustomDataset
# layout (jseg/datasets/custom.py). Copy this file, then change the lines marked <- for your set.
#
#   data/my_set/images/train/*.jpg      data/my_set/labels/train/*.png   (label value i = classes[i], 255 = ignore)
#   data/my_set/images/val/*.jpg        data/my_set/labels/val/*.png
#
#   python tools/check_dataset.py configs/custom/segnext_t_custom.py --split train   # every bad file listed
#   python tools/check_dataset.py configs/custom/segnext_t_custom.py --split val
#   python tools/train.py configs/custom/segnext_t_custom.py
#   python tools/infer.py configs/custom/segnext_t_custom.py work_dirs/segnext_t_custom/latest.pkl photos/
#
# The recipe is the official SegNeXt one (ImageNet-pretrained MSCAN-T at model.pretrained, AdamW 6e-5,
# head lr x10, poly), shortened to 40k iterations and 512x512 crops; a small set may want fewer.
_base_ = ["../_base_/models/segnext_t.py", "../_base_/schedules/segnext_160k.py", "../_base_/default_runtime.py"]

__classes = ("background", "road", "car")                     # <- your class names, in label-value order
__palette = [[0, 0, 0], [128, 64, 128], [0, 0, 142]]          # <- one colour per class (or leave out)
__dataset = dict(type="CustomDataset", data_root="data/my_set",  # <- where your folders are
                 img_suffix=".jpg", seg_map_suffix=".png",      # <- file endings: <name>.jpg pairs with <name>.png
                 classes=__classes, palette=__palette,          #    (classes may also be a file: "classes.txt")
                 reduce_zero_label=False)                       # <- True if 0 means "unlabelled" and classes start at 1

__img_norm = dict(type="Normalize", mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))
__crop = (512, 512)
data = dict(
    batch_size=16,          # global (split across MPI ranks); must not exceed the number of training images
    val_batch_size=8,
    num_workers=4,
    train=dict(**__dataset, img_dir="images/train", ann_dir="labels/train",   # split="splits/train.txt" to list names
               pipeline=[dict(type="SegResize", img_scale=(2048, 512), ratio_range=(0.5, 2.0)),
                         dict(type="RandomCrop", crop_size=__crop, cat_max_ratio=0.75),
                         dict(type="RandomFlip", prob=0.5),
                         dict(type="PhotoMetricDistortion"),
                         __img_norm,
                         dict(type="Pad", size=__crop, pad_val=0, seg_pad_val=255),
                         dict(type="PackSegInputs")]),
    val=dict(**__dataset, img_dir="images/val", ann_dir="labels/val", pipeline=[__img_norm, dict(type="PackSegInputs")]))
model = dict(decode_head=dict(num_classes=len(__classes)),
             test_cfg=dict(mode="whole", img_scale=(2048, 512), keep_ratio=True, size_divisor=32))
evaluation = dict(metric=dict(type="IoUMetric", class_names=__classes))
train = dict(max_iters=40000, val_interval=4000, ckpt_interval=4000)
