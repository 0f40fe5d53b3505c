# U2PL, Cityscapes split 1/2 (1488, U2PL splits), crop 769x769.
# 200 epochs over the 1487 unlabeled images with 8 GPUs x (2 labeled +
# 2 unlabeled): 93 iterations per epoch, 18600 in total; no
# supervised-only warm-up (official sup_only_epoch=0).
_base_ = ['./u2pl_r101-d8_8xb2+2-200e_cityscapes-u2pl1-16-769x769.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(
    _base_, '../splits/cityscapes_u2pl/1488')
train_cfg = dict(max_iters=18600, val_interval=930)
default_hooks = dict(checkpoint=dict(interval=930))
