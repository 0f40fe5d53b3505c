# UniMatch, Cityscapes split 1_2, crop 801x801.
# 240 epochs over the 1487 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 186 iterations per epoch, 44640 in total.
_base_ = ['./unimatch_r101-d16_4xb2+2-240e_cityscapes-1-8-801x801.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(_base_, '../splits/cityscapes/1_2')
train_cfg = dict(max_iters=44640, val_interval=3720)
default_hooks = dict(checkpoint=dict(interval=3720))
