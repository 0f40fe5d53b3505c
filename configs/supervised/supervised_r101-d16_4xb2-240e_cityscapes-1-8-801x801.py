# Supervised-only baseline, Cityscapes split 1_8, crop 801x801.
# The stock segmentor trained on the 372 labeled images alone (240 epochs
# with 4 GPUs x 2 images: 46 iterations per epoch, 11040 in total).
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d16_unimatch_cityscapes.py',
    '../_base_/datasets/semi_cityscapes_801x801.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
]
model = dict(data_preprocessor=dict(size=_base_.crop_size))
train_dataloader = dict(
    _delete_=True,
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_base_.labeled_dataset,
                 split_file='../splits/cityscapes/1_8/labeled.txt',
                 pipeline=_base_.sup_only_pipeline))
# The lr is for 4 GPUs x 2 labeled images (--auto-scale-lr).
auto_scale_lr = dict(enable=False, base_batch_size=8)
# Cityscapes: lr 0.005 for every parameter (no 10x head multiplier).
optim_wrapper = dict(
    optimizer=dict(lr=0.005),
    paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=1.0)}))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=11040,
                 val_interval=920)
default_hooks = dict(checkpoint=dict(interval=920))
