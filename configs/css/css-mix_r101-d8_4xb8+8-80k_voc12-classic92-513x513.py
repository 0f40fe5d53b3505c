# CSS (mix), VOC classic split 92, crop 513x513 (official 512).
# Official recipe (spec §6, released mix script): 4 GPUs x (8 labeled + 8
# unlabeled), 80,000 iterations, SGD (Nesterov, momentum 0.9, weight decay
# 5e-4) with lr 6.4e-3 on every parameter, poly 0.9 per iteration with a
# 1e-4 floor; EMA teacher (parameters only, decay min(1 - 1 / (t + 1),
# 0.99), train-mode BN); delta_u 0.97, delta_w 0.7, delta_s 0.8, tau 0.5;
# 256 anchors per class, 512 negatives per anchor, prototype EMA 0.99;
# lambda_c = exp(-5 (e / 200)^2) over labeled epochs e of
# floor(ceil(N_l / 4) / 8) iterations (92 labels: 2 -> off after 400).
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8_css.py',
    '../_base_/datasets/semi_voc12_513x513.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
]
data_preprocessor = dict(_base_.data_preprocessor, size=_base_.crop_size)
segmentor = dict(_base_.model, data_preprocessor=data_preprocessor)
max_iters = 80000
val_interval = 4000
iters_per_epoch = 2
model = dict(
    _delete_=True,
    type='CSS',
    segmentor=segmentor,
    data_preprocessor=dict(type='MultiBranchSegDataPreprocessor',
                           data_preprocessor=data_preprocessor),
    semi_train_cfg=dict(
        pseudo_label='mix',
        unsup_weighting='reco_fraction',
        unsup_threshold=0.97,
        weak_threshold=0.7,
        indicator_temperature=0.5,
        unsup_weight=1.0,
        contrast_weight=1.0,
        contrast_schedule='rampdown',
        rampdown_epochs=200,
        iters_per_epoch=iters_per_epoch,
        strong_scale=(0.5, 1.5),
        cutmix_prob=1.0,
        cutmix_area=0.5,
        flip_prob=0.5,
        rep_head=dict(type='ProjectionHead', channels=256, out_channels=256,
                      dropout_ratio=0.0),
        contrast=dict(
            num_anchors=256,
            num_negatives=512,
            temperature=0.5,
            hard_threshold=0.8,
            # working tilt (README): the official indicator at tau 0.5
            # never reaches delta_s = 0.8; tilt='official' reproduces it
            tilt='sharp',
            tilt_temperature=0.1,
            momentum=0.99)),
    semi_test_cfg=dict(predict_on='teacher'))
branch_field = ['sup', 'unsup_weak', 'unsup_strong']
# official photometric augmentation (labeled images and strong view):
# ColorJitter(0.25, 0.25, 0.25, 0.25) with p = 0.8, blur with p = 0.5
photometric = [
    dict(type='StrongColorJitter', brightness=0.25, contrast=0.25,
         saturation=0.25, hue=0.25, prob=0.8),
    dict(type='StrongGaussianBlur', sigma=(0.15, 1.15), prob=0.5),
]
labeled_scale = (0.5, 1.5)
sup_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='CheckSegLabel', num_classes=_base_.num_classes),
    dict(type='RandomRelativeResize', ratio_range=labeled_scale),
    dict(type='RandomCrop', crop_size=_base_.crop_size, cat_max_ratio=1.0),
    *photometric,
    dict(type='RandomFlip', prob=0.5),
    dict(type='MultiBranch', branch_field=branch_field,
         sup=[dict(type='PackSegInputs')]),
]
# weak view: the random crop only; the strong view adds the photometric
# part here and the geometric part (rescale, CutMix, flip) in the model
unsup_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadUnlabeledAnnotations', with_gt=False),
    dict(type='RandomCrop', crop_size=_base_.crop_size, cat_max_ratio=1.0),
    dict(type='MultiBranch', branch_field=branch_field,
         unsup_weak=[dict(type='PackSemiSegInputs')],
         unsup_strong=[*photometric, dict(type='PackSemiSegInputs')]),
]
labeled_dataset = dict(_base_.labeled_dataset, pipeline=sup_pipeline)
unlabeled_dataset = dict(_base_.unlabeled_dataset, pipeline=unsup_pipeline)
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
# The lr is for 4 GPUs x (8 + 8) = 64 images (--auto-scale-lr).
auto_scale_lr = dict(enable=False, base_batch_size=64)
optim_wrapper = dict(
    optimizer=dict(lr=0.0064, momentum=0.9, weight_decay=5e-4,
                   nesterov=True),
    paramwise_cfg=dict(custom_keys={
        'decode_head': dict(lr_mult=1.0),
        'rep_head': dict(lr_mult=1.0)
    }))
custom_hooks = [
    dict(type='EMATeacherHook', momentum=0.01, ramp_up=True,
         update_buffers=False)
]
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
