# Supervised-only baseline, VOC classic split 1464, crop 321x321.
# The stock segmentor trained on the 1464 labeled images alone (80 epochs
# with 4 GPUs x 2 images: 183 iterations per epoch, 14640 in total).
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d16_unimatch.py',
    '../_base_/datasets/semi_voc12_321x321.py',
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
                 split_file='../../splits/pascal/1464/labeled.txt',
                 pipeline=_base_.sup_only_pipeline))
# The lr is for 4 GPUs x 2 labeled images (--auto-scale-lr).
auto_scale_lr = dict(enable=False, base_batch_size=8)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=14640,
                 val_interval=915)
default_hooks = dict(checkpoint=dict(interval=915))
