# Supervised-only baseline, Cityscapes split 1_2, crop 801x801.
# The stock segmentor trained on the 1488 labeled images alone (240 epochs
# with 4 GPUs x 2 images: 186 iterations per epoch, 44640 in total).
_base_ = ['./supervised_r101-d16_4xb2-240e_cityscapes-1-8-801x801.py']
train_dataloader = dict(
    dataset=dict(split_file='../splits/cityscapes/1_2/labeled.txt'))
train_cfg = dict(max_iters=44640, val_interval=3720)
default_hooks = dict(checkpoint=dict(interval=3720))
