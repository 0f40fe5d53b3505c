# CSS (mix), VOC classic split 92, crop 513x513 (official 512): the recipe
# of ../_base_/recipes/css_voc12.py on DeepLabV3+ with ResNet-101.
# 4 GPUs x (8 labeled + 8 unlabeled), 80,000 iterations; lambda_c =
# exp(-5 (e / 200)^2) over labeled epochs e of the run's labeled loader,
# floor(ceil(N_l / 4) / 8) iterations (92 labels: 2 -> off after 400).
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8_css.py',
    '../_base_/datasets/semi_voc12_513x513.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
    '../_base_/recipes/css_voc12.py',
]
from mmsemi.datasets.semi_pipelines import css_train_pipelines  # noqa: E402
from mmsemi.utils.semi_config import semi_method  # noqa: E402

# The segmentor (batches padded to the crop) wrapped by the recipe's
# method, with the recipe's optimiser, schedule, hooks and lr batch.
globals().update(semi_method(_base_))
# The official augmentation: labeled images rescaled in [0.5, 1.5],
# cropped, photometric (ColorJitter 0.25 with p = 0.8, blur with p = 0.5),
# flipped; the weak view is the crop only, the strong view adds the
# photometric part here and the geometric part in the model.
labeled_scale = (0.5, 1.5)
globals().update(
    css_train_pipelines(_base_.crop_size, _base_.num_classes, labeled_scale))
labeled_dataset = dict(_base_.labeled_dataset,
                       pipeline=sup_pipeline)  # noqa: F821
unlabeled_dataset = dict(_base_.unlabeled_dataset,
                         pipeline=unsup_pipeline)  # noqa: F821
# 8 labeled + 8 unlabeled images per GPU.
train_dataloader = dict(
    batch_size=16,
    sampler=dict(batch_size=16),
    dataset=dict(datasets=[
        dict(labeled_dataset,
             split_file='../../splits/pascal/u2pl_92/labeled.txt'),
        dict(unlabeled_dataset,
             split_file='../../splits/pascal/u2pl_92/unlabeled.txt'),
    ]))
train_cfg = dict(max_iters=80000, val_interval=4000)
default_hooks = dict(checkpoint=dict(interval=4000))
