# UniMatch V2, COCO split 1/32, crop 518x518: the recipe of
# ../_base_/recipes/unimatch_v2.py on DINOv2-B + UniMatch V2's DPT head.
# 20 epochs over the 114590 unlabeled images with 4 GPUs x (4 labeled +
# 4 unlabeled): 7162 iterations per epoch, 143240 in total; the
# student and the EMA teacher are validated every epoch (the best
# teacher is kept).
_base_ = [
    '../_base_/models/dinov2-b_dpt.py',
    '../_base_/datasets/semi_coco_518x518.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
    '../_base_/recipes/unimatch_v2.py',
]
from mmsemi.utils.semi_config import semi_method  # noqa: E402
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

globals().update(semi_method(_base_))
# 4 labeled + 4 unlabeled images per GPU.
train_dataloader = dict(
    split_train_dataloader(_base_, '../splits/coco/1_32'),
    batch_size=8, sampler=dict(batch_size=8))
train_cfg = dict(max_iters=143240, val_interval=7162)
