# Cityscapes, semi-supervised, crop 798 (a patch-14 ViT's 57x57 grid):
# semi_cityscapes.py with the crop-dependent training data.
_base_ = ['./semi_cityscapes.py']
from mmsemi.datasets.semi_pipelines import semi_train_data  # noqa: E402

globals().update(semi_train_data(_base_, crop_size=(798, 798)))
