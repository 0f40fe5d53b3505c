# Supervised-only baseline, VOC blended split 1_16, crop 321x321.
# The stock segmentor trained on the 662 labeled images alone (80 epochs
# with 4 GPUs x 2 images: 83 iterations per epoch, 6640 in total).
_base_ = ['./supervised_r101-d16_4xb2-80e_voc12-classic1464-321x321.py']
train_dataloader = dict(
    dataset=dict(split_file='../../splits/pascal/1_16/labeled.txt'))
train_cfg = dict(max_iters=6640, val_interval=415)
default_hooks = dict(checkpoint=dict(interval=415))
