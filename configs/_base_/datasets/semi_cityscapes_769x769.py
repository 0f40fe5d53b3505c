# Cityscapes, semi-supervised, crop 769: semi_cityscapes.py with the
# crop-dependent training pipelines, datasets and dataloader. The recipes
# on this crop (U2PL: 8 GPUs x (2 + 2); CSS: 4 GPUs x (4 + 4)) have their
# lr for 32 images per iteration.
_base_ = ['./semi_cityscapes.py']
from mmsemi.datasets.semi_pipelines import semi_train_data  # noqa: E402

globals().update(semi_train_data(_base_, crop_size=(769, 769)))
auto_scale_lr = dict(base_batch_size=32)
