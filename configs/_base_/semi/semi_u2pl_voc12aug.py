# U2PL on Pascal VOC 2012 aug (mmseg layout), U2PL's blended split 1/16
# (662 labeled, 9,920 unlabeled), crop 513, for configs that inherit a full
# stock mmseg config (see configs/stock/README.md; keys start with `semi_`).
# Official recipe (configs/u2pl/README.md): mean teacher (EMA momentum
# max(1 / (n + 1), 0.01) after a one-epoch supervised warm-up), reliable /
# unreliable partition from alpha_0 = 20 %, CutMix p = 0.5, contrastive
# weight 0.1 with per-class queues; 4 GPUs x (4 labeled + 4 unlabeled);
# 80 epochs = 80 x 620 = 49,600 iterations; SGD lr 1e-3 on the backbone and
# 10x on the heads, momentum 0.9, weight decay 1e-4, poly 0.9.
_base_ = ['./semi_data_voc12aug.py']
semi_split = 'u2pl_1_16'
semi_crop_size = (513, 513)
semi_max_iters = 49600
semi_val_interval = 3100
semi_iters_per_epoch = 620
semi_sup_only_iters = 620

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
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={
        'decode_head': dict(lr_mult=10.0),
        'auxiliary_head': dict(lr_mult=10.0),
        'rep_head': dict(lr_mult=10.0)
    }),
    clip_grad=None)
semi_param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=semi_max_iters,
         by_epoch=False)
]
# EMA of the parameters only (official), after the warm-up.
semi_custom_hooks = [
    dict(type='EMATeacherHook', momentum=0.01, ramp_up=True,
         begin_iter=semi_sup_only_iters, update_buffers=False)
]
