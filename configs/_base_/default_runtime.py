# Segmentation runtime: register jseg, print the per-class IoU table after each evaluation and save
# a picture grid image | ground truth | prediction of 4 validation images to work_dir/vis/.
custom_imports = ["jseg"]
custom_hooks = [dict(type="SegVisualizationHook", num_images=4, num_overlays=0)]
