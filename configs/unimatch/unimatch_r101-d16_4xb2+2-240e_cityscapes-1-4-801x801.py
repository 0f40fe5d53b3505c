# UniMatch, Cityscapes split 1_4, crop 801x801.
# 240 epochs over the 2231 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 279 iterations per epoch, 66960 in total.
_base_ = ['./unimatch_r101-d16_4xb2+2-240e_cityscapes-1-8-801x801.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(_base_, '../splits/cityscapes/1_4')
train_cfg = dict(max_iters=66960, val_interval=5580)
default_hooks = dict(checkpoint=dict(interval=5580))
