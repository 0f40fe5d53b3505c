# CSS (mix), Cityscapes split 1/4 (744, U2PL splits), crop
# 769x769; the recipe of
# css-mix_r101-d8_4xb4+4-80k_cityscapes-u2pl1-16-769x769.py.
# lambda_c ramp-down: floor(ceil(744 / 4) / 4) = 46 iterations per
# labeled epoch, off after 9200 iterations.
_base_ = ['./css-mix_r101-d8_4xb4+4-80k_cityscapes-u2pl1-16-769x769.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(
    _base_, '../splits/cityscapes_u2pl/744')
