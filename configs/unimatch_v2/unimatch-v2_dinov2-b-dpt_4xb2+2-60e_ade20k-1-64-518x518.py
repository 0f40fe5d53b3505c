# UniMatch V2, DINOv2-B, ADE20K split 1/64, crop 518x518.
# 60 epochs over the 19894 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 2487 iterations per epoch, 149220 in total.
_base_ = ['./unimatch-v2_dinov2-b-dpt_4xb2+2-60e_ade20k-1-16-518x518.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(_base_, '../../splits/ade20k/1_64')
train_cfg = dict(max_iters=149220, val_interval=2487)
