# UniMatch V2, DINOv2-B, COCO split 1/256, crop 518x518.
# 20 epochs over the 117824 unlabeled images with 4 GPUs x (4 labeled +
# 4 unlabeled): 7364 iterations per epoch, 147280 in total.
_base_ = ['./unimatch-v2_dinov2-b-dpt_4xb4+4-20e_coco-1-32-518x518.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(_base_, '../splits/coco/1_256')
train_cfg = dict(max_iters=147280, val_interval=7364)
