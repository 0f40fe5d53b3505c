# Pascal VOC 2012, semi-supervised, crop 513: semi_voc12.py with the
# crop-dependent training pipelines, datasets and dataloader.
_base_ = ['./semi_voc12.py']
from mmsemi.datasets.semi_pipelines import semi_train_data  # noqa: E402

globals().update(semi_train_data(_base_, crop_size=(513, 513)))
