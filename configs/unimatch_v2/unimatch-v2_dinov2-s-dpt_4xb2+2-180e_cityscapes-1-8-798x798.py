# UniMatch V2, Cityscapes split 1/8, crop 798x798: the recipe of
# ../_base_/recipes/unimatch_v2_cityscapes.py on DINOv2-S + UniMatch V2's
# DPT head.
# 180 epochs over the 2603 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 325 iterations per epoch, 58500 in total; the
# student and the EMA teacher are validated every epoch (the best
# teacher is kept).
_base_ = [
    '../_base_/models/dinov2-s_dpt.py',
    '../_base_/datasets/semi_cityscapes_798x798.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
    '../_base_/recipes/unimatch_v2_cityscapes.py',
]
from mmsemi.utils.semi_config import semi_method  # noqa: E402
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

globals().update(semi_method(_base_))
train_dataloader = split_train_dataloader(_base_, '../splits/cityscapes/1_8')
train_cfg = dict(max_iters=58500, val_interval=325)
