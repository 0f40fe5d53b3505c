# U2PL, VOC classic split 1464, crop 513x513: the recipe of
# ../_base_/recipes/u2pl_voc12.py on DeepLabV3+ with ResNet-101.
# 80 epochs over the 9118 unlabeled images with 4 GPUs x (4 labeled +
# 4 unlabeled): 570 iterations per epoch, 45600 in total; one
# supervised-only warm-up epoch. The drop-rate schedule, its epoch and the
# warm-up come from the run (train_cfg.max_iters and the unlabeled loader);
# the EMA teacher starts after the warm-up.
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8_u2pl.py',
    '../_base_/datasets/semi_voc12_513x513.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
    '../_base_/recipes/u2pl_voc12.py',
]
from mmsemi.datasets.semi_pipelines import semi_train_data  # noqa: E402
from mmsemi.utils.semi_config import semi_method  # noqa: E402

# No photometric strong view: the unlabeled images get the weak (geometric)
# pipeline only; the strong perturbation is the model's CutMix.
globals().update(semi_train_data(_base_, branch_field=['sup', 'unsup_weak']))
# The segmentor (batches padded to the crop) wrapped by the recipe's
# method, with the recipe's optimiser, schedule, hooks and lr batch.
globals().update(semi_method(_base_))
# 4 labeled + 4 unlabeled images per GPU.
train_dataloader = dict(
    batch_size=8,
    sampler=dict(batch_size=8),
    dataset=dict(datasets=[
        dict(labeled_dataset,  # noqa: F821
             split_file='../../splits/pascal/u2pl_1464/labeled.txt'),
        dict(unlabeled_dataset,  # noqa: F821
             split_file='../../splits/pascal/u2pl_1464/unlabeled.txt'),
    ]))
train_cfg = dict(max_iters=45600, val_interval=2850)
default_hooks = dict(checkpoint=dict(interval=2850))
