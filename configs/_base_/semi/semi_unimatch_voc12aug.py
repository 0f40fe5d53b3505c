# UniMatch on Pascal VOC 2012 aug (mmseg layout), blended split 1/16 (662
# labeled, 9,920 unlabeled), crop 513, for configs that inherit a full
# stock mmseg config (see configs/stock/README.md; keys start with `semi_`).
# Official recipe (configs/unimatch/README.md): confidence threshold 0.95,
# two strong views with CutMix and a feature-perturbation stream; 4 GPUs x
# (2 labeled + 2 unlabeled); 80 epochs = 80 x 1,240 = 99,200 iterations;
# SGD lr 1e-3 on the backbone and 10x on the heads, momentum 0.9, weight
# decay 1e-4, poly 0.9 per iteration.
# Another split: override the two split files and the schedule length (see
# configs/stock/README.md).
_base_ = ['./semi_data_voc12aug.py']
semi_split = '1_16'
semi_crop_size = (513, 513)
semi_max_iters = 99200
semi_val_interval = 6200

semi_model = dict(
    type='UniMatch',
    semi_train_cfg=dict(conf_thresh=0.95),
    semi_test_cfg=dict(predict_on='student'))

semi_branch_field = ['sup', 'unsup_weak', 'unsup_strong1', 'unsup_strong2']
# Geometry once per image, so the weak and strong views stay pixel-aligned
# (UniMatch: rescale of the image's own long side in [0.5, 2.0], random
# crop, horizontal flip).
semi_geometric_pipeline = [
    dict(type='RandomRelativeResize', ratio_range=(0.5, 2.0)),
    dict(type='RandomCrop', crop_size=semi_crop_size, cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5),
]
semi_labeled_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='CheckSegLabel', num_classes=_base_.semi_num_classes),
    *semi_geometric_pipeline,
    dict(type='MultiBranch', branch_field=semi_branch_field,
         sup=[dict(type='PackSegInputs')]),
]
semi_unlabeled_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadUnlabeledAnnotations', with_gt=False),
    *semi_geometric_pipeline,
    dict(type='MultiBranch', branch_field=semi_branch_field,
         unsup_weak=[dict(type='PackSemiSegInputs')],
         unsup_strong1=_base_.semi_strong_pipeline,
         unsup_strong2=_base_.semi_strong_pipeline),
]
semi_train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='LabeledUnlabeledSampler', batch_size=4,
                 source_ratio=[1, 1]),
    dataset=dict(type='ConcatDataset', datasets=[
        dict(type=_base_.semi_dataset_type,
             data_root=_base_.semi_data_root,
             data_prefix=_base_.semi_data_prefix,
             seg_map_fallback=_base_.semi_seg_map_fallback,
             split_file=f'{_base_.semi_split_root}/{semi_split}/labeled.txt',
             pipeline=semi_labeled_pipeline),
        dict(type=_base_.semi_dataset_type,
             data_root=_base_.semi_data_root,
             data_prefix=_base_.semi_data_prefix,
             split_file=f'{_base_.semi_split_root}/{semi_split}/'
             'unlabeled.txt',
             with_label=False,
             pipeline=semi_unlabeled_pipeline),
    ]))

# The lr is for 4 GPUs x (2 + 2) = 16 images per iteration,
# labeled + unlabeled (stock configs: `auto_scale_lr =
# _base_.semi_auto_scale_lr`; tools/train.py --auto-scale-lr).
semi_auto_scale_lr = dict(enable=False, base_batch_size=16)

semi_train_loop = dict(type='SemiIterBasedTrainLoop',
                       max_iters=semi_max_iters,
                       val_interval=semi_val_interval)
# 10x on every head, as the official lr_multi on all non-backbone
# parameters (mmseg's auxiliary heads included).
semi_optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={
        'decode_head': dict(lr_mult=10.0),
        'auxiliary_head': dict(lr_mult=10.0)
    }),
    clip_grad=None)
semi_param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=semi_max_iters,
         by_epoch=False)
]
semi_custom_hooks = []
