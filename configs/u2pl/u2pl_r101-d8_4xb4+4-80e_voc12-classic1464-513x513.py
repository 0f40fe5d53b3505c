# U2PL, VOC classic split 1464, crop 513x513.
# 80 epochs over the 9118 unlabeled images with 4 GPUs x (4 labeled +
# 4 unlabeled): 570 iterations per epoch, 45600 in total; one
# supervised-only warm-up epoch (official default sup_only_epoch=1).
# Official recipe (spec §8): SGD momentum 0.9, weight decay 1e-4, lr 1e-3
# on the backbone and 10x on the decoder and the representation head, poly
# 0.9 per iteration; 4 GPUs x (4 + 4) images (global batch 16).
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d8_u2pl.py',
    '../_base_/datasets/semi_voc12_513x513.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
]
data_preprocessor = dict(_base_.data_preprocessor, size=_base_.crop_size)
segmentor = dict(_base_.model, data_preprocessor=data_preprocessor)
max_iters = 45600
iters_per_epoch = 570
sup_only_iters = 570
# alpha_0 = 20% (drop_percent 80), DPA per epoch; lambda_u adaptive x 1;
# CutMix p = 0.5 per batch with a box of half the crop; contrastive weight
# 0.1 (paper appendix; the official code's effective weight is 1/#GPUs =
# 0.25 on 4 GPUs, see README).
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
            queue_length=[50000] + [30000] * 20,
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
# 4 labeled + 4 unlabeled images per GPU.
train_dataloader = dict(
    batch_size=8,
    sampler=dict(batch_size=8),
    dataset=dict(datasets=[
        dict(labeled_dataset,
             split_file='../../splits/pascal/u2pl_1464/labeled.txt'),
        dict(unlabeled_dataset,
             split_file='../../splits/pascal/u2pl_1464/unlabeled.txt'),
    ]))
# The lr is for 4 GPUs x (4 + 4) = 32 images (--auto-scale-lr).
auto_scale_lr = dict(enable=False, base_batch_size=32)
optim_wrapper = dict(
    optimizer=dict(lr=0.001, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={
        'decode_head': dict(lr_mult=10.0),
        'rep_head': dict(lr_mult=10.0)
    }))
val_interval = 2850
custom_hooks = [
    dict(type='EMATeacherHook', momentum=0.01, ramp_up=True,
         begin_iter=sup_only_iters, update_buffers=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
