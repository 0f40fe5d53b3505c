# Supervised-only baseline, Cityscapes split 1_4, crop 801x801.
# The stock segmentor trained on the 744 labeled images alone (240 epochs
# with 4 GPUs x 2 images: 93 iterations per epoch, 22320 in total).
_base_ = ['./supervised_r101-d16_4xb2-240e_cityscapes-1-8-801x801.py']
train_dataloader = dict(
    dataset=dict(split_file='../splits/cityscapes/1_4/labeled.txt'))
train_cfg = dict(max_iters=22320, val_interval=1860)
default_hooks = dict(checkpoint=dict(interval=1860))
