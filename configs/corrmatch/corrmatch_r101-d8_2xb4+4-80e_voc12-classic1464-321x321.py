# CorrMatch, VOC classic split 1464, crop 321x321.
# 80 epochs over the 9118 unlabeled images with 2 GPUs x (4 labeled +
# 4 unlabeled): 1139 iterations per epoch, 91120 in total.
# Batch: the official VOC config sets 4 labeled + 4 unlabeled per GPU and
# the official script trains VOC-321 on 2 GPUs (spec D12; the paper says
# "batch size 16").
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8_corrmatch.py',
    '../_base_/datasets/semi_voc12_321x321.py',
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
        thresh_init=0.85,
        thresh_momentum=0.999,
        fixed_thresh=None,
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
# 4 labeled + 4 unlabeled images per GPU.
train_dataloader = dict(
    batch_size=8,
    sampler=dict(batch_size=8),
    dataset=dict(datasets=[
        dict(labeled_dataset,
             split_file='../../splits/pascal/1464/labeled.txt'),
        dict(unlabeled_dataset,
             split_file='../../splits/pascal/1464/unlabeled.txt'),
    ]))
# lr 1e-3 for the backbone, 10x for the decode head and the correlation
# branch (official lr_multi=10 on every non-backbone parameter).
optim_wrapper = dict(
    optimizer=dict(lr=0.001),
    paramwise_cfg=dict(custom_keys={
        'decode_head': dict(lr_mult=10.0),
        'corr_head': dict(lr_mult=10.0)
    }))
custom_hooks = [dict(type='DynamicThresholdHook')]
max_iters = 91120
val_interval = 5695
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
