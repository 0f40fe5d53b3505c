# U2PL, Cityscapes split 1/8 (372, U2PL splits), crop 769x769.
# 200 epochs over the 2603 unlabeled images with 8 GPUs x (2 labeled +
# 2 unlabeled): 163 iterations per epoch, 32600 in total; no
# supervised-only warm-up (official sup_only_epoch=0).
_base_ = ['./u2pl_r101-d8_8xb2+2-200e_cityscapes-u2pl1-16-769x769.py']
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_dataset,
         split_file='../splits/cityscapes_u2pl/372/labeled.txt'),
    dict(_base_.unlabeled_dataset,
         split_file='../splits/cityscapes_u2pl/372/unlabeled.txt'),
]))
max_iters = 32600
val_interval = 1630
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
