# CorrMatch, Cityscapes split 1_8, crop 801x801.
# 240 epochs over the 2603 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 325 iterations per epoch, 78000 in total.
# Batch: 2 + 2 per GPU on 4 GPUs (official Cityscapes config; spec D12).
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8_corrmatch_cityscapes.py',
    '../_base_/datasets/semi_cityscapes_801x801.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
]
data_preprocessor = dict(_base_.data_preprocessor, size=_base_.crop_size)
segmentor = dict(_base_.model, data_preprocessor=data_preprocessor)
# The correlation branch (training only) reads the last backbone stage
# (c4); D = number of classes. Region propagation runs the official
# sequential semantics on tiles of the feature grid (region_prop='tiled').
model = dict(
    _delete_=True,
    type='CorrMatch',
    segmentor=segmentor,
    data_preprocessor=dict(type='MultiBranchSegDataPreprocessor',
                           data_preprocessor=data_preprocessor),
    semi_train_cfg=dict(
        # Cityscapes: tau fixed to 0 (paper supp. B, issue #12).
        fixed_thresh=0.0,
        corr_head=dict(channels=256, dropout_ratio=0.1),
        num_shapes=128,
        region_prop='tiled',
        kl_target='weak_unmixed'),
    semi_test_cfg=dict(predict_on='student'))
# CorrMatch has one strong view (spec D17): unlabeled samples branch into a
# weak and a single strong view (UniMatch's configs make two).
branch_field = ['sup', 'unsup_weak', 'unsup_strong1']
sup_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='CheckSegLabel', num_classes=_base_.num_classes),
    *_base_.geometric_pipeline,
    dict(type='MultiBranch', branch_field=branch_field,
         sup=[dict(type='PackSegInputs')]),
]
unsup_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadUnlabeledAnnotations', with_gt=False),
    *_base_.geometric_pipeline,
    dict(type='MultiBranch', branch_field=branch_field,
         unsup_weak=[dict(type='PackSemiSegInputs')],
         unsup_strong1=_base_.strong_pipeline),
]
labeled_dataset = dict(_base_.labeled_dataset, pipeline=sup_pipeline)
unlabeled_dataset = dict(_base_.unlabeled_dataset, pipeline=unsup_pipeline)
# 2 labeled + 2 unlabeled images per GPU.
train_dataloader = dict(
    batch_size=4,
    sampler=dict(batch_size=4),
    dataset=dict(datasets=[
        dict(labeled_dataset,
             split_file='../splits/cityscapes/1_8/labeled.txt'),
        dict(unlabeled_dataset,
             split_file='../splits/cityscapes/1_8/unlabeled.txt'),
    ]))
# Cityscapes: lr 0.005 for every parameter (no 10x head multiplier).
optim_wrapper = dict(
    optimizer=dict(lr=0.005),
    paramwise_cfg=dict(custom_keys={
        'decode_head': dict(lr_mult=1.0),
        'corr_head': dict(lr_mult=1.0)
    }))
custom_hooks = [dict(type='DynamicThresholdHook')]
max_iters = 78000
val_interval = 6500
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
