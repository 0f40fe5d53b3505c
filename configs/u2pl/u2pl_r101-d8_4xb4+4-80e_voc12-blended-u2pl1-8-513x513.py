# U2PL, VOC blended split 1/8 (1323, U2PL splits), crop 513x513.
# 80 epochs over the 9259 unlabeled images with 4 GPUs x (4 labeled +
# 4 unlabeled): 578 iterations per epoch, 46240 in total; one
# supervised-only warm-up epoch (official default sup_only_epoch=1).
_base_ = ['./u2pl_r101-d8_4xb4+4-80e_voc12-classic1464-513x513.py']
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_dataset,
         split_file='../../splits/pascal/u2pl_1_8/labeled.txt'),
    dict(_base_.unlabeled_dataset,
         split_file='../../splits/pascal/u2pl_1_8/unlabeled.txt'),
]))
max_iters = 46240
val_interval = 2890
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
