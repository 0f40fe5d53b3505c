# Supervised-only baseline, VOC blended split 1_4, crop 513x513.
# The stock segmentor trained on the 2646 labeled images alone (80 epochs
# with 4 GPUs x 2 images: 331 iterations per epoch, 26480 in total).
_base_ = ['./supervised_r101-d16_4xb2-80e_voc12-blended1-16-513x513.py']
train_dataloader = dict(
    dataset=dict(split_file='../../splits/pascal/1_4/labeled.txt'))
train_cfg = dict(max_iters=26480, val_interval=1655)
default_hooks = dict(checkpoint=dict(interval=1655))
