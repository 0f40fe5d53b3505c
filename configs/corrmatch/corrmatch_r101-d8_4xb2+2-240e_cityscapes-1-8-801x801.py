# CorrMatch, Cityscapes split 1_8, crop 801x801: the recipe of
# ../_base_/recipes/corrmatch_cityscapes.py on DeepLabV3+ with ResNet-101.
# 240 epochs over the 2603 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 325 iterations per epoch, 78000 in total.
# Batch: 2 + 2 per GPU on 4 GPUs (official Cityscapes config; spec D12).
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8_corrmatch_cityscapes.py',
    '../_base_/datasets/semi_cityscapes_801x801.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
    '../_base_/recipes/corrmatch_cityscapes.py',
]
from mmsemi.datasets.semi_pipelines import semi_train_data  # noqa: E402
from mmsemi.utils.semi_config import semi_method  # noqa: E402

# One strong view (spec D17).
globals().update(semi_train_data(
    _base_, branch_field=['sup', 'unsup_weak', 'unsup_strong1']))
# The segmentor (batches padded to the crop) wrapped by the recipe's
# method, with the recipe's optimiser, schedule, hooks and lr batch.
globals().update(semi_method(_base_))
train_dataloader = dict(dataset=dict(datasets=[
    dict(labeled_dataset,  # noqa: F821
         split_file='../splits/cityscapes/1_8/labeled.txt'),
    dict(unlabeled_dataset,  # noqa: F821
         split_file='../splits/cityscapes/1_8/unlabeled.txt'),
]))
train_cfg = dict(max_iters=78000, val_interval=6500)
default_hooks = dict(checkpoint=dict(interval=6500))
