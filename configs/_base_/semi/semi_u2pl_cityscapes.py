# U2PL on Cityscapes (mmseg layout), U2PL's split 1/16 (186 labeled, 2,789
# unlabeled), crop 769, for configs that inherit a full stock mmseg config
# (see configs/stock/README.md; keys start with `semi_`).
# Official recipe (configs/u2pl/README.md): mean teacher (EMA momentum
# max(1 / (n + 1), 0.01)) from the first iteration (no supervised warm-up
# on Cityscapes), alpha_0 = 20 %, CutMix p = 0.5, contrastive weight 0.1;
# 8 GPUs x (2 labeled + 2 unlabeled); 200 epochs = 200 x 174 = 34,800
# iterations; SGD lr 1e-2 on every parameter, momentum 0.9, weight decay
# 5e-4, poly 0.9. The official OHEM losses belong to the segmentor and are
# left to the stock config.
_base_ = ['./semi_data_cityscapes.py']
semi_split = 'cityscapes_u2pl/186'
semi_crop_size = (769, 769)
semi_max_iters = 34800
semi_val_interval = 1740
semi_iters_per_epoch = 174
semi_sup_only_iters = 0

semi_model = dict(
    type='U2PL',
    semi_train_cfg=dict(
        max_iters=semi_max_iters,
        iters_per_epoch=semi_iters_per_epoch,
        sup_only_iters=semi_sup_only_iters,
        alpha0=0.2,
        unsup_weight=1.0,
        contrast_weight=0.1,
        cutmix_prob=0.5,
        cutmix_area=0.5,
        rep_head=dict(type='ProjectionHead', channels=256, out_channels=256,
                      dropout_ratio=0.1),
        contrast=dict(
            queue_length=[50000] + [30000] * (_base_.semi_num_classes - 1),
            queue_dtype='float16',
            num_queries=256,
            num_negatives=50,
            temperature=0.5,
            low_rank=3,
            high_rank=20,
            low_entropy_threshold=20)),
    semi_test_cfg=dict(predict_on='teacher'))

# No photometric strong view: the strong perturbation is the model's CutMix.
semi_branch_field = ['sup', 'unsup_weak']
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
         unsup_weak=[dict(type='PackSemiSegInputs')]),
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

# The lr is for 8 GPUs x (2 + 2) = 32 images per iteration,
# labeled + unlabeled (stock configs: `auto_scale_lr =
# _base_.semi_auto_scale_lr`; tools/train.py --auto-scale-lr).
semi_auto_scale_lr = dict(enable=False, base_batch_size=32)

semi_train_loop = dict(type='SemiIterBasedTrainLoop',
                       max_iters=semi_max_iters,
                       val_interval=semi_val_interval)
semi_optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={
        'decode_head': dict(lr_mult=1.0),
        'auxiliary_head': dict(lr_mult=1.0),
        'rep_head': dict(lr_mult=1.0)
    }),
    clip_grad=None)
semi_param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=semi_max_iters,
         by_epoch=False)
]
# EMA of the parameters only (official).
semi_custom_hooks = [
    dict(type='EMATeacherHook', momentum=0.01, ramp_up=True,
         begin_iter=semi_sup_only_iters, update_buffers=False)
]
