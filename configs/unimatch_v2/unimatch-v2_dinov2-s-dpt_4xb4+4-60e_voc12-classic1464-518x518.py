# UniMatch V2, VOC classic split 1464, crop 518x518: the recipe of
# ../_base_/recipes/unimatch_v2_voc12.py on DINOv2-S + UniMatch V2's DPT head.
# 60 epochs over the 9118 unlabeled images with 4 GPUs x (4 labeled +
# 4 unlabeled): 570 iterations per epoch, 34200 in total; the
# student and the EMA teacher are validated every epoch (the best
# teacher is kept).
_base_ = [
    '../_base_/models/dinov2-s_dpt.py',
    '../_base_/datasets/semi_voc12_518x518.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
    '../_base_/recipes/unimatch_v2_voc12.py',
]
from mmsemi.utils.semi_config import semi_method  # noqa: E402
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

globals().update(semi_method(_base_))
# 4 labeled + 4 unlabeled images per GPU.
train_dataloader = dict(
    split_train_dataloader(_base_, '../../splits/pascal/1464'),
    batch_size=8, sampler=dict(batch_size=8))
train_cfg = dict(max_iters=34200, val_interval=570)
