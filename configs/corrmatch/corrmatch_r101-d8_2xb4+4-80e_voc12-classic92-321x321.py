# CorrMatch, VOC classic split 92, crop 321x321.
# 80 epochs over the 10490 unlabeled images with 2 GPUs x (4 labeled +
# 4 unlabeled): 1311 iterations per epoch, 104880 in total.
_base_ = ['./corrmatch_r101-d8_2xb4+4-80e_voc12-classic1464-321x321.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(_base_, '../../splits/pascal/92')
train_cfg = dict(max_iters=104880, val_interval=6555)
default_hooks = dict(checkpoint=dict(interval=6555))
