# UniMatch V2, DINOv2-B, COCO split 1/128, crop 518x518.
# 20 epochs over the 117362 unlabeled images with 4 GPUs x (4 labeled +
# 4 unlabeled): 7335 iterations per epoch, 146700 in total.
_base_ = ['./unimatch-v2_dinov2-b-dpt_4xb4+4-20e_coco-1-32-518x518.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(_base_, '../splits/coco/1_128')
train_cfg = dict(max_iters=146700, val_interval=7335)
