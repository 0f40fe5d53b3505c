# Runtime shared by all mmsemi configs: mmseg's runtime plus the package
# import that registers mmsemi's components into mmseg's registries.
_base_ = ['mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['mmsemi'], allow_failed_imports=False)
# The hooks live in `default_hooks` (a dict, so a method config's
# `default_hooks = dict(checkpoint=...)` merges into it) rather than in
# `custom_hooks` (a list, which a method config's own list would replace).
# Method configs set the checkpoint interval to their `val_interval`.
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=8000,
                    max_keep_ckpts=2, save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'),
    # Every label of the train (labeled), val and test sets is read once
    # before training/testing; opt out with `check_labels=dict(enabled=False)`
    # (mmengine does not accept None for a key it does not define itself).
    check_labels=dict(type='CheckDatasetLabelsHook'),
    # Stops on a NaN/Inf loss term before any checkpoint is written.
    finite_loss=dict(type='FiniteLossHook'),
    # Weak view, pseudo-label, kept pixels and confidence every `interval`
    # iterations to the visualizer's backends; off here, switched on with
    # `default_hooks = dict(pseudo_labels=dict(enabled=True))`.
    pseudo_labels=dict(type='PseudoLabelVisualizationHook', enabled=False,
                       interval=1000, max_images=4))
