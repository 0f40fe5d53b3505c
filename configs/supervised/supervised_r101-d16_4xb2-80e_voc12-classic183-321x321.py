# Supervised-only baseline, VOC classic split 183, crop 321x321.
# The stock segmentor trained on the 183 labeled images alone (80 epochs
# with 4 GPUs x 2 images: 23 iterations per epoch, 1840 in total).
_base_ = ['./supervised_r101-d16_4xb2-80e_voc12-classic1464-321x321.py']
train_dataloader = dict(
    dataset=dict(split_file='../../splits/pascal/183/labeled.txt'))
train_cfg = dict(max_iters=1840, val_interval=115)
default_hooks = dict(checkpoint=dict(interval=115))
