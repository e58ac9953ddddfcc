# MAE ViT-B/16 reconstructing CLIP ViT-B/16 features of the removed patches (a "strong target": MILAN
# / EVA style distillation): the CLIP image tower, frozen, from OpenAI's ViT-B-16.pt (TorchScript, read
# without torch), an open_clip or a Hugging Face checkpoint; its projected, LayerNorm-normalised patch
# tokens (14x14 at 224, the student's grid) are the targets; loss 1 - cosine on removed patches.
# The student sees ImageNet-normalised pixels; the teacher gets them re-normalised with CLIP's mean/std.
#   python tools/train.py configs/mae/mae_vit_base_patch16_clip_in1k.py \
#       --cfg-options model.target.checkpoint=/path/to/ViT-B-16.pt
_base_ = ["./mae_vit_base_patch16_in1k.py"]
model = dict(target=dict(
    type="teacher", model=dict(type="clip_vit_b16", tokens="projected"), checkpoint="checkpoints/ViT-B-16.pt",
    input_mean=(123.675, 116.28, 103.53), input_std=(58.395, 57.12, 57.375),
    teacher_mean=(122.7709, 116.7460, 104.0937), teacher_std=(68.5005, 66.6322, 70.3232),   # CLIP's, x255
    loss="cosine", normalize="layernorm"))
