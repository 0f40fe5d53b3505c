# Runtime shared by all mmsemi configs: mmseg's runtime plus the package
# import that registers mmsemi's components into mmseg's registries.
_base_ = [
    'mmseg::_base_/default_runtime.py', './semi/semi_default_hooks.py'
]
custom_imports = dict(imports=['mmsemi'], allow_failed_imports=False)
# The hooks live in `default_hooks` (a dict, so a method config's
# `default_hooks = dict(checkpoint=...)` merges into it) rather than in
# `custom_hooks` (a list, which a method config's own list would replace).
# Method configs set the checkpoint interval to their `val_interval`.
# mmsemi's label check, NaN guard and pseudo-label pictures
# (`check_labels`, `finite_loss`, `pseudo_labels`) come from
# semi/semi_default_hooks.py, which the stock-config route uses as well.
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=8000,
                    max_keep_ckpts=2, save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'),
    **_base_.semi_default_hooks)
