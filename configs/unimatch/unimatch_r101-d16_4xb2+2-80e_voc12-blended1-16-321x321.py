# UniMatch, VOC blended split 1_16, crop 321x321.
# 80 epochs over the 9920 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 1240 iterations per epoch, 99200 in total.
_base_ = ['./unimatch_r101-d16_4xb2+2-80e_voc12-classic1464-321x321.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(_base_, '../../splits/pascal/1_16')
train_cfg = dict(max_iters=99200, val_interval=6200)
default_hooks = dict(checkpoint=dict(interval=6200))
