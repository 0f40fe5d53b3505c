# U2PL, VOC classic split 92, crop 513x513.
# 80 epochs over the 10490 unlabeled images with 4 GPUs x (4 labeled +
# 4 unlabeled): 655 iterations per epoch, 52400 in total; one
# supervised-only warm-up epoch (official default sup_only_epoch=1).
_base_ = ['./u2pl_r101-d8_4xb4+4-80e_voc12-classic1464-513x513.py']
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_dataset,
         split_file='../../splits/pascal/u2pl_92/labeled.txt'),
    dict(_base_.unlabeled_dataset,
         split_file='../../splits/pascal/u2pl_92/unlabeled.txt'),
]))
max_iters = 52400
val_interval = 3275
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
