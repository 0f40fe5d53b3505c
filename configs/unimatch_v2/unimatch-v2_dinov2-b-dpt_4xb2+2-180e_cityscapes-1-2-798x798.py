# UniMatch V2, DINOv2-B, Cityscapes split 1/2, crop 798x798.
# 180 epochs over the 1487 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 186 iterations per epoch, 33480 in total.
_base_ = ['./unimatch-v2_dinov2-b-dpt_4xb2+2-180e_cityscapes-1-8-798x798.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(_base_, '../splits/cityscapes/1_2')
train_cfg = dict(max_iters=33480, val_interval=186)
