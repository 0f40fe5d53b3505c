# CorrMatch, VOC blended split 1_4 (CPS/UniMatch splits, 1_4), crop 513x513.
# 80 epochs over the 7936 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 992 iterations per epoch, 79360 in total.
_base_ = ['./corrmatch_r101-d8_4xb2+2-80e_voc12-classic1464-513x513.py']
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_dataset,
         split_file='../../splits/pascal/1_4/labeled.txt'),
    dict(_base_.unlabeled_dataset,
         split_file='../../splits/pascal/1_4/unlabeled.txt'),
]))
max_iters = 79360
val_interval = 4960
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
