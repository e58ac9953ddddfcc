# A tiny regression run for engine tests (seconds on 2 CPU cores).
custom_imports = ["toy_components"]
model = dict(type="ToyMLP", dim=8, hidden=16)
data = dict(batch_size=8, val_batch_size=16, num_workers=0,
            train=dict(type="ToyRegression", num_samples=64, pipeline=[dict(type="ToyJitter", scale=0.05)]),
            val=dict(type="ToyRegression", num_samples=32, seed=1))
optimizer = dict(type="AdamW", lr=3e-2, weight_decay=0.01, paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
schedule = dict(type="cosine", warmup_iters=5, warmup_ratio=0.1, min_lr=1e-4)
train = dict(max_iters=60, log_interval=5, val_interval=30, ckpt_interval=10, keep_ckpts=2, seed=3)
evaluation = dict(metric=dict(type="ToyMSE"))
