# RankMatch, ResNet-101, VOC classic split 732, crop 513x513.
# 80 epochs over the 9850 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 1231 iterations per epoch, 98480 in total.
_base_ = ['./rankmatch_r101-d16_4xb2+2-80e_voc12-classic1464-513x513.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(_base_, '../../splits/pascal/732')
train_cfg = dict(max_iters=98480, val_interval=6155)
default_hooks = dict(checkpoint=dict(interval=6155))
