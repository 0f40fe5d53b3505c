# RankMatch, ResNet-101, VOC classic split 732, crop 513x513.
# 80 epochs over the 9850 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 1231 iterations per epoch, 98480 in total.
_base_ = ['./rankmatch_r101-d16_4xb2+2-80e_voc12-classic1464-513x513.py']
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_dataset,
         split_file='../../splits/pascal/732/labeled.txt'),
    dict(_base_.unlabeled_dataset,
         split_file='../../splits/pascal/732/unlabeled.txt'),
]))
max_iters = 98480
val_interval = 6155
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
