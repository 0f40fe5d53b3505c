# U2PL, Cityscapes split 1/8 (372, U2PL splits), crop 769x769.
# 200 epochs over the 2603 unlabeled images with 8 GPUs x (2 labeled +
# 2 unlabeled): 163 iterations per epoch, 32600 in total; no
# supervised-only warm-up (official sup_only_epoch=0).
_base_ = ['./u2pl_r101-d8_8xb2+2-200e_cityscapes-u2pl1-16-769x769.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(
    _base_, '../splits/cityscapes_u2pl/372')
train_cfg = dict(max_iters=32600, val_interval=1630)
default_hooks = dict(checkpoint=dict(interval=1630))
