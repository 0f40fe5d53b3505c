# CorrMatch, VOC classic split 366, crop 513x513.
# 80 epochs over the 10216 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 1277 iterations per epoch, 102160 in total.
_base_ = ['./corrmatch_r101-d8_4xb2+2-80e_voc12-classic1464-513x513.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(_base_, '../../splits/pascal/366')
train_cfg = dict(max_iters=102160, val_interval=6385)
default_hooks = dict(checkpoint=dict(interval=6385))
