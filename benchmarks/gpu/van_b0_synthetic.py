# VAN-B0 (the published network, 1000 -> 8 classes) on the generated shapes at 224x224, for the GPU
# check (benchmarks/gpu/run.sh): a few iterations with train.amp off and on, no evaluation and no
# checkpoints. Loss values only say that training runs and stays finite, not how well it learns.
_base_ = ["../../configs/demo/classification_synthetic.py"]
model = dict(_delete_=True, type="ImageClassifier", backbone=dict(type="van_b0", num_classes=8),
             loss=dict(label_smoothing=0.1))
data = dict(batch_size=32, num_workers=4, train=dict(image_size=224, train_per_class=64),
            val=dict(image_size=224, val_per_class=8))
train = dict(max_iters=12, log_interval=2, val_interval=0, ckpt_interval=0)
