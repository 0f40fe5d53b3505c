# CorrMatch, VOC classic split 1464, crop 513x513: the recipe of
# ../_base_/recipes/corrmatch_voc12.py on DeepLabV3+ with ResNet-101.
# 80 epochs over the 9118 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 1140 iterations per epoch, 91200 in total.
# Batch: VOC-513 was trained on 4 GPUs with 2 + 2 per GPU (maintainer,
# issues #2, #28; spec D12).
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8_corrmatch.py',
    '../_base_/datasets/semi_voc12_513x513.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
    '../_base_/recipes/corrmatch_voc12.py',
]
from mmsemi.datasets.semi_pipelines import semi_train_data  # noqa: E402
from mmsemi.utils.semi_config import semi_method  # noqa: E402

# CorrMatch has one strong view (spec D17): unlabeled samples branch into a
# weak and a single strong view (UniMatch's configs make two).
globals().update(semi_train_data(
    _base_, branch_field=['sup', 'unsup_weak', 'unsup_strong1']))
# The segmentor (batches padded to the crop) wrapped by the recipe's
# method, with the recipe's optimiser, schedule, hooks and lr batch.
# The correlation branch (training only) reads the last backbone stage
# (c4); region propagation runs the official sequential semantics on tiles
# of the feature grid.
globals().update(semi_method(_base_))
train_dataloader = dict(dataset=dict(datasets=[
    dict(labeled_dataset,  # noqa: F821
         split_file='../../splits/pascal/1464/labeled.txt'),
    dict(unlabeled_dataset,  # noqa: F821
         split_file='../../splits/pascal/1464/unlabeled.txt'),
]))
train_cfg = dict(max_iters=91200, val_interval=5700)
default_hooks = dict(checkpoint=dict(interval=5700))
