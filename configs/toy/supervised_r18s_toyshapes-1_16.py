# Supervised-only baseline of the embedded demo: the slim DeepLabV3+ trained
# on the 1/16 labeled split of ToyShapes alone (8 images per iteration).
_base_ = [
    '../_base_/models/deeplabv3plus_r18s-d8_toy.py',
    '../_base_/datasets/semi_toyshapes_80x80.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
]
model = dict(data_preprocessor=dict(size=_base_.crop_size))
train_dataloader = dict(
    _delete_=True,
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_base_.labeled_dataset,
                 split_file='splits/1_16/labeled.txt',
                 pipeline=_base_.sup_only_pipeline))
# Fine-tuned from the stand-in backbone: backbone lr 0.005, 10x on the
# decode head (the base schedule's ratio).
optim_wrapper = dict(optimizer=dict(lr=0.005))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=600,
                 val_interval=600)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=600, save_best=None),
    visualization=dict(type='SegVisualizationHook', draw=False))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
