# CorrMatch, VOC classic split 92, crop 513x513.
# 80 epochs over the 10490 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 1311 iterations per epoch, 104880 in total.
_base_ = ['./corrmatch_r101-d8_4xb2+2-80e_voc12-classic1464-513x513.py']
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_dataset,
         split_file='../../splits/pascal/92/labeled.txt'),
    dict(_base_.unlabeled_dataset,
         split_file='../../splits/pascal/92/unlabeled.txt'),
]))
max_iters = 104880
val_interval = 6555
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
