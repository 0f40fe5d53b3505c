# RankMatch, ResNet-101, VOC classic split 183, crop 513x513.
# 80 epochs over the 10399 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 1300 iterations per epoch, 104000 in total.
_base_ = ['./rankmatch_r101-d16_4xb2+2-80e_voc12-classic1464-513x513.py']
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_dataset,
         split_file='../../splits/pascal/183/labeled.txt'),
    dict(_base_.unlabeled_dataset,
         split_file='../../splits/pascal/183/unlabeled.txt'),
]))
max_iters = 104000
val_interval = 6500
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
