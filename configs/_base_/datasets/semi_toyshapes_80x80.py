# ToyShapes (embedded demo dataset), semi-supervised, crop 80:
# semi_toyshapes.py with the crop-dependent training pipelines, datasets
# and dataloader; the 96-px toy images are rescaled in [0.75, 1.5].
_base_ = ['./semi_toyshapes.py']
from mmsemi.datasets.semi_pipelines import semi_train_data  # noqa: E402

globals().update(
    semi_train_data(_base_, crop_size=(80, 80), ratio_range=(0.75, 1.5)))
