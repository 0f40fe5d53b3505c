# U2PL, VOC classic split 92, crop 513x513.
# 80 epochs over the 10490 unlabeled images with 4 GPUs x (4 labeled +
# 4 unlabeled): 655 iterations per epoch, 52400 in total; one
# supervised-only warm-up epoch (official default sup_only_epoch=1).
_base_ = ['./u2pl_r101-d8_4xb4+4-80e_voc12-classic1464-513x513.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(
    _base_, '../../splits/pascal/u2pl_92')
train_cfg = dict(max_iters=52400, val_interval=3275)
default_hooks = dict(checkpoint=dict(interval=3275))
