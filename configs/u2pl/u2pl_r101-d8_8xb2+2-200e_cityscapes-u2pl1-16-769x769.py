# U2PL, Cityscapes split 1/16 (186, U2PL splits), crop 769x769: the recipe
# of ../_base_/recipes/u2pl_cityscapes.py on DeepLabV3+ with ResNet-101
# (OHEM + 0.4 x auxiliary OHEM).
# 200 epochs over the 2789 unlabeled images with 8 GPUs x (2 labeled +
# 2 unlabeled): 174 iterations per epoch, 34800 in total; no
# supervised-only warm-up.
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8_u2pl_cityscapes.py',
    '../_base_/datasets/semi_cityscapes_769x769.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
    '../_base_/recipes/u2pl_cityscapes.py',
]
from mmsemi.datasets.semi_pipelines import semi_train_data  # noqa: E402
from mmsemi.utils.semi_config import semi_method  # noqa: E402

# No photometric strong view (the model's CutMix is the strong one).
globals().update(semi_train_data(_base_, branch_field=['sup', 'unsup_weak']))
# The segmentor (batches padded to the crop) wrapped by the recipe's
# method, with the recipe's optimiser, schedule, hooks and lr batch.
globals().update(semi_method(_base_))
train_dataloader = dict(dataset=dict(datasets=[
    dict(labeled_dataset,  # noqa: F821
         split_file='../splits/cityscapes_u2pl/186/labeled.txt'),
    dict(unlabeled_dataset,  # noqa: F821
         split_file='../splits/cityscapes_u2pl/186/unlabeled.txt'),
]))
train_cfg = dict(max_iters=34800, val_interval=1740)
default_hooks = dict(checkpoint=dict(interval=1740))
