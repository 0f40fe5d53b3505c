# UniMatch, VOC blended split 1_8, crop 513x513.
# 80 epochs over the 9259 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 1157 iterations per epoch, 92560 in total.
_base_ = ['./unimatch_r101-d16_4xb2+2-80e_voc12-blended1-16-513x513.py']
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_dataset,
         split_file='../../splits/pascal/1_8/labeled.txt'),
    dict(_base_.unlabeled_dataset,
         split_file='../../splits/pascal/1_8/unlabeled.txt'),
]))
max_iters = 92560
val_interval = 5785
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
