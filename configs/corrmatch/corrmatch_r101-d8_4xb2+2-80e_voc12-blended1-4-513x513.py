# CorrMatch, VOC blended split 1_4 (CPS/UniMatch splits, 1_4), crop 513x513.
# 80 epochs over the 7936 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 992 iterations per epoch, 79360 in total.
_base_ = ['./corrmatch_r101-d8_4xb2+2-80e_voc12-classic1464-513x513.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(_base_, '../../splits/pascal/1_4')
train_cfg = dict(max_iters=79360, val_interval=4960)
default_hooks = dict(checkpoint=dict(interval=4960))
