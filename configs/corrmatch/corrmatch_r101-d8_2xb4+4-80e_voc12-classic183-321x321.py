# CorrMatch, VOC classic split 183, crop 321x321.
# 80 epochs over the 10399 unlabeled images with 2 GPUs x (4 labeled +
# 4 unlabeled): 1300 iterations per epoch, 104000 in total.
_base_ = ['./corrmatch_r101-d8_2xb4+4-80e_voc12-classic1464-321x321.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(_base_, '../../splits/pascal/183')
train_cfg = dict(max_iters=104000, val_interval=6500)
default_hooks = dict(checkpoint=dict(interval=6500))
