# mmsemi's safety hooks, the one definition for every route: the method
# configs get them from configs/_base_/semi_default_runtime.py, configs
# that inherit a full stock mmseg config (configs/stock, README "Using a
# stock mmseg config") from the semi_<method>_<data>.py base with
# `default_hooks = _base_.semi_default_hooks`, which merges them into the
# stock config's default_hooks (a dict: its timer, logger, checkpoint and
# visualization hooks stay, and the list of custom_hooks with a method's
# EMATeacherHook or DynamicThresholdHook is untouched).
# Switch one off with `default_hooks.<name>.enabled=False` (mmengine does
# not accept None for a key it does not define itself).
semi_default_hooks = dict(
    # Every label of the train (labeled), val and test sets is read once
    # before training/testing.
    check_labels=dict(type='CheckDatasetLabelsHook'),
    # Stops on a NaN/Inf loss term or model state before any checkpoint is
    # written.
    finite_loss=dict(type='FiniteLossHook'),
    # Weak view, pseudo-label, kept pixels and confidence every `interval`
    # iterations to the visualizer's backends; off here, switched on with
    # `default_hooks = dict(pseudo_labels=dict(enabled=True))`.
    pseudo_labels=dict(type='PseudoLabelVisualizationHook', enabled=False,
                       interval=1000, max_images=4))
