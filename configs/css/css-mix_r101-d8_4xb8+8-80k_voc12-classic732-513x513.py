# CSS (mix), VOC classic split 732, crop 513x513; the recipe of
# css-mix_r101-d8_4xb8+8-80k_voc12-classic92-513x513.py.
# lambda_c ramp-down: floor(ceil(N_l / 4) / 8) = 22 iterations per
# labeled epoch, off after 4400 iterations.
_base_ = ['./css-mix_r101-d8_4xb8+8-80k_voc12-classic92-513x513.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(
    _base_, '../../splits/pascal/u2pl_732')
