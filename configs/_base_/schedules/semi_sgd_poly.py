# UniMatch's optimisation: SGD (momentum 0.9, weight decay 1e-4 on every
# parameter), backbone lr 1e-3 and 10x on the decode head, poly decay to 0
# per iteration (a method's own recipe is in ../recipes/).
# train_cfg.max_iters is set by each config from its epoch count:
# max_iters = epochs * floor(ceil(N_unlabeled / GPUs) / unlabeled_per_GPU),
# the length of the official unlabeled loader (DistributedSampler,
# drop_last=True) times the epochs. The hooks (logger, checkpoint, label
# check, NaN guard) are in ../semi_default_runtime.py.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.0)}),
    clip_grad=None)
# No `end`: mmengine's Runner ends a scheduler without one at
# train_cfg.max_iters, so changing the length alone moves the decay.
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, by_epoch=False)
]
train_cfg = dict(
    type='SemiIterBasedTrainLoop', max_iters=80000, val_interval=8000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
