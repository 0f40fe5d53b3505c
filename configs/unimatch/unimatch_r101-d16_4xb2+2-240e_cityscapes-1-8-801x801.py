# UniMatch, Cityscapes split 1_8, crop 801x801: the recipe of
# ../_base_/recipes/unimatch_cityscapes.py on DeepLabV3+ with ResNet-101
# (OHEM supervised loss).
# 240 epochs over the 2603 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 325 iterations per epoch, 78000 in total.
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d16_unimatch_cityscapes.py',
    '../_base_/datasets/semi_cityscapes_801x801.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
    '../_base_/recipes/unimatch_cityscapes.py',
]
from mmsemi.utils.semi_config import semi_method  # noqa: E402
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

# The segmentor (batches padded to the crop) wrapped by the recipe's
# method, with the recipe's optimiser, schedule, hooks and lr batch.
globals().update(semi_method(_base_))
train_dataloader = split_train_dataloader(_base_, '../splits/cityscapes/1_8')
train_cfg = dict(max_iters=78000, val_interval=6500)
default_hooks = dict(checkpoint=dict(interval=6500))
