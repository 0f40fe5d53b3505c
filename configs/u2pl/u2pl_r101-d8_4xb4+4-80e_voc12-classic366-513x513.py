# U2PL, VOC classic split 366, crop 513x513.
# 80 epochs over the 10216 unlabeled images with 4 GPUs x (4 labeled +
# 4 unlabeled): 638 iterations per epoch, 51040 in total; one
# supervised-only warm-up epoch (official default sup_only_epoch=1).
_base_ = ['./u2pl_r101-d8_4xb4+4-80e_voc12-classic1464-513x513.py']
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_dataset,
         split_file='../../splits/pascal/u2pl_366/labeled.txt'),
    dict(_base_.unlabeled_dataset,
         split_file='../../splits/pascal/u2pl_366/unlabeled.txt'),
]))
max_iters = 51040
val_interval = 3190
iters_per_epoch = 638
sup_only_iters = 638
model = dict(semi_train_cfg=dict(
    max_iters=max_iters, iters_per_epoch=iters_per_epoch,
    sup_only_iters=sup_only_iters))
# EMA of the parameters only (official; the teacher's BN statistics come
# from its own train-mode passes): decay min(1 - 1 / (n + 1), 0.99) n
# iterations after the warm-up, i.e. momentum max(1 / (n + 1), 0.01).
custom_hooks = [
    dict(type='EMATeacherHook', momentum=0.01, ramp_up=True,
         begin_iter=sup_only_iters, update_buffers=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
