# Cityscapes, semi-supervised, crop 801: semi_cityscapes.py with the
# crop-dependent training pipelines, datasets and dataloader.
_base_ = ['./semi_cityscapes.py']
from mmsemi.datasets.semi_pipelines import semi_train_data  # noqa: E402

globals().update(semi_train_data(_base_, crop_size=(801, 801)))
