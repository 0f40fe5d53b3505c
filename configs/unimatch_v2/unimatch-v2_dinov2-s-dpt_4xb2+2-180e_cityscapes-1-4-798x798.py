# UniMatch V2, DINOv2-S, Cityscapes split 1/4, crop 798x798.
# 180 epochs over the 2231 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 279 iterations per epoch, 50220 in total.
_base_ = ['./unimatch-v2_dinov2-s-dpt_4xb2+2-180e_cityscapes-1-8-798x798.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(_base_, '../splits/cityscapes/1_4')
train_cfg = dict(max_iters=50220, val_interval=279)
