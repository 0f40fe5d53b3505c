# CSS (mix) on Cityscapes (mmseg layout), U2PL's split 1/16 (186 labeled,
# 2,789 unlabeled), crop 769, for configs that inherit a full stock mmseg
# config (see configs/stock/README.md; keys start with `semi_`). The recipe
# of semi_css_voc12aug.py with the Cityscapes differences of the official
# code: 4 GPUs x (4 labeled + 4 unlabeled), labeled crops without
# rescaling, strong views rescaled in [0.5, 2.0], lambda_c over labeled
# epochs of floor(ceil(186 / 4) / 4) = 11 iterations. The official OHEM
# loss belongs to the segmentor and is left to the stock config.
_base_ = ['./semi_data_cityscapes.py']
semi_split = 'cityscapes_u2pl/186'
semi_crop_size = (769, 769)
semi_max_iters = 80000
semi_val_interval = 4000

semi_model = dict(
    type='CSS',
    semi_train_cfg=dict(
        pseudo_label='mix',
        unsup_weighting='reco_fraction',
        unsup_threshold=0.97,
        weak_threshold=0.7,
        indicator_temperature=0.5,
        contrast_weight=1.0,
        contrast_schedule='rampdown',
        rampdown_epochs=200,
        iters_per_epoch=11,
        strong_scale=(0.5, 2.0),
        rep_head=dict(type='ProjectionHead', channels=256, out_channels=256,
                      dropout_ratio=0.0),
        contrast=dict(num_anchors=256, num_negatives=512, temperature=0.5,
                      hard_threshold=0.8, tilt='sharp',
                      tilt_temperature=0.1, momentum=0.99)),
    semi_test_cfg=dict(predict_on='teacher'))

# Weak view: the crop only. Strong view: the official photometric part
# here, the geometric part (rescale, CutMix, flip) in the model.
semi_branch_field = ['sup', 'unsup_weak', 'unsup_strong']
semi_photometric = [
    dict(type='StrongColorJitter', brightness=0.25, contrast=0.25,
         saturation=0.25, hue=0.25, prob=0.8),
    dict(type='StrongGaussianBlur', sigma=(0.15, 1.15), prob=0.5),
]
semi_labeled_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='CheckSegLabel', num_classes=_base_.semi_num_classes),
    dict(type='RandomCrop', crop_size=semi_crop_size, cat_max_ratio=1.0),
    *semi_photometric,
    dict(type='RandomFlip', prob=0.5),
    dict(type='MultiBranch', branch_field=semi_branch_field,
         sup=[dict(type='PackSegInputs')]),
]
semi_unlabeled_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadUnlabeledAnnotations', with_gt=False),
    dict(type='RandomCrop', crop_size=semi_crop_size, cat_max_ratio=1.0),
    dict(type='MultiBranch', branch_field=semi_branch_field,
         unsup_weak=[dict(type='PackSemiSegInputs')],
         unsup_strong=[*semi_photometric, dict(type='PackSemiSegInputs')]),
]
semi_train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='LabeledUnlabeledSampler', batch_size=8,
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

# The lr is for 4 GPUs x (4 + 4) = 32 images per iteration,
# labeled + unlabeled (stock configs: `auto_scale_lr =
# _base_.semi_auto_scale_lr`; tools/train.py --auto-scale-lr).
semi_auto_scale_lr = dict(enable=False, base_batch_size=32)

semi_train_loop = dict(type='SemiIterBasedTrainLoop',
                       max_iters=semi_max_iters,
                       val_interval=semi_val_interval)
semi_optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.0064, momentum=0.9, weight_decay=5e-4,
                   nesterov=True),
    clip_grad=None)
semi_param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
         end=semi_max_iters, by_epoch=False)
]
# EMA of the parameters only (official), from the first iteration.
semi_custom_hooks = [
    dict(type='EMATeacherHook', momentum=0.01, ramp_up=True,
         update_buffers=False)
]
