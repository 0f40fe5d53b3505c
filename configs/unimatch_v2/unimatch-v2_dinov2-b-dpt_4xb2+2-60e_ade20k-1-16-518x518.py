# UniMatch V2, ADE20K split 1/16, crop 518x518: the recipe of
# ../_base_/recipes/unimatch_v2_ade20k.py on DINOv2-B + UniMatch V2's DPT head.
# 60 epochs over the 18947 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 2368 iterations per epoch, 142080 in total; the
# student and the EMA teacher are validated every epoch (the best
# teacher is kept).
_base_ = [
    '../_base_/models/dinov2-b_dpt.py',
    '../_base_/datasets/semi_ade20k_518x518.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
    '../_base_/recipes/unimatch_v2_ade20k.py',
]
from mmsemi.utils.semi_config import semi_method  # noqa: E402
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

globals().update(semi_method(_base_))
train_dataloader = split_train_dataloader(_base_, '../../splits/ade20k/1_16')
train_cfg = dict(max_iters=142080, val_interval=2368)
