# Supervised-only baseline, VOC blended split 1_8, crop 513x513.
# The stock segmentor trained on the 1323 labeled images alone (80 epochs
# with 4 GPUs x 2 images: 165 iterations per epoch, 13200 in total).
_base_ = ['./supervised_r101-d16_4xb2-80e_voc12-blended1-16-513x513.py']
train_dataloader = dict(
    dataset=dict(split_file='../../splits/pascal/1_8/labeled.txt'))
train_cfg = dict(max_iters=13200, val_interval=825)
default_hooks = dict(checkpoint=dict(interval=825))
