# UniMatch, VOC blended split 1_16, crop 513x513: the recipe of
# ../_base_/recipes/unimatch_voc12.py on DeepLabV3+ with ResNet-101.
# 80 epochs over the 9920 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 1240 iterations per epoch, 99200 in total.
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d16_unimatch.py',
    '../_base_/datasets/semi_voc12_513x513.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
    '../_base_/recipes/unimatch_voc12.py',
]
from mmsemi.utils.semi_config import semi_method  # noqa: E402
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

# The segmentor (batches padded to the crop) wrapped by the recipe's
# method, with the recipe's optimiser, schedule, hooks and lr batch.
globals().update(semi_method(_base_))
train_dataloader = split_train_dataloader(_base_, '../../splits/pascal/1_16')
train_cfg = dict(max_iters=99200, val_interval=6200)
default_hooks = dict(checkpoint=dict(interval=6200))
