# CSS (mix) on Cityscapes (mmseg layout), U2PL's split 1/16 (186 labeled,
# 2,789 unlabeled), crop 769, for configs that inherit a full stock mmseg
# config (see configs/stock/README.md; keys start with `semi_`). The recipe
# of ../recipes/css_cityscapes.py with the Cityscapes data of the official
# code: 4 GPUs x (4 labeled + 4 unlabeled), labeled crops without
# rescaling, strong views rescaled in [0.5, 2.0], lambda_c over labeled
# epochs of floor(ceil(186 / 4) / 4) = 11 iterations. The official OHEM
# loss belongs to the segmentor and is left to the stock config.
_base_ = ['./semi_data_cityscapes.py', '../recipes/css_cityscapes.py']
semi_split = 'cityscapes_u2pl/186'
semi_crop_size = (769, 769)
semi_max_iters = 80000
semi_val_interval = 4000

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
semi_train_loop = dict(type='SemiIterBasedTrainLoop',
                       max_iters=semi_max_iters,
                       val_interval=semi_val_interval)
