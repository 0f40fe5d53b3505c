# U2PL, Cityscapes split 1/16 (186, U2PL splits), crop 769x769.
# 200 epochs over the 2789 unlabeled images with 8 GPUs x (2 labeled +
# 2 unlabeled): 174 iterations per epoch, 34800 in total; no
# supervised-only warm-up (official sup_only_epoch=0).
# Official recipe (spec §8): SGD momentum 0.9, weight decay 5e-4, lr 0.01
# for every parameter (no decoder multiplier on Cityscapes), poly 0.9 per
# iteration; OHEM + 0.4 x auxiliary OHEM; 8 GPUs x (2 + 2) images.
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8_u2pl_cityscapes.py',
    '../_base_/datasets/semi_cityscapes_769x769.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
]
data_preprocessor = dict(_base_.data_preprocessor, size=_base_.crop_size)
segmentor = dict(_base_.model, data_preprocessor=data_preprocessor)
max_iters = 34800
iters_per_epoch = 174
sup_only_iters = 0
# alpha_0 = 20%, DPA per epoch; lambda_u adaptive x 1; CutMix p = 0.5 per
# batch, box of half the crop; contrastive weight 0.1 (paper appendix; the
# official effective weight is 1/#GPUs = 0.125 on 8 GPUs, see README).
model = dict(
    _delete_=True,
    type='U2PL',
    segmentor=segmentor,
    data_preprocessor=dict(type='MultiBranchSegDataPreprocessor',
                           data_preprocessor=data_preprocessor),
    semi_train_cfg=dict(
        max_iters=max_iters,
        iters_per_epoch=iters_per_epoch,
        sup_only_iters=sup_only_iters,
        alpha0=0.2,
        unsup_weight=1.0,
        contrast_weight=0.1,
        cutmix_prob=0.5,
        cutmix_area=0.5,
        rep_head=dict(type='ProjectionHead', channels=256, out_channels=256,
                      dropout_ratio=0.1),
        contrast=dict(
            # official capacities: 50000 for class 0, 30000 for the others;
            # fp16 ring buffers of normalised keys (spec §10)
            queue_length=[50000] + [30000] * 18,
            queue_dtype='float16',
            num_queries=256,
            num_negatives=50,
            temperature=0.5,
            low_rank=3,
            high_rank=20,
            low_entropy_threshold=20)),
    semi_test_cfg=dict(predict_on='teacher'))
# U2PL has no photometric strong view: the unlabeled images get the weak
# (geometric) pipeline only; the strong perturbation is the model's CutMix.
branch_field = ['sup', 'unsup_weak']
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
         unsup_weak=[dict(type='PackSemiSegInputs')]),
]
labeled_dataset = dict(_base_.labeled_dataset, pipeline=sup_pipeline)
unlabeled_dataset = dict(_base_.unlabeled_dataset, pipeline=unsup_pipeline)
# 2 labeled + 2 unlabeled images per GPU.
train_dataloader = dict(
    batch_size=4,
    sampler=dict(batch_size=4),
    dataset=dict(datasets=[
        dict(labeled_dataset,
             split_file='../splits/cityscapes_u2pl/186/labeled.txt'),
        dict(unlabeled_dataset,
             split_file='../splits/cityscapes_u2pl/186/unlabeled.txt'),
    ]))
optim_wrapper = dict(
    optimizer=dict(lr=0.01, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={
        'decode_head': dict(lr_mult=1.0),
        'rep_head': dict(lr_mult=1.0)
    }))
val_interval = 1740
custom_hooks = [
    dict(type='EMATeacherHook', momentum=0.01, ramp_up=True,
         begin_iter=sup_only_iters, update_buffers=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
