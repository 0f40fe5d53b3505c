# UniMatch, Cityscapes split 1_2, crop 801x801.
# 240 epochs over the 1487 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 186 iterations per epoch, 44640 in total.
_base_ = ['./unimatch_r101-d16_4xb2+2-240e_cityscapes-1-8-801x801.py']
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_dataset,
         split_file='../splits/cityscapes/1_2/labeled.txt'),
    dict(_base_.unlabeled_dataset,
         split_file='../splits/cityscapes/1_2/unlabeled.txt'),
]))
max_iters = 44640
val_interval = 3720
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
