# CSS (mix), Cityscapes split 1/16 (186, U2PL splits), crop 769x769: the
# recipe of ../_base_/recipes/css_cityscapes.py on DeepLabV3+ with
# ResNet-101 (OHEM supervised loss). 4 GPUs x (4 labeled + 4 unlabeled),
# 80,000 iterations (lr 6.4e-3; the paper says 3.8e-3); labeled images
# without rescaling; lambda_c over labeled epochs of the run's labeled
# loader, floor(ceil(186 / 4) / 4) = 11 iterations (off after 2,200).
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8_css_cityscapes.py',
    '../_base_/datasets/semi_cityscapes_769x769.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
    '../_base_/recipes/css_cityscapes.py',
]
from mmsemi.datasets.semi_pipelines import css_train_pipelines  # noqa: E402
from mmsemi.utils.semi_config import semi_method  # noqa: E402

# The segmentor (batches padded to the crop) wrapped by the recipe's
# method, with the recipe's optimiser, schedule, hooks and lr batch.
globals().update(semi_method(_base_))
globals().update(css_train_pipelines(_base_.crop_size, _base_.num_classes))
labeled_dataset = dict(_base_.labeled_dataset,
                       pipeline=sup_pipeline)  # noqa: F821
unlabeled_dataset = dict(_base_.unlabeled_dataset,
                         pipeline=unsup_pipeline)  # noqa: F821
# 4 labeled + 4 unlabeled images per GPU.
train_dataloader = dict(
    batch_size=8,
    sampler=dict(batch_size=8),
    dataset=dict(datasets=[
        dict(labeled_dataset,
             split_file='../splits/cityscapes_u2pl/186/labeled.txt'),
        dict(unlabeled_dataset,
             split_file='../splits/cityscapes_u2pl/186/unlabeled.txt'),
    ]))
train_cfg = dict(max_iters=80000, val_interval=4000)
default_hooks = dict(checkpoint=dict(interval=4000))
