# ADE20K, semi-supervised, crop 518 (a patch-14 ViT's 37x37 grid):
# semi_ade20k.py with the crop-dependent training data, evaluated at the
# original size rounded to a multiple of 14 (UniMatch V2).
_base_ = ['./semi_ade20k.py']
from mmsemi.datasets.semi_pipelines import patch14_semi_data  # noqa: E402

globals().update(patch14_semi_data(_base_, crop_size=(518, 518)))
