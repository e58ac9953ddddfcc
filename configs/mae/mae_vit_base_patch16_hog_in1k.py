# MAE ViT-B/16 with MaskFeat's HOG target (9 bins, 8x8 cells, per-patch (channel, bin, cell) vectors of
# 108 values; MSE on removed patches), everything else as the pixel recipe. gaussian_window=16 weights
# the magnitudes as HOGLayerC's option (MaskFeat's own model uses none).
_base_ = ["./mae_vit_base_patch16_in1k.py"]
model = dict(target=dict(type="hog", nbins=9, cell_size=8, gaussian_window=0))
