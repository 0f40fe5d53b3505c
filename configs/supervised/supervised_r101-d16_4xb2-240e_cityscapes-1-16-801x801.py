# Supervised-only baseline, Cityscapes split 1_16, crop 801x801.
# The stock segmentor trained on the 186 labeled images alone (240 epochs
# with 4 GPUs x 2 images: 23 iterations per epoch, 5520 in total).
_base_ = ['./supervised_r101-d16_4xb2-240e_cityscapes-1-8-801x801.py']
train_dataloader = dict(
    dataset=dict(split_file='../splits/cityscapes/1_16/labeled.txt'))
train_cfg = dict(max_iters=5520, val_interval=460)
default_hooks = dict(checkpoint=dict(interval=460))
